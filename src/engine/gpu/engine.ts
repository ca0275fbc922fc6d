/**
 * The WGSL CRATE engine: weights uploaded once, one prepared command list
 * ("plan") per capture request, buffers reused across runs, and nothing read
 * back that was not asked for. docs/MEASUREMENTS.md §1 is the forward pass; the kernel
 * sequence per layer is
 *   W  = LN1(Z)·Uᵀ                 matmul, LayerNorm fused into A, or a
 *                                  layerNorm dispatch first (qkvNorm variant)
 *   O  = softmax(W_k W_kᵀ/√dh)·W_k  attention, online softmax
 *   Z½ = Z + O·to_outᵀ + b          matmul, bias and residual fused
 *   X  = LN2(Z½)                    layerNorm
 *   R  = X − X·Dᵀ                   matmul, residual fused
 *   Z⁺ = ReLU(X + η·R·D − ηλ)       matmul, scale, shift, residual, ReLU fused
 * i.e. six dispatches per layer (seven with LN1 separate). The variant of
 * each kernel is chosen by `tune()` (src/kernels/autotune.ts).
 */
import { attentionDispatch, attentionParams, MAX_DIM_HEAD } from '../../kernels/attention.ts';
import { layerNormDispatch, layerNormParams } from '../../kernels/layerNorm.ts';
import { matmulDispatch, matmulParams, type MatmulOptions, type MatmulShape } from '../../kernels/matmul.ts';
import { meanPoolDispatch, meanPoolParams } from '../../kernels/meanPool.ts';
import { patchifyDispatch, patchifyParams } from '../../kernels/patchify.ts';
import { encodeDispatch, PipelineCache, prepare, type Dispatch, type PreparedDispatch } from '../../kernels/program.ts';
import { adapterKey, chooseVariants, localStorageTuningStore, MemoryTuningStore, tuningKey, type TuningResult, type TuningSource, type TuningStore } from '../../kernels/autotune.ts';
import { DEFAULT_VARIANTS, describeVariants, type KernelVariants, type TunableKernel } from '../../kernels/variants.ts';
import { LAYER_NORM_EPS, type CrateModel } from '../model.ts';
import { BufferArena, readBuffer, readBuffers } from './arena.ts';
import { CAPTURE_NOTHING, captureKey, captureSets, type CaptureRequest, type CaptureTensor } from './capture.ts';
import { TimestampProfiler, type GpuProfile } from './profiler.ts';
import { createKernelTimer } from './tuneKernels.ts';
import { roundUp4, uploadWeights, uploadWeightsInSteps, type GpuWeights } from './uploadWeights.ts';

export class EngineError extends Error {
  override name = 'EngineError';
}

export interface EngineOptions {
  /** Called after a device loss to get a fresh device; without it a lost engine reports an error. */
  recreateDevice?: () => Promise<GPUDevice>;
  /** Told about a device loss, whatever happens next. */
  onDeviceLost?: (info: GPUDeviceLostInfo) => void;
  /** Kernel variants to use instead of the default (the bench's baseline, tests); `tune()` replaces them. */
  variants?: KernelVariants;
}

export interface TuneOptions {
  /** Where choices are cached; default localStorage in a page, else one map per process. */
  store?: TuningStore;
  /** About how long tuning may take (ms). */
  budgetMs?: number;
  /** Ignore a cached choice and time again (the "retune" control). */
  force?: boolean;
  /** Take a cached choice if there is one, and time nothing (the app's first image; autotune.ts chooseVariants). */
  cacheOnly?: boolean;
  onProgress?: (note: string) => void;
}

