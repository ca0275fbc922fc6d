/**
 * Turns the selection into results: manifest → model file → sample image →
 * engine → analysis → store. The only module that calls the engines; the
 * views only read what it puts in the store (DESIGN.md §3).
 */
import { imageToTensor, type RgbaImage } from '../engine/preprocess.ts';
import { ENGINE_LABELS, maxRelativeDeviation, type EngineKind, type ModelRunner } from '../engine/runner.ts';
import { probeAdapter } from './adapter.ts';
import { analyseOutputs } from './analyse.ts';
import { createRunner, planEngines } from './engines.ts';
import { fetchBytes, LoadError, type ByteProgress } from './fetchBytes.ts';
import { parseManifest, type Manifest, type ManifestModel } from './manifest.ts';
import { parseModelFile, type LoadedModel } from './modelFile.ts';
import { atlasCell, decodePng, maskCell, type DecodedAtlas } from './sampleSet.ts';
import { useApp, type AppState, type ModelSummary, type RunResult } from './store.ts';
import { isModelUrl, quote } from './urlState.ts';

const MODELS_URL = `${import.meta.env.BASE_URL}models/`;

type Store = typeof useApp;

/** Where a model comes from: a manifest entry, or a URL from a shared link. */
interface ModelSource {
  key: string;
  name: string;
  url: string;
  expectedBytes?: number;
  /** The manifest entry whose samples are shown (for a hosted model: the first with the same channel count). */
  samplesFrom?: ManifestModel;
}

