/**
 * The compute worker's side of ComputeApi (computeApi.ts): the parsed
 * models, the runner pool, the last run of the model in use and the last
 * dataset, and the code that turns a request into measured results
 * (docs/ARCHITECTURE.md, "The worker boundary").
 *
 * Everything it touches from outside comes in through ComputeDeps, so the
 * unit tests run it in Node with a fake fetch and fake runners: a superseded
 * request is cancelled, an engine failure falls back, a model switch in the
 * middle of a run is handled (test/unit/computeService.test.ts).
 */
import type { ImageFigureComputer } from '../analysis/analyseRun.ts';
import { checkFinite, NonFiniteOutputsError } from '../engine/outputCheck.ts';
import { atImageSize } from '../engine/posEmbedding.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import { ENGINE_LABELS, maxRelativeDeviation, type EngineKind, type ForwardOutputs, type ModelRunner } from '../engine/runner.ts';
import { datasetIoUs, datasetPlan, figuresHereEachImage, imageIoUs, imageRunFigures, runDataset, summariseDataset, type ImageRecord, type SegmentationSettings } from '../dataset/dataset.ts';
import { datasetProgress, datasetProgressText } from '../dataset/datasetProgress.ts';
import { collectSampleTensors } from '../dataset/sampleTensors.ts';
import { LoadError, type ByteProgress } from '../fetching/fetchBytes.ts';
import { modelInput } from '../image/inputPreprocessing.ts';
import type { SampleSet } from '../models/manifest.ts';
import { headChoices, openModelBytes, type LoadedModel, type OpenedModel } from '../models/modelFile.ts';
import { summarise } from '../models/modelSummary.ts';
import { atlasCell, maskCell } from '../models/sampleSet.ts';
import { forwardFlops, planEngines } from '../runners/engines.ts';
import type { Agreement, DatasetStats } from '../state/store.ts';
import type { ComputeApi, DatasetRequest, ImageRun, ModelInfo, RunRequest } from './computeApi.ts';
import type { CallContext, Handlers } from './rpc.ts';
import { RunnerPool, type RunnerFactory } from './runnerPool.ts';

/**
 * Above this many FLOPs per forward pass the CPU reference is not run as the
 * check engine: it is synchronous TypeScript (≈ 1 GFLOP/s), and while it runs
 * the worker answers nothing else, so a CRATE-B check would hold up the next
 * sample for tens of seconds.
 */
export const CPU_REFERENCE_FLOP_LIMIT = 2e9;

/**
 * Below this many FLOPs per forward pass the CPU reference stands in for a starting ORT: at about
 * 1 GFLOP/s it answers in about 0.1 s, sooner than our WGSL engine compiles its shaders on a
 * software adapter (docs/PLATFORM.md).
 */
export const CPU_STAND_IN_FLOPS = 1e8;

export interface ComputeDeps {
  fetchBytes(url: string, options: { cache?: boolean; expectedBytes?: number; onProgress?: (p: ByteProgress) => void }): Promise<Uint8Array>;
  createRunner: RunnerFactory;
  decodePng(bytes: Uint8Array, what: string): Promise<RgbaImage>;
  /** Opens a model file the user chose (modelFile.ts); reads it by slices where the format allows. */
  openModelFile(name: string, file: Blob, options: { heads?: number; onProgress?: (done: number, total: number) => void; signal?: AbortSignal }): Promise<OpenedModel & { readMillis?: number }>;
  /** The URL of public/models/, for the sample atlases. */
  modelsUrl: string;
  now(): number;
  /** Who computes each image's float64 figures: the analysis helpers (analysisPool.ts) where the worker has them; this thread otherwise. */
  figuresOf?: ImageFigureComputer;
}

/** The same tensors in buffers of their own: the worker keeps one copy (for the check and IoUs), hands the other over. */
export function copyOutputs(outputs: ForwardOutputs): ForwardOutputs {
  return {
    ...outputs,
    logits: outputs.logits.slice(),
    layers: outputs.layers.map((layer) => Object.fromEntries(Object.entries(layer).map(([name, t]) => [name, (t as Float32Array).slice()])) as unknown as typeof layer),
  };
}

function modelInfo(key: string, name: string, loaded: LoadedModel | OpenedModel): ModelInfo {
  const { config, shape } = loaded.model;
  const opened = 'format' in loaded ? loaded : undefined;
  return {
    summary: summarise({ key, name }, loaded),
    config,
    shape: { imageHeight: shape.imageHeight, imageWidth: shape.imageWidth, gridHeight: shape.gridHeight, gridWidth: shape.gridWidth, tokens: shape.tokens, innerDim: shape.innerDim },
    format: opened?.format,
    configFrom: opened?.configFrom,
    notes: opened?.notes ?? [],
    headChoices: headChoices(loaded.model),
  };
}

