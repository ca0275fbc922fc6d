/**
 * Turns the selection into results: manifest → model file → image (a shipped
 * sample, or the user's upload or drawing) → engine → analysis → store. The
 * only module that calls the engines; the views only read what it puts in the
 * store, and leave requests there (a model file to open), docs/ARCHITECTURE.md
 *
 * Waits: every slow step sets a loading state with a message (and a fraction
 * where known), but only once it has lasted LOADING_DELAY_MS, so switching
 * between samples of a small model never flashes a progress bar.
 */
import type { GridSize } from '../analysis/attention.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import { checkFinite, NonFiniteOutputsError } from '../engine/outputCheck.ts';
import { ENGINE_LABELS, maxRelativeDeviation, type EngineKind, type ModelRunner } from '../engine/runner.ts';
import { probeAdapter } from '../runners/adapter.ts';
import { analyseOutputs } from '../analysis/analyseRun.ts';
import { datasetIoUs, datasetPlan, imageExtras, imageIoUs, runDataset, segmentationKey, summariseDataset, Yielder, type ImageRecord, type SegmentationSettings } from '../dataset/dataset.ts';
import { datasetProgress, datasetProgressText } from '../dataset/datasetProgress.ts';
import { applyStoredLabels } from '../models/labels.ts';
import { createRunner, forwardFlops, planEngines } from '../runners/engines.ts';
import { fetchBytes, LoadError, type ByteProgress } from '../fetching/fetchBytes.ts';
import { parseManifest, type Manifest, type ManifestModel } from '../models/manifest.ts';
import { modelInput } from '../image/inputPreprocessing.ts';
import { headChoices, LOCAL_MODEL_ID, openModelBytes, type LoadedModel, type OpenedModel } from '../models/modelFile.ts';
import { atlasCell, decodePng, maskCell, samplesFor, type DecodedAtlas } from '../models/sampleSet.ts';
import { collectSampleTensors, needsSampleTensors, SAMPLE_TENSOR_IMAGES } from '../dataset/sampleTensors.ts';
import { summarise } from '../models/modelSummary.ts';
import { useApp, type AppState, type Loadable, type LocalModelInfo, type ModelFileRequest, type RunResult } from '../state/store.ts';
import { isModelUrl, quote, type ImageSource } from '../state/urlState.ts';

const MODELS_URL = `${import.meta.env.BASE_URL}models/`;

/** A wait shorter than this shows no progress indicator at all (issue 6: no flashing for fast steps). */
export const LOADING_DELAY_MS = 300;

/**
 * Above this many FLOPs per forward pass the CPU reference is not run as the
 * second engine: it is synchronous TypeScript (≈ 1 GFLOP/s), and a CRATE-B
 * forward would freeze the page for many seconds.
 */
export const CPU_REFERENCE_FLOP_LIMIT = 2e9;

type Store = typeof useApp;

/** Where a model comes from: a manifest entry, a URL from a shared link, or a local file. */
interface ModelSource {
  key: string;
  name: string;
  url: string;
  expectedBytes?: number;
  /** The manifest entry whose samples are shown (for other models: the closest in channels and size). */
  samplesFrom?: ManifestModel;
  /** True when the samples' labels are this model's own (a manifest model): only then is accuracy meaningful. */
  ownSamples: boolean;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

const nextFrame = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

type LoadingState = Extract<Loadable<unknown>, { status: 'loading' }>;

/**
 * A loading indicator that appears only after LOADING_DELAY_MS: `update`
 * records the latest message (shown at once when the indicator is already
 * up), `done` cancels it. `apply` is skipped once the work is stale.
 */
function deferredLoading(apply: (state: LoadingState) => void, stale: () => boolean) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let shown = false;
  let pending: LoadingState | undefined;
  return {
    update(state: Omit<LoadingState, 'status'>) {
      if (stale()) return;
      pending = { status: 'loading', ...state };
      if (shown) {
        apply(pending);
        return;
      }
      timer ??= setTimeout(() => {
        timer = undefined;
        if (!stale() && pending) {
          shown = true;
          apply(pending);
        }
      }, LOADING_DELAY_MS);
    },
    done() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  };
}