function summarise(source: ModelSource, loaded: LoadedModel): ModelSummary {
  const { config, shape } = loaded.model;
  return {
    id: source.key,
    name: source.name,
    bytes: loaded.bytes,
    card: loaded.card,
    labels: config.labels,
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

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

const nextFrame = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Starts everything; returns a function that stops listening to the store. */
export function startPipeline(store: Store = useApp): () => void {
  const models = new Map<string, Promise<LoadedModel>>();
  const atlases = new Map<string, Promise<DecodedAtlas>>();
  /** Runners for the model in use only: switching models disposes the old model's GPU buffers and sessions. */
  let runners: { key: string; byKind: Map<EngineKind, Promise<ModelRunner>> } = { key: '', byKind: new Map() };
  let generation = 0;
  /** The last model that loaded; a model that fails to load falls back to it. */
  let lastGoodModel: string | undefined;

  const adapterReady = probeAdapter().then((adapter) => {
    store.setState({ adapter });
    return adapter;
  });

  const loadModel = (source: ModelSource, onProgress: (p: ByteProgress) => void) => {
    let promise = models.get(source.key);
    if (!promise) {
      promise = fetchBytes(source.url, { cache: true, expectedBytes: source.expectedBytes, onProgress }).then((bytes) => {
        try {
          return parseModelFile(source.url, bytes);
        } catch (error) {
          throw new LoadError(`${source.name} is not a usable CRATE model: ${(error as Error).message}`);
        }
      });
      promise.catch(() => models.delete(source.key));
      models.set(source.key, promise);
    }
    return promise;
  };

  const loadAtlas = (file: string, set: NonNullable<ManifestModel['samples']>) => {
    let promise = atlases.get(file);
    if (!promise) {
      promise = fetchBytes(MODELS_URL + file, { cache: true }).then(async (bytes) => ({ set, pixels: await decodePng(bytes, file) }));
      promise.catch(() => atlases.delete(file));
      atlases.set(file, promise);
    }
    return promise;
  };

  const runnerFor = (key: string, kind: EngineKind, loaded: LoadedModel): Promise<ModelRunner> => {
    if (runners.key !== key) {
      const old = runners.byKind;
      runners = { key, byKind: new Map() };
      for (const runner of old.values()) void runner.then((r) => r.dispose()).catch(() => {});
    }
    let runner = runners.byKind.get(kind);
    if (!runner) {
      runner = createRunner(kind, loaded, (message) => store.getState().notify([message]));
      runner.catch(() => runners.byKind.delete(kind));
      runners.byKind.set(kind, runner);
    }
    return runner;
  };

  /** The model the selection names, or a notice and a correction. */
  const resolveSource = (manifest: Manifest, s: AppState): ModelSource | undefined => {
    if (isModelUrl(s.model)) {
      const samplesFrom = manifest.models.find((m) => m.samples) ?? manifest.models[0];
      return { key: s.model, name: s.model, url: s.model, samplesFrom };
    }
    const entry = manifest.models.find((m) => m.id === s.model);
    if (!entry) {
      const fallback = lastGoodModel ?? manifest.defaultModel;
      s.notify([`there is no model ${quote(s.model)}; showing ${quote(fallback)}`]);
      store.setState({ model: fallback, sample: 0 });
      return undefined;
    }
    return { key: entry.id, name: entry.name, url: MODELS_URL + entry.file, expectedBytes: entry.bytes, samplesFrom: entry };
  };

  const sampleOf = async (source: ModelSource, index: number): Promise<{ image: RgbaImage; label?: number; mask?: Uint8Array } | 'out-of-range'> => {
    const set = source.samplesFrom?.samples;
    if (!set || set.count === 0) throw new LoadError(`model ${quote(source.name)} has no sample images`);
    if (index >= set.count) return 'out-of-range';
    const atlas = await loadAtlas(set.atlas, set);
    const mask = set.masks ? maskCell(await loadAtlas(set.masks, set), index) : undefined;
    return { image: atlasCell(atlas, index), label: set.labels[index], mask };
  };

  const compareEngines = async (mine: number, result: RunResult, loaded: LoadedModel, reference: EngineKind | undefined, input: Float32Array) => {
    if (!reference) {
      store.setState({ agreement: { status: 'error', message: 'no second engine can run this model, so there is nothing to compare with' } });
      return;
    }
    store.setState({ agreement: { status: 'loading', message: `Checking against ${ENGINE_LABELS[reference]}…` } });
    try {
      const runner = await runnerFor(result.modelId, reference, loaded);
      const start = performance.now();
      const other = await runner.run(input);
      const referenceMillis = performance.now() - start;
      if (mine !== generation) return;
      const deviation = maxRelativeDeviation(result.outputs, other);
      store.setState({ agreement: { status: 'ready', value: { engine: result.engine, reference, ...deviation, referenceMillis } } });
    } catch (error) {
      if (mine !== generation) return;
      store.setState({ agreement: { status: 'error', message: `${ENGINE_LABELS[reference]} failed: ${(error as Error).message}` } });
    }
  };

  const run = async (manifest: Manifest) => {
    const s = store.getState();
    const source = resolveSource(manifest, s);
    if (!source) return; // the correction triggers another run
    const sampleIndex = s.sample;
    const current = store.getState().run;
    const choice = s.engine;
    const mine = ++generation;
    const stale = () => mine !== generation;
    const progress = (message: string, extra: { fraction?: number; bytes?: { received: number; total?: number } } = {}) => {
      if (!stale()) store.setState({ run: { status: 'loading', message, ...extra } });
    };
    if (!(current.status === 'ready' && current.value.modelId === source.key)) {
      progress(`Downloading ${source.name}…`, { fraction: 0 });
    }
    let loaded: LoadedModel;
    try {
      loaded = await loadModel(source, ({ received, total, fromCache }) =>
        progress(fromCache ? `Loading ${source.name} from the browser cache…` : `Downloading ${source.name}…`, {
          fraction: total ? Math.min(received / total, 1) : undefined,
          bytes: { received, total },
        }),
      );
    } catch (error) {
      if (stale()) return;
      const message = error instanceof Error ? error.message : String(error);
      if (lastGoodModel && lastGoodModel !== source.key) {
        // Keep the current view: report the problem and go back to the model that works.
        store.getState().notify([`${message}; keeping ${quote(lastGoodModel)}`]);
        store.setState({ model: lastGoodModel });
        return;
      }
      store.setState({ run: { status: 'error', message } });
      return;
    }
    if (stale()) return;
    lastGoodModel = source.key;
    try {
      progress('Decoding the sample image…');
      const sample = await sampleOf(source, sampleIndex);
      if (stale()) return;
      if (sample === 'out-of-range') {
        store.getState().notify([`model ${quote(source.name)} has ${source.samplesFrom?.samples?.count ?? 0} samples, so sample ${sampleIndex} does not exist; showing sample 0`]);
        store.setState({ sample: 0 });
        return;
      }
      const adapter = await adapterReady;
      const plan = planEngines(choice, adapter, loaded);
      progress(`Running ${loaded.model.config.depth} layers on ${ENGINE_LABELS[plan.primary]}…`);
      await nextFrame();
      const input = imageToTensor(sample.image, loaded.model.config);
      let engine = plan.primary;
      let reason = plan.reason;
      let reference = plan.reference;
      let outputs;
      const start = performance.now();
      try {
        // Timestamp queries cost a compute pass per dispatch; the engine panel shows what they measure.
        outputs = await (await runnerFor(source.key, engine, loaded)).run(input, { profile: engine === 'wgsl' });
      } catch (error) {
        // An engine that fails (lost device, out of memory) must not blank the view: fall back and say so.
        const fallback: EngineKind = loaded.onnx && engine !== 'ort-wasm' ? 'ort-wasm' : 'cpu';
        if (engine === fallback) throw error;
        store.getState().notify([`${ENGINE_LABELS[engine]} failed (${(error as Error).message}); running ${ENGINE_LABELS[fallback]} instead`]);
        reason = `${ENGINE_LABELS[engine]} failed, so ${ENGINE_LABELS[fallback]} runs the model`;
        reference = engine === 'wgsl' ? 'cpu' : undefined;
        engine = fallback;
        outputs = await (await runnerFor(source.key, engine, loaded)).run(input);
      }
      const forwardMillis = performance.now() - start;
      if (stale()) return;
      const analysisStart = performance.now();
      const { top, layers } = analyseOutputs(loaded.model, outputs);
      const analysisMillis = performance.now() - analysisStart;
      const result: RunResult = {
        modelId: source.key,
        sampleIndex,
        model: summarise(source, loaded),
        image: sample.image,
        label: sample.label,
        mask: sample.mask,
        top,
        layers,
        outputs,
        forwardMillis,
        analysisMillis,
        engine,
        engineReason: reason,
      };
      const { layer } = store.getState();
      if (layer >= loaded.model.config.depth) {
        store.getState().notify([`model ${quote(source.name)} has ${loaded.model.config.depth} layers, so layer ${layer} does not exist; showing layer 0`]);
      }
      store.setState({ run: { status: 'ready', value: result }, layer: layer >= loaded.model.config.depth ? 0 : layer });
      void compareEngines(mine, result, loaded, reference, input);
    } catch (error) {
      if (stale()) return;
      const message = error instanceof Error ? error.message : String(error);
      store.setState({ run: { status: 'error', message } });
    }
  };

  const loadManifest = async () => {
    store.setState({ manifest: { status: 'loading', message: 'Loading the list of models…' } });
    try {
      const bytes = await fetchBytes(`${MODELS_URL}manifest.json`);
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
    if (s.model !== previous.model || s.sample !== previous.sample || s.engine !== previous.engine) void run(s.manifest.value);
  });
  void loadManifest();
  return unsubscribe;
}