/** What the engine panel and the bench show about the engine. */
export interface EngineInfo {
  /** The adapter's identity, as the tuning cache keys it. */
  adapter: string;
  /** The variant in use per tunable kernel. */
  variants: KernelVariants;
  /** The same with a one-line description each, e.g. "8x8 (8×8 outputs per invocation, vec4 loads)". */
  variantDescriptions: Record<TunableKernel, string>;
  /** default, given (EngineOptions.variants), cached, tuned, or fallback (tuning failed). */
  tuning: TuningSource;
  /** Milliseconds per candidate from the last tuning, by kernel. */
  tuningTimings: TuningResult['timings'];
  /** Each checked candidate's relative deviation from the default's output, by kernel (empty unless tuned). */
  tuningDeviations: NonNullable<TuningResult['deviations']>;
  /** What the last tuning's budget cut, and which candidates it dropped, when it did. */
  tuningNote?: string;
  tuningError?: string;
}

/** Node's tuning cache lives as long as the process; a page's lives in localStorage. */
const processTuningStore = new MemoryTuningStore();
function defaultTuningStore(): TuningStore {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  return storage ? localStorageTuningStore(storage) : processTuningStore;
}

export interface RunOptions {
  /** Time every dispatch with timestamp queries (one compute pass each). */
  profile?: boolean;
}

export interface RunResult {
  logits: Float32Array;
  captures: CapturedTensors;
  /** Present when profiling was asked for. */
  profile?: GpuProfile;
}

/** Tensors captured by one run; they stay on the GPU until read, and until the next run with the same capture request. */
export interface CapturedTensors {
  has(layer: number, tensor: CaptureTensor): boolean;
  read(layer: number, tensor: CaptureTensor): Promise<Float32Array>;
  /** Several captures in one GPU round trip; the explorer reads a whole run this way. */
  readMany(requests: readonly { layer: number; tensor: CaptureTensor }[]): Promise<Float32Array[]>;
}

interface Plan {
  dispatches: PreparedDispatch[];
  /** Where each captured tensor lives, and how many floats it holds. */
  locations: Map<string, { buffer: GPUBuffer; floats: number }>;
  generation: number;
}

/** Buffers one plan writes but never reads back; shared by every plan. */
interface Scratch {
  image: GPUBuffer;
  patches: GPUBuffer;
  embedded: GPUBuffer;
  z0: GPUBuffer;
  w: GPUBuffer;
  o: GPUBuffer;
  zHalf: GPUBuffer;
  x: GPUBuffer;
  r: GPUBuffer;
  z: GPUBuffer;
  /** LN1(Z) without affine, when LN1 runs as its own dispatch (qkvNorm 'separate'). */
  zNorm: GPUBuffer;
  /** γ = 1 and β = 0 for that LayerNorm: the real γ, β are folded into the qkv weights. */
  unitGamma: GPUBuffer;
  zeroBeta: GPUBuffer;
  pooled: GPUBuffer;
  logits: GPUBuffer;
  logitsReadback: GPUBuffer;
  unused: GPUBuffer;
}

interface DeviceState {
  device: GPUDevice;
  cache: PipelineCache;
  arena: BufferArena;
  weights: GpuWeights;
  scratch: Scratch;
  params: Map<string, GPUBuffer>;
  plans: Map<string, Plan>;
  profiler?: TimestampProfiler;
  lost?: GPUDeviceLostInfo;
}

/**
 * The GPU engines (CRATE and CRATE-α) support what their kernels' vec4 paths need; the CPU
 * reference covers the rest.
 */
export function checkSupported(model: { config: { dim: number; dim_head: number } }): void {
  const { dim, dim_head: dh } = model.config;
  if (dim % 4 !== 0) throw new EngineError(`the WebGPU engine needs dim to be a multiple of 4 (got ${dim})`);
  if (dh % 4 !== 0 || dh > MAX_DIM_HEAD) throw new EngineError(`the WebGPU engine needs dim_head to be a multiple of 4 and ≤ ${MAX_DIM_HEAD} (got ${dh})`);
}

