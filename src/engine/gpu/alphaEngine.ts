/**
 * CRATE-α on our WGSL kernels (docs/MEASUREMENTS.md §1.1), reusing the CRATE engine's kernel
 * programs (matmul with its fused LayerNorm-on-A and epilogue, attention, LayerNorm). Per layer:
 *   W  = LN1(Z)·Uᵀ                    matmul, LayerNorm (eps 1e-6) fused into A, γ β folded into U
 *   O  = softmax(W_k W_kᵀ/√dh)·W_k     attention
 *   Z½ = Z + O·to_outᵀ                 matmul, residual fused (no bias)
 *   P  = η·LN2(Z½)·D − ηλ             alphaIsta, LayerNorm (eps 1e-6, γ β applied) fused into A
 *   Y  = ReLU(P)·Dᵀ                    alphaIsta, z1 = ReLU(P) formed as A is loaded
 *   z2 = ReLU(ReLU(P) + P − η·Y·D)     alphaIsta, the residual P entering as P + ReLU(P)
 *   Z⁺ = Z½ + z2·D1ᵀ                   matmul, residual fused
 * i.e. seven dispatches per layer (the issue's bound). The ISTA step is rewritten, not
 * approximated: z1 − η·(z1·Dᵀ − X)·D − ηλ = z1 + P − η·(z1·Dᵀ)·D with P = η·X·D − ηλ and
 * z1 = ReLU(P), so neither X = LN2(Z½) nor z1 needs a buffer or a pass of its own.
 * On SwiftShader the fused LayerNorm's row statistics (workgroup barriers) make a B/16-width
 * layer about 15 % slower than the eight-dispatch version measured beside it (depth 2, medians
 * of 6 runs, 4.3 s against 3.7 s on a busy 2-core machine); the bound is the issue's.
 * The patches are cut on the CPU (a rearrangement of the input, no arithmetic), since the CRATE
 * patchify kernel normalises them and CRATE-α's convolution does not.
 */
import { alphaIstaDispatch, alphaIstaParams, type AlphaIstaOptions, type AlphaIstaShape } from '../../kernels/alphaIsta.ts';
import { attentionDispatch, attentionParams } from '../../kernels/attention.ts';
import { matmulDispatch, matmulParams, type MatmulOptions, type MatmulShape } from '../../kernels/matmul.ts';
import { encodeDispatch, PipelineCache, prepare, type Dispatch, type PreparedDispatch } from '../../kernels/program.ts';
import { ALPHA_BLOCK_NORM_EPS, ALPHA_HEAD_NORM_EPS, type CrateAlphaModel } from '../alphaModel.ts';
import type { AlphaForwardTrace } from '../cpu/alphaReference.ts';
import { patchify } from '../cpu/reference.ts';
import type { AlphaLayerOutputs, ForwardOutputs, ModelRunner } from '../runner.ts';
import { BufferArena, readBuffers } from './arena.ts';
import { alphaPlannedBuffers, checkBufferLimits } from './alphaLimits.ts';
import { checkSupported, EngineError } from './engine.ts';
import { foldNorm, roundUp4, transpose } from './uploadWeights.ts';

export const ALPHA_DISPATCHES_PER_LAYER = 7;

/** The kernels' vec4 paths need these; the CPU reference (alphaReference.ts) runs every other shape. */
export const checkAlphaSupported: (model: CrateAlphaModel) => void = checkSupported;

/** Rows of `cols` floats copied into rows of `padded` (zeros after), for vec4 loads along K. */
function padRows(data: Float32Array, rows: number, cols: number, padded: number): Float32Array {
  if (padded === cols) return data;
  const out = new Float32Array(rows * padded);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols, (r + 1) * cols), r * padded);
  return out;
}

interface LayerBuffers {
  w: GPUBuffer;
  probabilities: GPUBuffer;
  zHalf: GPUBuffer;
  z2: GPUBuffer;
  zNext: GPUBuffer;
}

interface Plan {
  /** The patch embedding: one pass of its own, then Z⁰'s rows 1… are copied in place. */
  embed: PreparedDispatch;
  dispatches: PreparedDispatch[];
  /** Per layer, when the plan keeps the layers' outputs. */
  layers?: LayerBuffers[];
}