interface LastRun {
  key: string;
  loaded: LoadedModel;
  input: Float32Array;
  outputs: ForwardOutputs;
  engine: EngineKind;
  truth?: { mask: Uint8Array; image: { height: number; width: number } };
}

export function createComputeService(deps: ComputeDeps): Handlers<ComputeApi> {
  const models = new Map<string, Promise<LoadedModel>>();
  /** A model at another input side (finer maps): its positional embedding interpolated once per size. */
  const resized = new Map<string, LoadedModel>();
  const atlases = new Map<string, Promise<RgbaImage>>();
  /** The progress of the request now running: a runner being made (kernel tuning) reports there. */
  let progressSink: CallContext['progress'] = () => {};
  const pool = new RunnerPool(deps.createRunner, (message, fraction) => progressSink({ message, fraction }));
  let last: LastRun | undefined;
  let dataset: { key: string; loaded: LoadedModel; records: ImageRecord[]; accuracy: boolean; note?: string } | undefined;

  const figuresOf = deps.figuresOf ?? figuresHereEachImage;

  const modelOf = async (key: string): Promise<LoadedModel> => {
    const promise = models.get(key);
    if (!promise) throw new Error(`model ${key} is not loaded`);
    return promise;
  };

  /** The model at `size` (its own when undefined): a new size is a new model to the runners, which size their buffers by N. */
  const atSize = (key: string, loaded: LoadedModel, size: number | undefined): { key: string; loaded: LoadedModel } => {
    const { imageHeight, imageWidth } = loaded.model.shape;
    if (!size || (size === imageHeight && size === imageWidth)) return { key, loaded };
    const sizedKey = `${key}@${size}`;
    let sized = resized.get(sizedKey);
    if (!sized) {
      // The ONNX graph has the native N baked in, so only our engines run other sizes.
      sized = { ...loaded, model: atImageSize(loaded.model, size, size), onnx: undefined };
      resized.clear();
      resized.set(sizedKey, sized);
    }
    return { key: sizedKey, loaded: sized };
  };

  const atlas = (file: string): Promise<RgbaImage> => {
    let promise = atlases.get(file);
    if (!promise) {
      promise = deps.fetchBytes(deps.modelsUrl + file, { cache: true }).then((bytes) => deps.decodePng(bytes, file));
      promise.catch(() => atlases.delete(file));
      atlases.set(file, promise);
    }
    return promise;
  };

  const sampleOf = async (set: SampleSet, index: number, own: boolean) => {
    const pixels = await atlas(set.atlas);
    // Another model's masks mean nothing for this one: no borrowed ground truth, so no borrowed IoU.
    const mask = set.masks && own ? maskCell({ set, pixels: await atlas(set.masks) }, index) : undefined;
    return { image: atlasCell({ set, pixels }, index), label: own ? set.labels[index] : undefined, mask };
  };

  const runOn = async (key: string, kind: EngineKind, loaded: LoadedModel, input: Float32Array, signal: AbortSignal) => {
    const runner = await pool.get(key, kind, loaded);
    signal.throwIfAborted();
    const start = deps.now();
    // Timestamp queries cost a compute pass per dispatch; the engine panel shows what they measure.
    const outputs = await runner.run(input, { profile: kind === 'wgsl' });
    const forwardMillis = deps.now() - start;
    checkFinite(outputs); // before any measure sees a NaN
    return { outputs, forwardMillis };
  };

  const forget = (key: string) => {
    models.delete(key);
    for (const sizedKey of resized.keys()) if (sizedKey.startsWith(`${key}@`)) resized.delete(sizedKey);
    pool.release(key);
    if (last?.key === key || last?.key.startsWith(`${key}@`)) last = undefined;
    if (dataset?.key === key) dataset = undefined;
  };

  return {
    async loadModel({ key, name, url, expectedBytes }, { progress }) {
      let promise = models.get(key);
      if (!promise) {
        promise = deps
          .fetchBytes(url, {
            cache: true,
            expectedBytes,
            onProgress: ({ received, total, fromCache }) =>
              progress({ message: fromCache ? `Loading ${name} from the browser cache…` : `Downloading ${name}…`, fraction: total ? Math.min(received / total, 1) : undefined, bytes: { received, total } }),
          })
          .then(async (bytes) => {
            try {
              return await openModelBytes(url, bytes);
            } catch (error) {
              throw new LoadError(`${name} is not a usable CRATE model: ${(error as Error).message}`);
            }
          });
        promise.catch(() => models.delete(key));
        models.set(key, promise);
      }
      return modelInfo(key, name, await promise);
    },

    async openModelFile({ key, name, file, heads, replaces }, { progress, signal }) {
      const start = deps.now();
      const opened = await deps.openModelFile(name, file, {
        heads,
        signal,
        onProgress: (done, total) => progress({ message: `Reading ${name}…`, fraction: total ? done / total : undefined, bytes: { received: done, total } }),
      });
      signal.throwIfAborted();
      // One local model at a time: its weights can be hundreds of MB.
      if (replaces) forget(replaces);
      models.set(key, Promise.resolve(opened));
      const total = deps.now() - start;
      return { ...modelInfo(key, name, opened), readMillis: opened.readMillis ?? 0, parseMillis: total - (opened.readMillis ?? 0) };
    },

    async releaseModel({ key }) {
      forget(key);
    },

    async runImage(request: RunRequest, { progress, signal }: CallContext): Promise<ImageRun> {
      progressSink = progress;
      const native = await modelOf(request.key);
      const { key, loaded } = atSize(request.key, native, request.size);
      const { model } = loaded;
      let image: RgbaImage;
      let label: number | undefined;
      let mask: Uint8Array | undefined;
      if (request.image.kind === 'sample') {
        const { set, index, own } = request.image;
        // The pipeline corrects an index out of range before it asks (runImageJob.ts); this is the worker's own guard.
        if (index >= set.count) throw new RangeError(`sample ${index} does not exist: the set has ${set.count}`);
        progress({ message: 'Decoding the sample image…' });
        ({ image, label, mask } = await sampleOf(set, index, own));
        signal.throwIfAborted();
      } else {
        image = request.image.image;
      }
      const plan = planEngines(request.choice, request.adapter, loaded);
      let engine = plan.primary;
      let reason = plan.reason;
      let reference = plan.reference;
      // The first image must not wait for onnxruntime-web to start (its wasm, initWasm and createSession
      // take seconds on a first visit, and block this worker while they run): another engine runs it, and
      // ORT starts as this image's check, after the result is out; the next images run on ORT once it is
      // ready (docs/ARCHITECTURE.md, "The worker boundary"). The stand-in is whichever starts sooner: the
      // CPU reference for a small model (no shaders to compile), else our WGSL engine.
      if (request.choice === 'auto' && engine.startsWith('ort-') && reference === 'wgsl' && !pool.isReady(key, engine)) {
        const standIn: EngineKind = forwardFlops(model) <= CPU_STAND_IN_FLOPS ? 'cpu' : 'wgsl';
        reason = `${plan.reason}. onnxruntime-web was still starting (paid once per model), so ${ENGINE_LABELS[standIn]} ran this image meanwhile`;
        reference = engine;
        engine = standIn;
      }
      progress({ message: `Running ${model.config.depth} layers on ${ENGINE_LABELS[engine]}…` });
      // The ImageNet evaluation transform, squash or the user's crop (docs/MEASUREMENTS.md §1.2); the views overlay their maps on `shown`.
      const { input, shown, applied } = modelInput(image, native.model.config, request.prep, loaded === native ? undefined : model.shape.imageHeight);
      const notices: string[] = [];
      let timed: Awaited<ReturnType<typeof runOn>>;
      try {
        timed = await runOn(key, engine, loaded, input, signal);
      } catch (error) {
        signal.throwIfAborted();
        // An engine that fails (lost device, out of memory) must not blank the view: fall back and say so.
        const fallback: EngineKind = loaded.onnx && engine !== 'ort-wasm' ? 'ort-wasm' : 'cpu';
        // A NaN from our engines is the model's (they compute from its weights); one from ORT may be its graph's.
        if (engine === fallback || (error instanceof NonFiniteOutputsError && !engine.startsWith('ort-'))) throw error;
        notices.push(`${ENGINE_LABELS[engine]} failed (${(error as Error).message}); running ${ENGINE_LABELS[fallback]} instead`);
        reason = `${ENGINE_LABELS[engine]} failed, so ${ENGINE_LABELS[fallback]} runs the model`;
        reference = engine === 'wgsl' ? 'cpu' : undefined;
        engine = fallback;
        timed = await runOn(key, engine, loaded, input, signal);
      }
      signal.throwIfAborted();
      progress({ message: 'Measuring every layer…' });
      const analysisStart = deps.now();
      const { outputs, forwardMillis } = timed;
      const truth = mask ? { mask, image: { height: image.height, width: image.width } } : undefined;
      const { top, layers } = await imageRunFigures(model, outputs, truth, request.seg, figuresOf, signal);
      signal.throwIfAborted();
      const analysisMillis = deps.now() - analysisStart;
      last = { key, loaded, input, outputs, engine, truth: truth && { mask: truth.mask.slice(), image: truth.image } };
      // The WGSL kernels are tuned once the first result is on its way (cached per adapter and shape), not before it.
      if (pool.isReady(key, 'wgsl')) setTimeout(() => void pool.get(key, 'wgsl', loaded).then((runner) => runner.tune?.()).catch(() => {}), 0);
      return {
        image: shown,
        sourceImage: shown === image ? undefined : image,
        preprocessing: applied,
        label,
        mask,
        top,
        layers,
        outputs: copyOutputs(outputs),
        forwardMillis,
        analysisMillis,
        engine,
        reason,
        reference,
        notices,
        resized: loaded === native ? undefined : { imageSize: [model.shape.imageHeight, model.shape.imageWidth], tokens: model.shape.tokens },
      };
    },

    async compare({ key, reference }, { signal }): Promise<Agreement> {
      const run = last;
      if (!run || !(run.key === key || run.key.startsWith(`${key}@`))) throw new Error('there is no run of this model to check');
      const flops = forwardFlops(run.loaded.model);
      if (reference === 'cpu' && flops > CPU_REFERENCE_FLOP_LIMIT) {
        throw new Error(`the only second engine for this model is the CPU reference, which would hold up every other run for a ${(flops / 1e9).toFixed(1)} GFLOP forward pass`);
      }
      const runner: ModelRunner = await pool.get(run.key, reference, run.loaded);
      signal.throwIfAborted();
      const start = deps.now();
      const other = await runner.run(run.input);
      const referenceMillis = deps.now() - start;
      checkFinite(other); // a check engine's NaN is its failure, said as such, not an infinite deviation
      return { engine: run.engine, reference, ...maxRelativeDeviation(run.outputs, other), referenceMillis };
    },

    async imageIoUs({ key, seg }) {
      if (!last || !(last.key === key || last.key.startsWith(`${key}@`)) || !last.truth) return undefined;
      return imageIoUs(last.loaded.model, last.outputs, last.truth, seg);
    },

    async runDataset(request: DatasetRequest, { progress, signal }): Promise<DatasetStats> {
      progressSink = progress;
      const loaded = await modelOf(request.key);
      const source = request.images;
      const setCount = source.kind === 'own' ? source.images.length : source.set.count;
      if (setCount === 0) throw new Error('there are no images to average over');
      const plan = datasetPlan(setCount, request.adapter);
      const runner = await pool.get(request.key, request.engine, loaded);
      const started = deps.now();
      progress({ message: `Dataset: running ${plan.count} images on ${ENGINE_LABELS[request.engine]}…`, fraction: 0 });
      const records = await runDataset({
        model: loaded.model,
        prep: request.prep,
        count: plan.count,
        sample: async (i) => (source.kind === 'own' ? { image: source.images[i] } : sampleOf(source.set, i, source.own)),
        forward: (input) => runner.run(input),
        // Images done, time per image and time left.
        onProgress: (done, total) => progress({ message: datasetProgressText(datasetProgress(done, total, deps.now() - started), ENGINE_LABELS[request.engine]), fraction: done / total }),
        cancelled: () => signal.aborted,
        figuresOf: deps.figuresOf,
      });
      signal.throwIfAborted();
      const note = [plan.note, request.note].filter(Boolean).join('; ') || undefined;
      dataset = { key: request.key, loaded, records: records!, accuracy: source.kind === 'samples' && source.own, note };
      const ious = await datasetIoUs(loaded.model, dataset.records, request.seg, undefined, () => signal.aborted);
      signal.throwIfAborted();
      return summariseDataset(request.key, dataset.records, ious, { accuracy: dataset.accuracy, note });
    },

    async datasetForSegmentation({ key, seg }: { key: string; seg: SegmentationSettings }, { signal }) {
      if (!dataset || dataset.key !== key) return undefined;
      const ious = await datasetIoUs(dataset.loaded.model, dataset.records, seg, undefined, () => signal.aborted);
      signal.throwIfAborted();
      return summariseDataset(key, dataset.records, ious, { accuracy: dataset.accuracy, note: dataset.note });
    },

    async sampleTensors({ key, tensorsKey, engine, prep, set, count }, { progress, signal }) {
      const loaded = await modelOf(key);
      const runner = await pool.get(key, engine, loaded);
      progress({ message: `Running ${count} sample images…`, fraction: 0 });
      const value = await collectSampleTensors({
        key: tensorsKey,
        modelId: key,
        model: loaded.model,
        prep,
        count,
        sample: (i) => sampleOf(set, i, false),
        forward: (input) => runner.run(input),
        cancelled: () => signal.aborted,
        onProgress: (done, total) => progress({ message: `Running sample image ${done} of ${total}…`, fraction: done / total }),
      });
      signal.throwIfAborted();
      return value!;
    },

    async retune({ key }, { progress }) {
      const loaded = await modelOf(key);
      const runner = await pool.get(key, 'wgsl', loaded);
      // Runners without variants (ORT, the CPU reference, CRATE-α's engine) have nothing to tune.
      await runner.retune?.((message, fraction) => progress({ message, fraction }));
    },
  };
}
