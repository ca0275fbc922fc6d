/**
 * Turns the selection into results: manifest → model file → sample image →
 * engine → analysis → store. The only module that calls the engine; the
 * views only read what it puts in the store (DESIGN.md §3).
 */
import { modelFromSafetensors, type CrateModel } from '../engine/model.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import { analyseImage } from './analyse.ts';
import { probeAdapter } from './adapter.ts';
import { parseManifest, type Manifest, type ManifestModel } from './manifest.ts';
import { useApp, type AppState, type ModelSummary, type RunResult } from './store.ts';
import { quote } from './urlState.ts';

const MODELS_URL = `${import.meta.env.BASE_URL}models/`;

export class LoadError extends Error {
  override name = 'LoadError';
}

/** Fetches a file, reporting the downloaded fraction where the server sends a length. */
async function fetchBytes(url: string, onProgress: (fraction: number | undefined) => void): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new LoadError(`could not fetch ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new LoadError(`could not fetch ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  // A dev server answers a missing file with its index page; say so instead of failing to parse HTML.
  if ((response.headers.get('content-type') ?? '').includes('text/html')) {
    throw new LoadError(`${url} is missing (the server sent an HTML page instead)`);
  }
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body || !total) {
    onProgress(undefined);
    return new Uint8Array(await response.arrayBuffer());
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.byteLength;
    onProgress(Math.min(received / total, 1));
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Decodes an image file to RGBA exactly as stored: no colour conversion, no premultiplication. */
async function decodeImage(bytes: Uint8Array, url: string): Promise<RgbaImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as BlobPart]), {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch (error) {
    throw new LoadError(`could not decode the image ${url}: ${(error as Error).message}`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new LoadError('this browser gave no 2D canvas to decode images with');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { width, height, data } = context.getImageData(0, 0, canvas.width, canvas.height);
  return { width, height, data };
}

function summarise(id: string, model: CrateModel): ModelSummary {
  const { config, shape } = model;
  return {
    id,
    imageSize: [shape.imageHeight, shape.imageWidth],
    patchSize: config.patch_size,
    channels: config.channels,
    tokens: shape.tokens,
    dim: config.dim,
    depth: config.depth,
    heads: config.heads,
    dimHead: config.dim_head,
    numClasses: config.num_classes,
  };
}

const nextFrame = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

type Store = typeof useApp;

/** Starts everything; returns a function that stops listening to the store. */
export function startPipeline(store: Store = useApp): () => void {
  const models = new Map<string, Promise<CrateModel>>();
  let generation = 0;

  void probeAdapter().then((adapter) => store.setState({ adapter }));

  const loadModel = (entry: ManifestModel, onProgress: (fraction: number | undefined) => void) => {
    let promise = models.get(entry.id);
    if (!promise) {
      promise = fetchBytes(MODELS_URL + entry.file, onProgress).then((bytes) => {
        try {
          return modelFromSafetensors(bytes);
        } catch (error) {
          throw new LoadError(`${entry.file} is not a usable CRATE model: ${(error as Error).message}`);
        }
      });
      promise.catch(() => models.delete(entry.id));
      models.set(entry.id, promise);
    }
    return promise;
  };

  /** Makes the selection point at things that exist, with a notice for each correction. */
  const reconcile = (manifest: Manifest, s: AppState): boolean => {
    const entry = manifest.models.find((m) => m.id === s.model);
    if (!entry) {
      const fallback = manifest.models[0];
      s.notify([`there is no model ${quote(s.model)}; showing ${quote(fallback.id)}`]);
      store.setState({ model: fallback.id, sample: 0, layer: 0 });
      return false;
    }
    if (s.sample >= entry.samples.length) {
      s.notify([`model ${quote(entry.id)} has ${entry.samples.length} samples, so sample ${s.sample} does not exist; showing sample 0`]);
      store.setState({ sample: 0 });
      return false;
    }
    return true;
  };

  const run = async (manifest: Manifest) => {
    const s = store.getState();
    if (!reconcile(manifest, s)) return; // the correction triggers another run
    const entry = manifest.models.find((m) => m.id === s.model)!;
    const sampleIndex = s.sample;
    const current = store.getState().run;
    if (current.status === 'ready' && current.value.modelId === entry.id && current.value.sampleIndex === sampleIndex) return;
    const mine = ++generation;
    const stale = () => mine !== generation;
    const progress = (message: string, fraction?: number) => {
      if (!stale()) store.setState({ run: { status: 'loading', message, fraction } });
    };
    try {
      progress(`Downloading ${entry.file}…`, 0);
      const model = await loadModel(entry, (f) => progress(`Downloading ${entry.file}…`, f));
      if (stale()) return;
      const sample = entry.samples[sampleIndex];
      progress(`Decoding sample ${quote(sample.label)}…`);
      const url = MODELS_URL + sample.file;
      const image = await decodeImage(await fetchBytes(url, () => {}), url);
      if (stale()) return;
      progress(`Running ${model.config.depth} layers on the CPU reference engine…`);
      await nextFrame();
      const start = performance.now();
      const { top, layers } = analyseImage(model, image);
      const millis = performance.now() - start;
      if (stale()) return;
      const result: RunResult = {
        modelId: entry.id,
        sampleIndex,
        model: summarise(entry.id, model),
        top,
        layers,
        millis,
        engine: 'CPU reference',
      };
      const { layer } = store.getState();
      if (layer >= model.config.depth) {
        store.getState().notify([`model ${quote(entry.id)} has ${model.config.depth} layers, so layer ${layer} does not exist; showing layer 0`]);
      }
      store.setState({ run: { status: 'ready', value: result }, layer: layer >= model.config.depth ? 0 : layer });
    } catch (error) {
      if (stale()) return;
      const message = error instanceof Error ? error.message : String(error);
      store.setState({ run: { status: 'error', message } });
    }
  };

  const loadManifest = async () => {
    store.setState({ manifest: { status: 'loading', message: 'Loading the list of models…' } });
    try {
      const bytes = await fetchBytes(`${MODELS_URL}manifest.json`, () => {});
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch (error) {
        throw new LoadError(`models/manifest.json is not valid JSON: ${(error as Error).message}`);
      }
      const manifest = parseManifest(json);
      store.setState({ manifest: { status: 'ready', value: manifest } });
      void run(manifest);
    } catch (error) {
      const message = `Could not load the model list: ${error instanceof Error ? error.message : String(error)}`;
      store.setState({ manifest: { status: 'error', message }, run: { status: 'error', message } });
    }
  };

  const unsubscribe = store.subscribe((s, previous) => {
    if (s.manifest.status !== 'ready') return;
    if (s.model !== previous.model || s.sample !== previous.sample) void run(s.manifest.value);
  });
  void loadManifest();
  return unsubscribe;
}