/** Reads a local file with byte progress (a 90 MB checkpoint takes a moment even from disk). */
async function readBlob(file: Blob, onProgress: (received: number, total: number) => void): Promise<Uint8Array> {
  const total = file.size;
  if (!file.stream) return new Uint8Array(await file.arrayBuffer());
  const out = new Uint8Array(total);
  const reader = file.stream().getReader();
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.byteLength > total) throw new LoadError('the file grew while it was read');
    out.set(value, received);
    received += value.byteLength;
    onProgress(received, total);
  }
  return received === total ? out : out.subarray(0, received);
}

/** The state of the model in use, kept for dataset mode and the segmentation settings. */
interface Current {
  source: ModelSource;
  loaded: LoadedModel;
  engine: EngineKind;
  result: RunResult;
}

/** Starts everything; returns a function that stops listening to the store. */
export function startPipeline(store: Store = useApp): () => void {
  const models = new Map<string, Promise<LoadedModel>>();
  const atlases = new Map<string, Promise<DecodedAtlas>>();
  /** Runners for the model in use only: switching models disposes the old model's GPU buffers and sessions. */
  let runners: { key: string; byKind: Map<EngineKind, Promise<ModelRunner>> } = { key: '', byKind: new Map() };
  let generation = 0;
  /** The last model that loaded; a model that fails to load falls back to it. */
  let lastGoodModel: string | undefined;
  /** The model opened from a file (one at a time; a new file replaces it). */
  let local: { key: string; name: string; loaded: OpenedModel; request: ModelFileRequest; info: LocalModelInfo } | undefined;
  let localCount = 0;
  let current: Current | undefined;

  const adapterReady = probeAdapter().then((adapter) => {
    store.setState({ adapter });
    return adapter;
  });

  const loadModel = (source: ModelSource, onProgress: (p: ByteProgress) => void) => {
    let promise = models.get(source.key);
    if (!promise) {
      promise = fetchBytes(source.url, { cache: true, expectedBytes: source.expectedBytes, onProgress }).then(async (bytes) => {
        try {
          return await openModelBytes(source.url, bytes);
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
    if (s.model === LOCAL_MODEL_ID) {
      if (!local) {
        const fallback = lastGoodModel ?? manifest.defaultModel;
        s.notify([`the model was a file local to the sender's browser, so a link cannot carry it; showing ${quote(fallback)}`]);
        store.setState({ model: fallback });
        return undefined;
      }
      return { key: local.key, name: local.name, url: '', samplesFrom: samplesFor(manifest, local.loaded.model), ownSamples: false };
    }
    if (isModelUrl(s.model)) {
      return { key: s.model, name: s.model, url: s.model, samplesFrom: samplesFor(manifest, undefined), ownSamples: false };
    }
    const entry = manifest.models.find((m) => m.id === s.model);
    if (!entry) {
      const fallback = lastGoodModel ?? manifest.defaultModel;
      s.notify([`there is no model ${quote(s.model)}; showing ${quote(fallback)}`]);
      store.setState({ model: fallback, sample: 0 });
      return undefined;
    }
    return { key: entry.id, name: entry.name, url: MODELS_URL + entry.file, expectedBytes: entry.bytes, samplesFrom: entry, ownSamples: true };
  };

  const sampleOf = async (source: ModelSource, index: number): Promise<{ image: RgbaImage; label?: number; mask?: Uint8Array } | 'out-of-range'> => {
    const set = source.samplesFrom?.samples;
    if (!set || set.count === 0) throw new LoadError(`model ${quote(source.name)} has no sample images`);
    if (index >= set.count) return 'out-of-range';
    const atlas = await loadAtlas(set.atlas, set);
    // Another model's masks mean nothing for this one (issue 19, bug 3): no borrowed ground truth, so no borrowed IoU.
    const mask = set.masks && source.ownSamples ? maskCell(await loadAtlas(set.masks, set), index) : undefined;
    return { image: atlasCell(atlas, index), label: source.ownSamples ? set.labels[index] : undefined, mask };
  };
  /** A sample the set must have (dataset mode, the sample tensors): a missing one is an error. */
  const existingSample = async (source: ModelSource, index: number) => {
    const sample = await sampleOf(source, index);
    if (sample === 'out-of-range') throw new LoadError(`sample ${index} is missing from the set`);
    return sample;
  };

  const compareEngines = async (mine: number, result: RunResult, loaded: LoadedModel, reference: EngineKind | undefined, input: Float32Array) => {
    if (!reference) {
      store.setState({ agreement: { status: 'error', message: 'no second engine can run this model, so there is nothing to compare with' } });
      return;
    }
    const flops = forwardFlops(loaded.model);
    if (reference === 'cpu' && flops > CPU_REFERENCE_FLOP_LIMIT) {
      store.setState({
        agreement: {
          status: 'error',
          message: `the only second engine for this model is the CPU reference, which would freeze the page for a ${(flops / 1e9).toFixed(1)} GFLOP forward pass`,
        },
      });
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

  const segmentationOf = (s: AppState): SegmentationSettings => ({ seg: s.seg, p: s.p, tau: s.tau });

  const run = async (manifest: Manifest) => {
    const s = store.getState();
    // A link cannot carry an upload or a drawing: fall back to the sample the link names.
    if (s.source !== 'sample' && s.localImage?.source !== s.source) {
      s.notify([`the image was local to the sender's browser; showing sample ${s.sample} instead`]);
      store.setState({ source: 'sample' });
      return; // the correction triggers another run
    }
    const source = resolveSource(manifest, s);
    if (!source) return; // the correction triggers another run
    const sampleIndex = s.sample;
    const imageSource: ImageSource = s.source;
    const localImage = s.localImage;
    const choice = s.engine;
    const mine = ++generation;
    const stale = () => mine !== generation;
    const loading = deferredLoading((state) => store.setState({ run: state }), stale);
    const progress = (message: string, extra: { fraction?: number; bytes?: { received: number; total?: number } } = {}) => loading.update({ message, ...extra });
    try {
      await runNow();
    } finally {
      loading.done();
    }

    async function runNow() {
      progress(`Downloading ${source!.name}…`, { fraction: 0 });
      let loaded: LoadedModel;
      try {
        loaded = await loadModel(source!, ({ received, total, fromCache }) =>
          progress(fromCache ? `Loading ${source!.name} from the browser cache…` : `Downloading ${source!.name}…`, {
            fraction: total ? Math.min(received / total, 1) : undefined,
            bytes: { received, total },
          }),
        );
      } catch (error) {
        if (stale()) return;
        const message = error instanceof Error ? error.message : String(error);
        if (lastGoodModel && lastGoodModel !== source!.key) {
          // Keep the current view: report the problem and go back to the model that works.
          store.getState().notify([`${message}; keeping ${quote(lastGoodModel)}`]);
          store.setState({ model: lastGoodModel });
          return;
        }
        store.setState({ run: { status: 'error', message } });
        return;
      }
      if (stale()) return;
      if (!source!.ownSamples) source!.samplesFrom = samplesFor(manifest, loaded.model);
      // A local model is not a link target: falling back to it would put "local-file" in a link.
      if (source!.key !== local?.key) lastGoodModel = source!.key;
      try {
        let image: RgbaImage;
        let label: number | undefined;
        let mask: Uint8Array | undefined;
        if (imageSource === 'sample') {
          progress('Decoding the sample image…');
          const sample = await sampleOf(source!, sampleIndex);
          if (stale()) return;
          if (sample === 'out-of-range') {
            store.getState().notify([`model ${quote(source!.name)} has ${source!.samplesFrom?.samples?.count ?? 0} samples, so sample ${sampleIndex} does not exist; showing sample 0`]);
            store.setState({ sample: 0 });
            return;
          }
          ({ image, label, mask } = sample);
        } else {
          image = localImage!.image;
        }
        const adapter = await adapterReady;
        const plan = planEngines(choice, adapter, loaded);
        progress(`Running ${loaded.model.config.depth} layers on ${ENGINE_LABELS[plan.primary]}…`);
        await nextFrame();
        // The ImageNet evaluation transform, squash or the user's crop (inputPreprocessing.ts, docs/MEASUREMENTS.md §1.2);
        // the views overlay their maps on `shown`, the pixels the model sees.
        const { input, shown, applied } = modelInput(image, loaded.model.config, store.getState().prep);
        let engine = plan.primary;
        let reason = plan.reason;
        let reference = plan.reference;
        // The shown time is the run's alone: creating an engine (an ORT session takes seconds on a
        // first visit) is progress, not forward latency.
        const timedRun = async (kind: EngineKind, options?: Parameters<ModelRunner['run']>[1]) => {
          const runner = await runnerFor(source!.key, kind, loaded);
          const start = performance.now();
          const outputs = await runner.run(input, options);
          const forwardMillis = performance.now() - start;
          checkFinite(outputs); // before any measure sees a NaN (issue 20 #15)
          return { outputs, forwardMillis };
        };
        let timed: Awaited<ReturnType<typeof timedRun>>;
        try {
          // Timestamp queries cost a compute pass per dispatch; the engine panel shows what they measure.
          timed = await timedRun(engine, { profile: engine === 'wgsl' });
        } catch (error) {
          if (stale()) return;
          // An engine that fails (lost device, out of memory) must not blank the view: fall back and say so.
          const fallback: EngineKind = loaded.onnx && engine !== 'ort-wasm' ? 'ort-wasm' : 'cpu';
          // A NaN from our engines is the model's (they compute from its weights); one from ORT may be its graph's.
          if (engine === fallback || (error instanceof NonFiniteOutputsError && !engine.startsWith('ort-'))) throw error;
          store.getState().notify([`${ENGINE_LABELS[engine]} failed (${(error as Error).message}); running ${ENGINE_LABELS[fallback]} instead`]);
          reason = `${ENGINE_LABELS[engine]} failed, so ${ENGINE_LABELS[fallback]} runs the model`;
          reference = engine === 'wgsl' ? 'cpu' : undefined;
          engine = fallback;
          timed = await timedRun(engine);
        }
        const { outputs, forwardMillis } = timed;
        if (stale()) return;
        progress('Measuring every layer…');
        const analysisStart = performance.now();
        const { top, layers } = analyseOutputs(loaded.model, outputs);
        const truth = mask ? { mask, image: { height: image.height, width: image.width } } : undefined;
        const extras = await imageExtras(loaded.model, outputs, truth, segmentationOf(store.getState()));
        if (stale()) return;
        const analysisMillis = performance.now() - analysisStart;
        const result: RunResult = {
          modelId: source!.key,
          sampleIndex,
          model: summarise(source!, loaded),
          image: shown,
          preprocessing: applied,
          sourceImage: shown === image ? undefined : image,
          label,
          mask,
          top,
          layers: layers.map((l, i) => ({ ...l, ...extras.objective[i], paperRate: extras.paperRate[i], iou: extras.iou?.[i] })),
          outputs,
          forwardMillis,
          analysisMillis,
          engine,
          engineReason: reason,
          source: imageSource,
          inputName: imageSource === 'sample' ? undefined : localImage?.name,
          samplesFrom: source!.samplesFrom?.id,
        };
        // The user's class names for a model without its own (issue 19, models/labels.ts).
        applyStoredLabels(result);
        const { layer } = store.getState();
        if (layer >= loaded.model.config.depth) {
          store.getState().notify([`model ${quote(source!.name)} has ${loaded.model.config.depth} layers, so layer ${layer} does not exist; showing layer 0`]);
        }
        current = { source: source!, loaded, engine, result };
        const patch: Partial<AppState> = { run: { status: 'ready', value: result }, runProblem: undefined, layer: layer >= loaded.model.config.depth ? 0 : layer };
        if (local && source!.key === local.key && local.info.firstResultMillis === undefined) {
          local.info = { ...local.info, firstResultMillis: performance.now() - local.request.startedAt };
          patch.localModel = local.info;
        }
        store.setState(patch);
        void compareEngines(mine, result, loaded, reference, input);
      } catch (error) {
        if (stale()) return;
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof NonFiniteOutputsError) {
          // A result, not a crash: the view of the last image that had one stays (issue 20 #15).
          const what = imageSource === 'sample' ? `sample ${sampleIndex} on ${source!.name}` : `${localImage?.name ?? `your ${imageSource}`} on ${source!.name}`;
          if (current) {
            // The run may show progress by now: put the last result back, with the reason beside it.
            store.getState().notify([`no result for ${what}: ${message}`]);
            store.setState({ run: { status: 'ready', value: current.result }, runProblem: { what, message } });
            return;
          }
          store.setState({ run: { status: 'error', message: `No result for ${what}: ${message}` } });
          return;
        }
        store.setState({ run: { status: 'error', message } });
      }
    }
  };

  // ─── Model files (issue 8) ────────────────────────────────────────────────

  let fileGeneration = 0;
  const openFile = async (request: ModelFileRequest) => {
    const mine = ++fileGeneration;
    const stale = () => mine !== fileGeneration;
    const label = request.name.split(/[\\/]/).pop()!.slice(0, 80) || 'the file';
    const loading = deferredLoading((state) => store.setState({ modelFile: state }), stale);
    try {
      loading.update({ message: `Reading ${label}…`, fraction: 0, bytes: { received: 0, total: request.file.size } });
      const readStart = performance.now();
      const bytes = await readBlob(request.file, (received, total) =>
        loading.update({ message: `Reading ${label}…`, fraction: total ? received / total : undefined, bytes: { received, total } }),
      );
      const readMillis = performance.now() - readStart;
      if (stale()) return;
      const parseStart = performance.now();
      loading.update({ message: `Parsing ${label}…`, fraction: 0 });
      const opened = await openModelBytes(label, bytes, {
        heads: request.heads,
        onProgress: (done, total) => loading.update({ message: `Parsing ${label}…`, fraction: total ? done / total : undefined, bytes: { received: done, total } }),
      });
      const parseMillis = performance.now() - parseStart;
      if (stale()) return;
      const key = `${LOCAL_MODEL_ID}#${++localCount}`;
      models.set(key, Promise.resolve(opened));
      if (local) models.delete(local.key); // one local model at a time: its weights can be hundreds of MB
      const info: LocalModelInfo = {
        key,
        name: label,
        bytes: bytes.byteLength,
        format: opened.format,
        configFrom: opened.configFrom,
        notes: opened.notes,
        heads: opened.model.config.heads,
        headChoices: headChoices(opened.model),
        innerDim: opened.model.shape.innerDim,
        readMillis,
        parseMillis,
      };
      local = { key, name: label, loaded: opened, request, info };
      loading.done();
      // model → LOCAL_MODEL_ID (or a new key behind it) triggers the run through the subscription.
      store.setState({ modelFile: { status: 'ready', value: info }, localModel: info, model: LOCAL_MODEL_ID });
    } catch (error) {
      if (stale()) return;
      loading.done();
      const message = error instanceof Error ? error.message : String(error);
      const keeping = store.getState().run.status === 'ready' ? `; keeping ${quote(store.getState().model === LOCAL_MODEL_ID ? (local?.name ?? '') : store.getState().model)}` : '';
      // One line, and the current model and view stay as they are.
      store.getState().notify([`${message}${keeping}`]);
      store.setState({ modelFile: { status: 'error', message } });
    }
  };

  // ─── Dataset mode (issue 6) ───────────────────────────────────────────────

  let datasetGeneration = 0;
  /** The measured images of the last finished run, by model and engine, so toggling back is instant and new settings need no forward pass. */
  let datasetCache: { key: string; records: ImageRecord[]; accuracy: boolean; note?: string; segKey?: string } | undefined;
  let datasetRunningKey: string | undefined;
  // The preprocessing is part of the key: another choice (issue 16, inputPreprocessing.ts) gives other inputs.
  const datasetKeyOf = (c: Current) =>
    `${c.result.modelId}|${c.engine}|${c.source.samplesFrom?.id ?? ''}|${store.getState().datasetImages?.id ?? ''}|${c.result.preprocessing?.kind ?? ''}`;

  const publishDataset = async (cache: NonNullable<typeof datasetCache>, c: Current, mine: number) => {
    const settings = segmentationOf(store.getState());
    const ious = await datasetIoUs(c.loaded.model, cache.records, settings, new Yielder(), () => mine !== datasetGeneration);
    if (mine !== datasetGeneration) return;
    cache.segKey = segmentationKey(settings);
    store.setState({ datasetStats: { status: 'ready', value: summariseDataset(c.result.modelId, cache.records, ious, { accuracy: cache.accuracy, note: cache.note }) } });
  };

  const updateDataset = () => {
    const s = store.getState();
    if (!s.dataset) {
      if (datasetRunningKey !== undefined || s.datasetStats.status !== 'idle') {
        datasetGeneration++;
        datasetRunningKey = undefined;
        store.setState({ datasetStats: { status: 'idle' } });
      }
      return;
    }
    const c = current;
    if (!c || s.run.status !== 'ready' || s.run.value !== c.result) return; // waits for the model's first result
    const key = datasetKeyOf(c);
    if (datasetRunningKey === key) return;
    if (datasetCache?.key === key) {
      const stats = s.datasetStats;
      if (stats.status === 'ready' && stats.value.modelId === c.result.modelId && datasetCache.segKey === segmentationKey(segmentationOf(s))) return;
      void publishDataset(datasetCache, c, ++datasetGeneration);
      return;
    }
    void startDataset(c, key);
  };

  const startDataset = async (c: Current, key: string) => {
    const mine = ++datasetGeneration;
    datasetRunningKey = key;
    const stale = () => mine !== datasetGeneration;
    const loading = deferredLoading((state) => store.setState({ datasetStats: state }), stale);
    try {
      // The user's own images when they brought some (issue 19), else the model's sample set.
      const own = store.getState().datasetImages;
      const set = c.source.samplesFrom?.samples;
      if (!own && (!set || set.count === 0)) throw new LoadError(`model ${quote(c.source.name)} has no sample set to average over`);
      const adapter = await adapterReady;
      const plan = datasetPlan(own ? own.images.length : set!.count, adapter);
      const ownNote = own && `your ${own.images.length} images${own.skipped.length ? ` (${own.skipped.length} file${own.skipped.length === 1 ? '' : 's'} skipped)` : ''}, with no labels or masks, so there is no accuracy and no IoU`;
      const notes = [plan.note, own ? ownNote : c.source.ownSamples ? undefined : `no samples ship with this model: these are stand-in images from ${c.source.samplesFrom!.name}, with no labels or masks for it, so there is no accuracy and no IoU`];
      const note = notes.filter(Boolean).join('; ') || undefined;
      loading.update({ message: `Dataset: running ${plan.count} images on ${ENGINE_LABELS[c.engine]}…`, fraction: 0 });
      const runner = await runnerFor(c.result.modelId, c.engine, c.loaded);
      const started = performance.now();
      const records = await runDataset({
        model: c.loaded.model,
        prep: store.getState().prep,
        count: plan.count,
        sample: async (i) => {
          if (own) return { image: own.images[i] };
          return existingSample(c.source, i);
        },
        forward: (input) => runner.run(input),
        // Images done, time per image and time left (issue 19: long runs had no estimate).
        onProgress: (done, total) => loading.update({ message: datasetProgressText(datasetProgress(done, total, performance.now() - started), ENGINE_LABELS[c.engine]), fraction: done / total }),
        cancelled: stale,
      });
      if (!records || stale()) return;
      datasetCache = { key, records, accuracy: c.source.ownSamples && !own, note };
      loading.done();
      await publishDataset(datasetCache, c, mine);
    } catch (error) {
      if (stale()) return;
      store.setState({ datasetStats: { status: 'error', message: `Dataset mode failed: ${error instanceof Error ? error.message : String(error)}` } });
    } finally {
      loading.done();
      if (datasetRunningKey === key && mine === datasetGeneration) datasetRunningKey = undefined;
    }
  };

  /** New seg/P/τ: the current image's IoUs (cheap: one image) and the dataset's, from kept maps. */
  const updateSegmentation = () => {
    const s = store.getState();
    const c = current;
    if (c && s.run.status === 'ready' && s.run.value === c.result && c.result.mask) {
      const truth = { mask: c.result.mask, image: { height: c.result.image.height, width: c.result.image.width } as GridSize };
      const ious = imageIoUs(c.loaded.model, c.result.outputs, truth, segmentationOf(s));
      // Same RunResult object, new layers array: the views cache their figures per RunResult (derived.ts),
      // and a new P or τ must not recompute attention maps or PCA; a new `run` wrapper still notifies them.
      c.result.layers = c.result.layers.map((l, i) => ({ ...l, iou: ious[i] }));
      store.setState({ run: { status: 'ready', value: c.result } });
    }
    updateDataset();
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

  // A few samples' tensors for the views that compare images (sampleTensors.ts, issue 15): only while one is shown.
  let sampleTensorsGeneration = 0;
  let sampleTensorsRunning: string | undefined;
  const sampleTensorsKeyOf = (c: Current) => `${datasetKeyOf(c)}|${c.source.ownSamples}`;
  const updateSampleTensors = () => {
    const s = store.getState();
    const c = current;
    if (!needsSampleTensors(s) || !c || s.run.status !== 'ready' || s.run.value !== c.result) return;
    const key = sampleTensorsKeyOf(c);
    if (sampleTensorsRunning === key || (s.sampleTensors.status === 'ready' && s.sampleTensors.value.key === key)) return;
    const mine = ++sampleTensorsGeneration;
    sampleTensorsRunning = key;
    // Another sample of the same model keeps these tensors; another model, engine or set makes them stale.
    const stale = () => mine !== sampleTensorsGeneration || !current || sampleTensorsKeyOf(current) !== key;
    const count = Math.min(SAMPLE_TENSOR_IMAGES, c.source.samplesFrom?.samples?.count ?? 0);
    void (async () => {
      try {
        if (count === 0) throw new LoadError(`model ${quote(c.source.name)} has no sample images to compare`);
        store.setState({ sampleTensors: { status: 'loading', message: `Running ${count} sample images…`, fraction: 0 } });
        const runner = await runnerFor(c.result.modelId, c.engine, c.loaded);
        const value = await collectSampleTensors({
          key,
          modelId: c.result.modelId,
          model: c.loaded.model,
          prep: store.getState().prep,
          count,
          sample: (i) => existingSample(c.source, i),
          forward: (input) => runner.run(input),
          cancelled: stale,
          onProgress: (done, total) => store.setState({ sampleTensors: { status: 'loading', message: `Running sample image ${done} of ${total}…`, fraction: done / total } }),
        });
        if (value && !stale()) store.setState({ sampleTensors: { status: 'ready', value } });
      } catch (error) {
        if (!stale()) store.setState({ sampleTensors: { status: 'error', message: `Could not run the sample images: ${error instanceof Error ? error.message : String(error)}` } });
      } finally {
        if (sampleTensorsRunning === key && mine === sampleTensorsGeneration) sampleTensorsRunning = undefined;
      }
    })();
  };

  const unsubscribe = store.subscribe((s, previous) => {
    if (s.modelFileRequest && s.modelFileRequest !== previous.modelFileRequest) void openFile(s.modelFileRequest);
    if (s.manifest.status !== 'ready') return;
    const rerun =
      s.model !== previous.model ||
      s.sample !== previous.sample ||
      s.engine !== previous.engine ||
      s.source !== previous.source ||
      s.prep !== previous.prep ||
      (s.source !== 'sample' && s.localImage !== previous.localImage) ||
      (s.model === LOCAL_MODEL_ID && s.localModel?.key !== previous.localModel?.key);
    if (rerun) void run(s.manifest.value);
    if (s.seg !== previous.seg || s.p !== previous.p || s.tau !== previous.tau) updateSegmentation();
    else if (s.dataset !== previous.dataset || s.run !== previous.run || s.datasetImages !== previous.datasetImages) updateDataset();
    if (s.view !== previous.view || s.pca !== previous.pca || s.run !== previous.run) updateSampleTensors();
  });
  void loadManifest();
  return unsubscribe;
}