/** The largest storage buffers the engine allocates for a model (bytes), by what they hold. */
function modelBuffers(model: CrateModel): [string, number][] {
  const { config, shape } = model;
  const d = config.dim;
  const N = shape.tokens;
  const inner = shape.innerDim;
  return [
    ['the image', 4 * config.channels * shape.imageHeight * shape.imageWidth],
    ['the patches', 4 * (N - 1) * roundUp4(shape.patchDim)],
    ['W = LN1(Z)·Uᵀ (tokens × heads·dim_head)', 4 * N * inner],
    ['Z (tokens × dim)', 4 * N * d],
    ['the position embedding', 4 * N * d],
    ['U (heads·dim_head × dim)', 4 * inner * d],
    ['the dictionary D (dim × dim)', 4 * d * d],
    ['the patch embedding weight', 4 * d * roundUp4(shape.patchDim)],
    ['the classifier head', 4 * config.num_classes * d],
  ];
}

/** Buffers a capture request adds: the attention probabilities are heads × tokens² floats per layer. */
function captureBuffers(model: CrateModel, sets: Set<CaptureTensor>[]): [string, number][] {
  const { config, shape } = model;
  const wanted = new Set(sets.flatMap((set) => [...set]));
  const out: [string, number][] = [];
  if (wanted.has('attention')) out.push(['the attention capture (heads × tokens²)', 4 * config.heads * shape.tokens * shape.tokens]);
  if (wanted.has('w')) out.push(['the W capture', 4 * shape.tokens * shape.innerDim]);
  return out;
}

/**
 * Refuses, before anything is allocated, a buffer the device cannot hold or
 * bind: without this, WebGPU reports it later as a validation error on some
 * kernel, or the model runs with a buffer silently missing.
 */
function checkFits(device: GPUDevice, buffers: [string, number][], what: string): void {
  const { maxBufferSize, maxStorageBufferBindingSize } = device.limits;
  // Every buffer here is bound as storage, so the smaller of the two limits applies.
  for (const [label, bytes] of buffers) {
    const [name, limit] = maxStorageBufferBindingSize <= maxBufferSize ? ['maxStorageBufferBindingSize', maxStorageBufferBindingSize] : ['maxBufferSize', maxBufferSize];
    if (bytes > limit) {
      throw new EngineError(`${what} needs a ${bytes}-byte buffer for ${label}, but this device allows ${name} = ${limit} bytes`);
    }
  }
}

const MAX_CACHED_PLANS = 4;