export class AlphaGpuEngine {
  private readonly arena: BufferArena;
  private readonly cache: PipelineCache;
  private readonly plans = new Map<boolean, Plan>();
  private readonly buffers: Record<string, GPUBuffer> = {};
  private readonly weights;

  private constructor(
    readonly device: GPUDevice,
    readonly model: CrateAlphaModel,
  ) {
    checkAlphaSupported(model);
    // Before anything is allocated: a tensor the adapter cannot hold or bind is named here (alphaLimits.ts).
    checkBufferLimits(alphaPlannedBuffers(model), device.limits);
    this.arena = new BufferArena(device);
    this.cache = new PipelineCache(device);
    this.weights = this.upload();
    const { config, shape } = model;
    const N = shape.tokens;
    const d = config.dim;
    const wide = config.ratio * d;
    const activation = (name: string, floats: number) => (this.buffers[name] = this.arena.activation(name, floats));
    activation('patches', (N - 1) * roundUp4(shape.patchDim));
    activation('embedded', (N - 1) * d);
    activation('z0', N * d);
    for (const name of ['w', 'o']) activation(name, N * shape.innerDim);
    for (const name of ['zHalf', 'y', 'z']) activation(name, N * d);
    for (const name of ['p', 'z2']) activation(name, N * wide);
    activation('logits', config.num_classes);
    activation('unused', 4);
    this.buffers.logitsReadback = this.arena.create('logits readback', config.num_classes * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    // Row 0 of Z⁰ is cls_token + pos[0] for every image: written once.
    device.queue.writeBuffer(this.buffers.z0, 0, this.weights.clsRow as Float32Array<ArrayBuffer>);
  }

  static create(device: GPUDevice, model: CrateAlphaModel): AlphaGpuEngine {
    return new AlphaGpuEngine(device, model);
  }

  /** Weights as the kernels read them: LayerNorms feeding a matmul folded into it, D also transposed. */
  private upload() {
    const { config, shape, weights } = this.model;
    const d = config.dim;
    const wide = config.ratio * d;
    const inner = shape.innerDim;
    const storage = (label: string, data: Float32Array) => this.arena.storage(label, data);
    const clsRow = new Float32Array(d);
    for (let i = 0; i < d; i++) clsRow[i] = weights.clsToken[i] + weights.posEmbedding[i];
    const head = foldNorm(weights.headWeight, config.num_classes, d, weights.headNorm, weights.headBias);
    return {
      clsRow,
      patchWeight: storage('conv1 as Linear (K padded)', padRows(weights.patchWeight, d, shape.patchDim, roundUp4(shape.patchDim))),
      patchBias: storage('conv1.bias', weights.patchBias),
      patchPositions: storage('pos_embedding[1:]', weights.posEmbedding.subarray(d)),
      layers: weights.layers.map((layer, i) => {
        const qkv = foldNorm(layer.qkv, inner, d, layer.mssaNorm);
        return {
          qkvFolded: storage(`layer ${i} U·diag(γ1)`, qkv.folded),
          qkvBias: storage(`layer ${i} U·β1`, qkv.foldedBias),
          outWeight: storage(`layer ${i} to_out.weight`, layer.outWeight),
          istaGamma: storage(`layer ${i} LN2 γ`, layer.istaNorm.weight),
          istaBeta: storage(`layer ${i} LN2 β`, layer.istaNorm.bias),
          dictionary: storage(`layer ${i} D`, layer.dictionary),
          dictionaryT: storage(`layer ${i} Dᵀ`, transpose(layer.dictionary, d, wide)),
          decoder: storage(`layer ${i} D1`, layer.decoder),
        };
      }),
      headFolded: storage('head W·diag(γ)', head.folded),
      headBias: storage('head bias + W·β', head.foldedBias),
    };
  }

  private matmul(options: MatmulOptions, shape: MatmulShape, eps: number, io: { a: GPUBuffer; b: GPUBuffer; bias?: GPUBuffer; residual?: GPUBuffer; out: GPUBuffer }, scope: string): Dispatch {
    const unused = this.buffers.unused;
    return matmulDispatch(
      { ...options, bias: io.bias !== undefined, residual: io.residual !== undefined },
      shape,
      { params: this.arena.uniform(`${scope} matmul`, matmulParams(shape, eps)), a: io.a, b: io.b, bias: io.bias ?? unused, residual: io.residual ?? unused, out: io.out },
      scope,
    );
  }

  private ista(options: AlphaIstaOptions, shape: AlphaIstaShape, eps: number, io: { a: GPUBuffer; b: GPUBuffer; gamma?: GPUBuffer; beta?: GPUBuffer; residual?: GPUBuffer; out: GPUBuffer }, scope: string): Dispatch {
    const unused = this.buffers.unused;
    return alphaIstaDispatch(
      { ...options, residual: io.residual !== undefined },
      shape,
      { params: this.arena.uniform(`${scope} ista`, alphaIstaParams(shape, eps)), a: io.a, b: io.b, gamma: io.gamma ?? unused, beta: io.beta ?? unused, residual: io.residual ?? unused, out: io.out },
      scope,
    );
  }

  /** The dispatches after the patch embedding; with `keepLayers`, every layer writes its own buffers. */
  private plan(keepLayers: boolean): Plan {
    const cached = this.plans.get(keepLayers);
    if (cached) return cached;
    const { config, shape } = this.model;
    const { arena, buffers: s, weights } = this;
    const N = shape.tokens;
    const d = config.dim;
    const wide = config.ratio * d;
    const inner = shape.innerDim;
    const eta = config.eta;
    const shrink = -config.eta * config.lambda;
    const dispatches: Dispatch[] = [];
    const kept: LayerBuffers[] = [];
    const attentionShape = { tokens: N, heads: config.heads, dimHead: config.dim_head };
    let z = s.z0;
    for (let l = 0; l < config.depth; l++) {
      const scope = `layer ${l}`;
      const layer = weights.layers[l];
      const own = (name: string, floats: number, shared: GPUBuffer) => (keepLayers ? arena.activation(`layer ${l} ${name}`, floats) : shared);
      // Without kept layers the shared buffers serve every layer: Z⁺ goes to Z (never to Z⁰, whose row 0 is
      // written once), after the last read of Z^ℓ (the to_out residual); Z½ and Z⁺ never share a buffer.
      const out: LayerBuffers = {
        w: own('W', N * inner, s.w),
        probabilities: own('attention', config.heads * N * N, s.unused),
        zHalf: own('Z½', N * d, s.zHalf),
        z2: own('z2', N * wide, s.z2),
        zNext: own('Z⁺', N * d, s.z),
      };
      const { p, y } = s;
      dispatches.push(
        this.matmul({ normA: true }, { M: N, N: inner, K: d }, ALPHA_BLOCK_NORM_EPS, { a: z, b: layer.qkvFolded, bias: layer.qkvBias, out: out.w }, scope),
        attentionDispatch(attentionShape, keepLayers, { params: arena.uniform(`${scope} attention`, attentionParams(attentionShape)), w: out.w, out: s.o, probabilities: out.probabilities }, scope),
        this.matmul({}, { M: N, N: d, K: inner }, 0, { a: s.o, b: layer.outWeight, residual: z, out: out.zHalf }, scope),
        this.ista({ normA: true }, { M: N, N: wide, K: d, alpha: eta, shift: shrink }, ALPHA_BLOCK_NORM_EPS, { a: out.zHalf, b: layer.dictionaryT, gamma: layer.istaGamma, beta: layer.istaBeta, out: p }, scope),
        this.ista({ reluA: true }, { M: N, N: d, K: wide }, 0, { a: p, b: layer.dictionary, out: y }, scope),
        this.ista({ residualPlusRelu: true, relu: true }, { M: N, N: wide, K: d, alpha: -eta }, 0, { a: y, b: layer.dictionaryT, residual: p, out: out.z2 }, scope),
        this.matmul({}, { M: N, N: d, K: wide }, 0, { a: out.z2, b: layer.decoder, residual: out.zHalf, out: out.zNext }, scope),
      );
      kept.push(out);
      z = out.zNext;
    }
    const K = roundUp4(shape.patchDim);
    const embed = this.matmul({}, { M: N - 1, N: d, K }, 0, { a: s.patches, b: weights.patchWeight, bias: weights.patchBias, residual: weights.patchPositions, out: s.embedded }, 'embed');
    // M = 1 reads only row 0: the class token.
    dispatches.push(this.matmul({ normA: true }, { M: 1, N: config.num_classes, K: d }, ALPHA_HEAD_NORM_EPS, { a: z, b: weights.headFolded, bias: weights.headBias, out: s.logits }, 'head'));
    const prepared = (dispatch: Dispatch) => prepare(this.device, this.cache, dispatch);
    const plan: Plan = { embed: prepared(embed), dispatches: dispatches.map(prepared), layers: keepLayers ? kept : undefined };
    this.plans.set(keepLayers, plan);
    return plan;
  }

  /** Dispatches per layer in the logits-only plan (the head's one excluded), which the issue bounds by seven. */
  dispatchesPerLayer(): number {
    return (this.plan(false).dispatches.length - 1) / this.model.config.depth;
  }

  /** One normalised image [C, H, W]; with `layers`, every layer's W, attention, Z½, z2 and Z⁺ read back. */
  async run(image: Float32Array, options: { layers?: boolean } = {}): Promise<ForwardOutputs> {
    const { config, shape } = this.model;
    const { device, buffers: s } = this;
    const N = shape.tokens;
    const d = config.dim;
    const K = roundUp4(shape.patchDim);
    const expected = config.channels * shape.imageHeight * shape.imageWidth;
    if (image.length !== expected) throw new EngineError(`image has ${image.length} values; the model needs ${config.channels}×${shape.imageHeight}×${shape.imageWidth}`);
    device.pushErrorScope('validation');
    const plan = this.plan(options.layers !== false);
    const validation = await device.popErrorScope();
    if (validation) throw new EngineError(`WebGPU rejected a kernel: ${validation.message}`);

    device.queue.writeBuffer(s.patches, 0, padRows(patchify(this.model, image), N - 1, shape.patchDim, K) as Float32Array<ArrayBuffer>);
    const encoder = device.createCommandEncoder({ label: 'crate-alpha forward' });
    let pass = encoder.beginComputePass({ label: 'patch embedding' });
    encodeDispatch(pass, plan.embed);
    pass.end();
    encoder.copyBufferToBuffer(s.embedded, 0, s.z0, d * 4, (N - 1) * d * 4);
    pass = encoder.beginComputePass({ label: 'layers and head' });
    for (const prepared of plan.dispatches) encodeDispatch(pass, prepared);
    pass.end();
    encoder.copyBufferToBuffer(s.logits, 0, s.logitsReadback, 0, config.num_classes * 4);
    device.queue.submit([encoder.finish()]);
    await s.logitsReadback.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(s.logitsReadback.getMappedRange().slice(0));
    s.logitsReadback.unmap();
    if (!plan.layers) return { logits, layers: [] };

    const wide = config.ratio * d;
    const sizes = { w: N * shape.innerDim, probabilities: config.heads * N * N, zHalf: N * d, z2: N * wide, zNext: N * d };
    const names = ['w', 'probabilities', 'zHalf', 'z2', 'zNext'] as const;
    const read = await readBuffers(device, plan.layers.flatMap((layer) => names.map((name) => ({ buffer: layer[name], floats: sizes[name] }))));
    const layers = plan.layers.map((_, l): AlphaLayerOutputs => {
      const [w, attention, zHalf, sparseCode, zNext] = read.slice(l * names.length, (l + 1) * names.length);
      return { w, attention, zHalf, zNext, sparseCode };
    });
    return { logits, layers };
  }

  /** The run with every layer, as the CPU reference's trace (each layer's input Z^ℓ included: Z⁰ is read back too). */
  async trace(image: Float32Array): Promise<AlphaForwardTrace> {
    const { logits, layers } = await this.run(image);
    const [z0] = await readBuffers(this.device, [{ buffer: this.buffers.z0, floats: this.model.shape.tokens * this.model.config.dim }]);
    return {
      logits,
      layers: (layers as AlphaLayerOutputs[]).map((layer, l) => ({ ...layer, z: l === 0 ? z0 : layers[l - 1].zNext })),
    };
  }

  destroy(): void {
    this.arena.destroyAll();
  }
}

/** The CRATE-α WGSL engine behind the runner interface (runner.ts); layers carry the sparse code. */
export function createAlphaGpuRunner(engine: AlphaGpuEngine): ModelRunner {
  return {
    kind: 'wgsl',
    run: (image, options = {}) => engine.run(image, { layers: options.layers }),
    async dispose() {
      engine.destroy();
    },
  };
}
