import type { TuningSource } from '../kernels/autotune.ts';
import type { GpuProfile } from './gpu/profiler.ts';

/**
 * One interface over the three ways the app can run a model: our WGSL engine,
 * onnxruntime-web (WebGPU or WASM execution provider), and the CPU reference.
 * Everything after the engine (analysis, state, views) sees only this.
 */

/** The per-layer tensors every view is computed from (row-major, batch of one). */
export interface LayerOutputs {
  /** W = LN1(Z^ℓ)·Uᵀ, [N, heads·dh]: the official coding rate's input (docs/MEASUREMENTS.md §2). */
  w: Float32Array;
  /** Attention probabilities A_k, [heads, N, N]. */
  attention: Float32Array;
  /** Z^{ℓ+½}, [N, d]. */
  zHalf: Float32Array;
  /** Z^{ℓ+1}, [N, d]. */
  zNext: Float32Array;
}

/** A CRATE-α layer's outputs also carry its sparse code z2, [N, r·d] (docs/MEASUREMENTS.md §1.1). */
export interface AlphaLayerOutputs extends LayerOutputs {
  sparseCode: Float32Array;
}

/**
 * The tensor whose exact zeros are a layer's sparsity and whose values its histogram shows
 * (docs/MEASUREMENTS.md §2): CRATE-α's sparse code z2 where there is one, else Z^{ℓ+1}.
 */
export function sparseCodeOf(layer: LayerOutputs): Float32Array {
  const code = (layer as Partial<AlphaLayerOutputs>).sparseCode;
  return code instanceof Float32Array ? code : layer.zNext;
}

export interface ForwardOutputs {
  logits: Float32Array;
  /** Empty when the run was asked for logits only. */
  layers: LayerOutputs[];
  /** GPU time per dispatch (timestamp queries), when asked for and the engine has it (ours only). */
  profile?: GpuProfile;
  /** The kernel variants that ran, for our WGSL engine only (issue 18); absent for every other engine. */
  kernels?: KernelsUsed;
}

/** Which variant of each tunable kernel a run used, and where that choice came from. */
export interface KernelsUsed {
  /** Kernel name (src/kernels/variants.ts TUNABLE_KERNELS) → variant name. */
  variants: Record<string, string>;
  /** Kernel name → "8x8 (8×8 outputs per invocation, vec4 loads)". */
  descriptions?: Record<string, string>;
  /** tuned (timed now), cached (timed earlier on this adapter), default, given, or fallback (tuning failed). */
  source: TuningSource;
  /** How long tuning took when it ran for this runner, ms. */
  tuneMillis?: number;
  /** What the tuning budget cut short, which candidates it dropped, or why tuning failed. */
  note?: string;
  /**
   * Kernel name → relative deviation of the chosen variant's output from the
   * default f32 variant's (`from`), measured by this tuning; absent for a
   * cached or default choice.
   */
  deviations?: Record<string, { deviation: number; from: string }>;
  /** The tuning cache key's adapter part. */
  adapter?: string;
}

export type EngineKind = 'wgsl' | 'ort-webgpu' | 'ort-wasm' | 'cpu';

export const ENGINE_LABELS: Record<EngineKind, string> = {
  wgsl: 'our WGSL engine (WebGPU)',
  'ort-webgpu': 'onnxruntime-web, WebGPU EP',
  'ort-wasm': 'onnxruntime-web, WASM EP',
  cpu: 'CPU reference (TypeScript)',
};

export interface ModelRunner {
  readonly kind: EngineKind;
  /** `image` is the normalised [C, H, W] tensor (preprocess.ts); `layers: false` skips every per-layer output. */
  run(image: Float32Array, options?: { layers?: boolean; profile?: boolean }): Promise<ForwardOutputs>;
  /** Frees GPU buffers or the ORT session; the runner is unusable afterwards. */
  dispose(): Promise<void>;
  /**
   * Times the kernel variants again, ignoring the cached choice (the engine
   * panel's "Retune kernels"); the next run uses the new choice. Only runners
   * with tunable kernels (our WGSL engine) have it.
   */
  retune?(onProgress?: (note: string, fraction?: number) => void): Promise<void>;
  /** Chooses the kernel variants once (the cached choice, else a timing within the budget), where a runner defers it past its first image. */
  tune?(onProgress?: (note: string, fraction?: number) => void): Promise<void>;
}

/** max |a − b| / max |b| over the logits and every layer tensor both runs have: how far two engines disagree. */
export function maxRelativeDeviation(a: ForwardOutputs, b: ForwardOutputs): { logits: number; layers: number } {
  const relative = (x: Float32Array, y: Float32Array) => {
    if (x.length !== y.length) return Infinity;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      diff = d > diff || Number.isNaN(d) ? (Number.isNaN(d) ? Infinity : d) : diff;
      scale = Math.max(scale, Math.abs(y[i]));
    }
    return diff / Math.max(scale, 1e-30);
  };
  let layers = 0;
  const depth = Math.min(a.layers.length, b.layers.length);
  for (let l = 0; l < depth; l++) {
    for (const key of ['w', 'attention', 'zHalf', 'zNext'] as const) layers = Math.max(layers, relative(a.layers[l][key], b.layers[l][key]));
    const [codeA, codeB] = [sparseCodeOf(a.layers[l]), sparseCodeOf(b.layers[l])];
    if (codeA !== a.layers[l].zNext || codeB !== b.layers[l].zNext) layers = Math.max(layers, relative(codeA, codeB));
  }
  return { logits: relative(a.logits, b.logits), layers };
}