/** Weights already on the device, from `createInSlices`. */
interface Uploaded {
  arena: BufferArena;
  weights: GpuWeights;
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class CrateGpuEngine {
  private state: DeviceState;
  private queue: Promise<unknown> = Promise.resolve();
  private destroyed = false;
  private variants: KernelVariants;
  private tuning: Omit<TuningResult, 'variants'>;

  private constructor(
    device: GPUDevice,
    readonly model: CrateModel,
    private readonly options: EngineOptions,
    uploaded?: Uploaded,
  ) {
    this.variants = { ...(options.variants ?? DEFAULT_VARIANTS) };
    this.tuning = { source: options.variants ? 'given' : 'default', timings: {} };
    this.state = this.initialise(device, uploaded);
  }

  static create(device: GPUDevice, model: CrateModel, options: EngineOptions = {}): CrateGpuEngine {
    checkSupported(model);
    checkFits(device, modelBuffers(model), 'this model');
    return new CrateGpuEngine(device, model, options);
  }

  /**
   * `create` for a page: the weights are uploaded one layer at a time, with
   * `pause` awaited in between, so the page stays responsive while a large
   * model uploads.
   */
  static async createInSlices(device: GPUDevice, model: CrateModel, options: EngineOptions = {}, pause: () => Promise<void> = nextTask): Promise<CrateGpuEngine> {
    checkSupported(model);
    checkFits(device, modelBuffers(model), 'this model');
    const arena = new BufferArena(device);
    try {
      const steps = uploadWeightsInSteps(arena, model);
      for (;;) {
        const step = steps.next();
        if (step.done) return new CrateGpuEngine(device, model, options, { arena, weights: step.value });
        await pause();
      }
    } catch (error) {
      arena.destroyAll();
      throw error;
    }
  }

  get device(): GPUDevice {
    return this.state.device;
  }

  /** Bytes of GPU memory this engine holds (weights, activations, captures). */
  get gpuBytes(): number {
    return this.state.arena.bytes;
  }

  get pipelinesCompiled(): number {
    return this.state.cache.compiled;
  }

  get timestampsSupported(): boolean {
    return this.state.device.features.has('timestamp-query');
  }

  get info(): EngineInfo {
    return {
      adapter: adapterKey(this.state.device.adapterInfo),
      variants: { ...this.variants },
      variantDescriptions: describeVariants(this.variants),
      tuning: this.tuning.source,
      tuningTimings: this.tuning.timings,
      tuningDeviations: this.tuning.deviations ?? {},
      ...(this.tuning.note ? { tuningNote: this.tuning.note } : {}),
      ...(this.tuning.error ? { tuningError: this.tuning.error } : {}),
    };
  }

  /**
   * Chooses the kernel variants for this model's shape on this adapter: the
   * cached choice, else each candidate timed within the budget (about 1 s),
   * else the safe default if timing fails. Runs between forward passes;
   * later runs use the choice.
   */
  tune(options: TuneOptions = {}): Promise<EngineInfo> {
    return this.serially(() => this.typed(async () => {
      await this.ensureDevice();
      const { device } = this.state;
      const { config, shape } = this.model;
      const tuningShape = { tokens: shape.tokens, dim: config.dim, heads: config.heads, dimHead: config.dim_head };
      const timer = createKernelTimer(device, tuningShape, this.state.cache);
      try {
        const result = await chooseVariants({
          store: options.store ?? defaultTuningStore(),
          key: tuningKey(adapterKey(device.adapterInfo), tuningShape),
          force: options.force,
          cacheOnly: options.cacheOnly,
          features: device.features,
          time: (kernel, variant) => timer.time(kernel, variant),
          deviation: (kernel, variant) => timer.deviation(kernel, variant),
          now: () => performance.now(),
          budgetMs: options.budgetMs ?? 1000,
          onProgress: options.onProgress,
        });
        this.useVariants(result.variants);
        const { variants: _chosen, ...outcome } = result;
        this.tuning = outcome;
      } finally {
        timer.destroy();
      }
      return this.info;
    }));
  }

  /** Times the variants again, ignoring and replacing the cached choice. */
  retune(options: Omit<TuneOptions, 'force'> = {}): Promise<EngineInfo> {
    return this.tune({ ...options, force: true });
  }

  /** Plans are built for one set of variants: a new choice drops them. */
  private useVariants(variants: KernelVariants): void {
    if ((Object.keys(variants) as TunableKernel[]).every((kernel) => variants[kernel] === this.variants[kernel])) return;
    this.variants = { ...variants };
    for (const key of [...this.state.plans.keys()]) this.dropPlan(key);
  }

  private dropPlan(key: string): void {
    const plan = this.state.plans.get(key);
    if (!plan) return;
    const scratch = Object.values(this.state.scratch);
    for (const { buffer } of new Set(plan.locations.values())) if (!scratch.includes(buffer)) this.state.arena.release(buffer);
    plan.generation = -1; // captures still held from it now report that they are gone
    this.state.plans.delete(key);
  }

  /** Dispatches one run issues for a capture request, and how many per layer. */
  async dispatchCount(capture: CaptureRequest = CAPTURE_NOTHING): Promise<{ total: number; perLayer: number }> {
    const plan = await this.planFor(capture);
    const layerDispatches = plan.dispatches.filter((d) => d.dispatch.scope.startsWith('layer ')).length;
    return { total: plan.dispatches.length, perLayer: layerDispatches / this.model.config.depth };
  }

  /** Runs one normalised image [C, H, W]; runs are serialised so buffers can be reused. */
  run(image: Float32Array, capture: CaptureRequest = CAPTURE_NOTHING, options: RunOptions = {}): Promise<RunResult> {
    return this.serially(() => this.typed(() => this.runNow(image, capture, options)));
  }

  /**
   * Every failure leaves as an EngineError. WebGPU reports a device lost in
   * the middle of a run as a bare AbortError or OperationError from mapAsync,
   * before (or just after) `device.lost` resolves; that is told apart from
   * other failures by waiting briefly for the loss.
   */
  private async typed<T>(task: () => Promise<T>): Promise<T> {
    const state = this.state;
    try {
      return await task();
    } catch (error) {
      if (error instanceof EngineError) throw error;
      const lost = state.lost ?? (await Promise.race([state.device.lost, new Promise<undefined>((resolve) => setTimeout(resolve, 200))]));
      const message = (error as Error)?.message || String(error);
      if (lost) {
        state.lost = lost;
        throw new EngineError(
          `the GPU device was lost during the run (${lost.reason}: ${lost.message || message}); ${this.options.recreateDevice ? 'the next run gets a new device' : 'reload to continue'}`,
          { cause: error },
        );
      }
      throw new EngineError(`the GPU run failed: ${message}`, { cause: error });
    }
  }

  /** Runs and capture reads share buffers, so they take turns. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  destroy(): void {
    this.destroyed = true;
    this.state.profiler?.destroy();
    this.state.arena.destroyAll();
  }

  private initialise(device: GPUDevice, uploaded?: Uploaded): DeviceState {
    const arena = uploaded?.arena ?? new BufferArena(device);
    const { config, shape } = this.model;
    const d = config.dim;
    const N = shape.tokens;
    const scratch: Scratch = {
      image: arena.activation('image', config.channels * shape.imageHeight * shape.imageWidth),
      patches: arena.activation('patches', (N - 1) * roundUp4(shape.patchDim)),
      embedded: arena.activation('patch embedding', (N - 1) * d),
      z0: arena.activation('Z⁰', N * d),
      w: arena.activation('W', N * shape.innerDim),
      o: arena.activation('O', N * shape.innerDim),
      zHalf: arena.activation('Z½', N * d),
      x: arena.activation('LN2(Z½)', N * d),
      r: arena.activation('R', N * d),
      z: arena.activation('Z', N * d),
      zNorm: arena.activation('LN1(Z) without affine', N * d),
      unitGamma: arena.storage('unit γ', new Float32Array(d).fill(1)),
      zeroBeta: arena.storage('zero β', new Float32Array(d)),
      pooled: arena.activation('pooled', d),
      logits: arena.activation('logits', config.num_classes),
      logitsReadback: arena.create('logits readback', config.num_classes * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
      unused: arena.activation('unused binding', 4),
    };
    const weights = uploaded?.weights ?? uploadWeights(arena, this.model);
    // Row 0 of Z⁰ is cls_token + pos[0] for every image: written once here, never by a kernel.
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(weights.clsRow, 0, scratch.z0, 0, d * 4);
    device.queue.submit([encoder.finish()]);

    const state: DeviceState = { device, cache: new PipelineCache(device), arena, weights, scratch, params: new Map(), plans: new Map() };
    // The app shares one device among every engine it ever creates, so this
    // callback outlives the engine; it must not keep the engine (and its
    // model's weights) alive, which leaked ~0.6 MB of JS heap per model switch
    // (e2e/soak.spec.ts).
    const stateRef = new WeakRef(state);
    const engineRef = new WeakRef<CrateGpuEngine>(this);
    device.lost.then((info) => {
      const lostState = stateRef.deref();
      if (lostState) lostState.lost = info;
      const engine = engineRef.deref();
      if (engine && !engine.destroyed) engine.options.onDeviceLost?.(info);
    });
    return state;
  }

  /** Uniform buffers depend only on shapes, so plans share them. */
  private paramsBuffer(key: string, data: ArrayBuffer): GPUBuffer {
    let buffer = this.state.params.get(key);
    if (!buffer) {
      buffer = this.state.arena.uniform(key, data);
      this.state.params.set(key, buffer);
    }
    return buffer;
  }

  private matmul(options: MatmulOptions, shape: MatmulShape, io: { a: GPUBuffer; b: GPUBuffer; bias?: GPUBuffer; residual?: GPUBuffer; out: GPUBuffer }, scope: string, paramsKey: string): Dispatch {
    const unused = this.state.scratch.unused;
    const dispatch = matmulDispatch(
      { ...options, bias: io.bias !== undefined, residual: io.residual !== undefined },
      shape,
      {
        params: this.paramsBuffer(paramsKey, matmulParams(shape, LAYER_NORM_EPS)),
        a: io.a,
        b: io.b,
        bias: io.bias ?? unused,
        residual: io.residual ?? unused,
        out: io.out,
      },
      scope,
      this.variants.matmul,
    );
    return { ...dispatch, role: paramsKey };
  }

  private async planFor(capture: CaptureRequest): Promise<Plan> {
    const { config } = this.model;
    const sets = captureSets(capture, config.depth);
    checkFits(this.state.device, captureBuffers(this.model, sets), 'this capture request');
    const key = captureKey(sets);
    const cached = this.state.plans.get(key);
    if (cached) return cached;
    if (this.state.plans.size >= MAX_CACHED_PLANS) this.dropPlan(this.state.plans.keys().next().value!);
    // Shader compilation and allocation failures surface here, once per plan,
    // as errors instead of console warnings and silently wrong numbers.
    const { device } = this.state;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const plan = this.buildPlan(sets);
    const validation = await device.popErrorScope();
    const memory = await device.popErrorScope();
    if (memory) throw new EngineError(`out of GPU memory while preparing the model: ${memory.message}`);
    if (validation) throw new EngineError(`WebGPU rejected a kernel: ${validation.message}`);
    this.state.plans.set(key, plan);
    return plan;
  }

  private buildPlan(sets: Set<CaptureTensor>[]): Plan {
    const { device, cache, arena, weights, scratch } = this.state;
    const { config, shape } = this.model;
    const d = config.dim;
    const N = shape.tokens;
    const inner = shape.innerDim;
    const locations = new Map<string, { buffer: GPUBuffer; floats: number }>();
    const dedicated = (layer: number, tensor: CaptureTensor, floats: number) => {
      const buffer = arena.activation(`capture layer ${layer} ${tensor}`, floats);
      locations.set(`${layer}:${tensor}`, { buffer, floats });
      return buffer;
    };

    const dispatches: Dispatch[] = [];
    const patchShape = { channels: config.channels, height: shape.imageHeight, width: shape.imageWidth, patch: config.patch_size, paddedDim: roundUp4(shape.patchDim), eps: LAYER_NORM_EPS };
    dispatches.push(
      patchifyDispatch(patchShape, { params: this.paramsBuffer('patchify', patchifyParams(patchShape)), image: scratch.image, gamma: weights.patchGamma, beta: weights.patchBeta, out: scratch.patches }, 'embed'),
      this.matmul({}, { M: N - 1, N: d, K: roundUp4(shape.patchDim) }, { a: scratch.patches, b: weights.patchWeightPadded, bias: weights.patchBias, out: scratch.embedded }, 'embed', 'patch linear'),
      layerNormDispatch(
        { rows: N - 1, cols: d, outRowOffset: 1 },
        { params: this.paramsBuffer('embed norm', layerNormParams({ rows: N - 1, cols: d, outRowOffset: 1, eps: LAYER_NORM_EPS })), x: scratch.embedded, gamma: weights.embedGamma, beta: weights.embedBeta, addend: weights.posEmbedding, out: scratch.z0, unused: scratch.unused },
        'embed',
      ),
    );

    // Z^ℓ lives in Z⁰ for ℓ = 0, then in the shared Z buffer unless a capture needs it kept.
    let zIn = scratch.z0;
    const layerNormShape = { rows: N, cols: d, eps: LAYER_NORM_EPS };
    const attentionShape = { tokens: N, heads: config.heads, dimHead: config.dim_head };
    for (let l = 0; l < config.depth; l++) {
      const scope = `layer ${l}`;
      const set = sets[l];
      const layer = weights.layers[l];
      if (set.has('z')) locations.set(`${l}:z`, { buffer: zIn, floats: N * d });
      const w = set.has('w') ? dedicated(l, 'w', N * inner) : scratch.w;
      const probabilities = set.has('attention') ? dedicated(l, 'attention', config.heads * N * N) : scratch.unused;
      const zHalf = set.has('zHalf') ? dedicated(l, 'zHalf', N * d) : scratch.zHalf;
      const keepNext = set.has('zNext') || (l + 1 < config.depth && sets[l + 1].has('z'));
      const zNext = keepNext ? arena.activation(`capture layer ${l} zNext`, N * d) : scratch.z;
      if (set.has('zNext')) locations.set(`${l}:zNext`, { buffer: zNext, floats: N * d });

      if (this.variants.qkvNorm === 'separate') {
        // Timed as part of qkv (role), which it replaces the fusion of.
        const norm = layerNormDispatch(layerNormShape, { params: this.paramsBuffer('ista norm', layerNormParams(layerNormShape)), x: zIn, gamma: scratch.unitGamma, beta: scratch.zeroBeta, out: scratch.zNorm, unused: scratch.unused }, scope);
        dispatches.push({ ...norm, role: 'qkv' }, this.matmul({}, { M: N, N: inner, K: d }, { a: scratch.zNorm, b: layer.qkvFolded, bias: layer.qkvBias, out: w }, scope, 'qkv'));
      } else {
        dispatches.push(this.matmul({ normA: true }, { M: N, N: inner, K: d }, { a: zIn, b: layer.qkvFolded, bias: layer.qkvBias, out: w }, scope, 'qkv'));
      }
      dispatches.push(
        attentionDispatch(attentionShape, set.has('attention'), { params: this.paramsBuffer('attention', attentionParams(attentionShape)), w, out: scratch.o, probabilities }, scope, this.variants.attention),
        this.matmul({}, { M: N, N: d, K: inner }, { a: scratch.o, b: layer.outWeight, bias: layer.outBias, residual: zIn, out: zHalf }, scope, 'to_out'),
        layerNormDispatch(layerNormShape, { params: this.paramsBuffer('ista norm', layerNormParams(layerNormShape)), x: zHalf, gamma: layer.istaGamma, beta: layer.istaBeta, out: scratch.x, unused: scratch.unused }, scope),
        this.matmul({}, { M: N, N: d, K: d, alpha: -1, beta: 1 }, { a: scratch.x, b: layer.dictionary, residual: scratch.x, out: scratch.r }, scope, 'ista residual'),
        this.matmul({ relu: true }, { M: N, N: d, K: d, alpha: config.eta, beta: 1, shift: -config.eta * config.lambda }, { a: scratch.r, b: layer.dictionaryT, residual: scratch.x, out: zNext }, scope, 'ista step'),
      );
      zIn = zNext;
    }

    let pooled = zIn;
    if (config.pool === 'mean') {
      dispatches.push(meanPoolDispatch(d, { params: this.paramsBuffer('mean pool', meanPoolParams(N, d)), z: zIn, out: scratch.pooled }, 'head'));
      pooled = scratch.pooled;
    }
    // M = 1 reads only row 0: the class token, or the pooled mean.
    dispatches.push(this.matmul({ normA: true }, { M: 1, N: config.num_classes, K: d }, { a: pooled, b: weights.headFolded, bias: weights.headBias, out: scratch.logits }, 'head', 'head'));

    return { dispatches: dispatches.map((dispatch) => prepare(device, cache, dispatch)), locations, generation: 0 };
  }

  private async ensureDevice(): Promise<void> {
    if (this.destroyed) throw new EngineError('the engine was destroyed');
    const lost = this.state.lost;
    if (!lost) return;
    if (!this.options.recreateDevice) {
      throw new EngineError(`the GPU device was lost (${lost.reason}: ${lost.message || 'no message'}); reload to continue`);
    }
    const device = await this.options.recreateDevice();
    this.state.arena.destroyAll();
    this.state = this.initialise(device);
  }

  private async runNow(image: Float32Array, capture: CaptureRequest, options: RunOptions): Promise<RunResult> {
    await this.ensureDevice();
    const { config, shape } = this.model;
    const expected = config.channels * shape.imageHeight * shape.imageWidth;
    if (image.length !== expected) throw new EngineError(`image has ${image.length} values; the model needs ${config.channels}×${shape.imageHeight}×${shape.imageWidth}`);
    const state = this.state;
    const { device, scratch } = state;
    const plan = await this.planFor(capture);
    plan.generation++;

    device.queue.writeBuffer(scratch.image, 0, image as Float32Array<ArrayBuffer>);
    const encoder = device.createCommandEncoder({ label: 'crate forward' });
    let profiler: TimestampProfiler | undefined;
    if (options.profile && this.timestampsSupported) {
      if (!state.profiler || state.profiler.capacity < plan.dispatches.length) {
        state.profiler?.destroy();
        state.profiler = new TimestampProfiler(device, plan.dispatches.length);
      }
      profiler = state.profiler;
      plan.dispatches.forEach((prepared, i) => {
        const pass = encoder.beginComputePass(profiler!.passDescriptor(i));
        encodeDispatch(pass, prepared);
        pass.end();
      });
      profiler.resolve(encoder, plan.dispatches.length);
    } else {
      const pass = encoder.beginComputePass({ label: 'crate forward' });
      for (const prepared of plan.dispatches) encodeDispatch(pass, prepared);
      pass.end();
    }
    encoder.copyBufferToBuffer(scratch.logits, 0, scratch.logitsReadback, 0, config.num_classes * 4);
    device.queue.submit([encoder.finish()]);

    await scratch.logitsReadback.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(scratch.logitsReadback.getMappedRange().slice(0));
    scratch.logitsReadback.unmap();

    let profile: GpuProfile | undefined;
    if (options.profile) {
      profile = profiler
        ? await profiler.read(plan.dispatches.map(({ dispatch }) => ({ kernel: dispatch.spec.name, scope: dispatch.scope, role: dispatch.role ?? dispatch.spec.name })))
        : { supported: false, reason: "this adapter does not offer the 'timestamp-query' feature, so GPU time per kernel cannot be measured" };
    }
    return { logits, captures: this.capturesOf(plan, state), profile };
  }

  private capturesOf(plan: Plan, state: DeviceState): CapturedTensors {
    const generation = plan.generation;
    const locate = (layer: number, tensor: CaptureTensor) => {
      const location = plan.locations.get(`${layer}:${tensor}`);
      if (!location) throw new EngineError(`layer ${layer} ${tensor} was not captured by this run`);
      if (state.lost) throw new EngineError('these captures were lost with the GPU device; run the model again');
      if (plan.generation !== generation || state !== this.state) {
        throw new EngineError('these captures were overwritten by a later run with the same capture request');
      }
      return location;
    };
    return {
      has: (layer, tensor) => plan.locations.has(`${layer}:${tensor}`),
      read: (layer, tensor) =>
        this.serially(() => this.typed(async () => {
          const location = locate(layer, tensor);
          return readBuffer(state.device, location.buffer, location.floats);
        })),
      readMany: (requests) =>
        this.serially(() => this.typed(async () => readBuffers(state.device, requests.map(({ layer, tensor }) => locate(layer, tensor))))),
    };
  }
}
