/**
 * Times kernel variants on the engine's own device, at the model's shapes,
 * for the autotuner (src/kernels/autotune.ts): random operands in buffers of
 * their own, one warm-up per variant (pipeline creation, first touch), then
 * wall-clock time from submit to onSubmittedWorkDone. Wall clock rather than
 * timestamp queries, so that every adapter can be tuned; what is compared is
 * variants of one kernel on the same device, which the submit overhead does
 * not reorder.
 */
import { attentionDispatch, attentionParams, type AttentionVariantName } from '../../kernels/attention.ts';
import { layerNormDispatch, layerNormParams } from '../../kernels/layerNorm.ts';
import { matmulDispatch, matmulParams, type MatmulVariantName } from '../../kernels/matmul.ts';
import { encodeDispatch, PipelineCache, prepare, type Dispatch } from '../../kernels/program.ts';
import type { TuningShape } from '../../kernels/autotune.ts';
import { DEFAULT_VARIANTS, type TunableKernel } from '../../kernels/variants.ts';
import { BufferArena, readBuffers } from './arena.ts';

function noise(length: number, seed: number): Float32Array {
  // A fixed LCG: the values only need to be ordinary floats, not random.
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

export interface KernelTimer {
  time(kernel: TunableKernel, variant: string): Promise<number>;
  /** Relative deviation of the variant's outputs from the default variant's: max |Δ| ÷ max |default| (src/kernels/autotune.ts). */
  deviation(kernel: TunableKernel, variant: string): Promise<number>;
  destroy(): void;
}

/** max |x − reference| ÷ max |reference| over all outputs; NaN anywhere in x gives NaN. */
export function relativeDeviation(outputs: readonly Float32Array[], references: readonly Float32Array[]): number {
  let worst = 0;
  let scale = 0;
  for (const [i, reference] of references.entries()) {
    const output = outputs[i];
    for (let j = 0; j < reference.length; j++) {
      const difference = Math.abs(output[j] - reference[j]);
      if (Number.isNaN(difference)) return NaN;
      worst = Math.max(worst, difference);
      scale = Math.max(scale, Math.abs(reference[j]));
    }
  }
  return worst / Math.max(scale, Number.MIN_VALUE);
}

/**
 * The dispatches one timing of a kernel runs: the model's qkv and ISTA-step
 * products for matmul, its attention for attention, and for qkvNorm the qkv
 * product with LN1 fused or run before it (with the default matmul variant). Given the engine's
 * pipeline cache, the chosen variant's pipelines are compiled once, here.
 */
export function createKernelTimer(device: GPUDevice, shape: TuningShape, cache = new PipelineCache(device), now: () => number = () => performance.now()): KernelTimer {
  const arena = new BufferArena(device);
  const { tokens: N, dim: d, heads, dimHead } = shape;
  const inner = heads * dimHead;
  const z = arena.storage('tune Z', noise(N * d, 1));
  const w = arena.storage('tune W', noise(N * inner, 2));
  const qkv = arena.storage('tune qkv weight', noise(inner * d, 3));
  const dictionary = arena.storage('tune dictionary', noise(d * d, 4));
  const bias = arena.storage('tune bias', noise(Math.max(inner, d), 5));
  const outW = arena.activation('tune W out', N * inner);
  const outZ = arena.activation('tune Z out', N * d);
  const unused = arena.activation('tune unused', 4);
  const normalised = arena.activation('tune LN1(Z)', N * d);
  const unitGamma = arena.storage('tune unit γ', new Float32Array(d).fill(1));
  const zeroBeta = arena.storage('tune zero β', new Float32Array(d));
  const normShape = { rows: N, cols: d };
  const normParams = arena.uniform('tune norm params', layerNormParams(normShape));
  const qkvShape = { M: N, N: inner, K: d };
  const stepShape = { M: N, N: d, K: d, alpha: 0.1, beta: 1, shift: -0.01 };
  const attentionShape = { tokens: N, heads, dimHead };
  const qkvParams = arena.uniform('tune qkv params', matmulParams(qkvShape));
  const stepParams = arena.uniform('tune step params', matmulParams(stepShape));
  const attnParams = arena.uniform('tune attention params', attentionParams(attentionShape));

  const qkvProduct = (normA: boolean, a: GPUBuffer, matmul: MatmulVariantName) =>
    matmulDispatch({ normA, bias: true }, qkvShape, { params: qkvParams, a, b: qkv, bias, residual: unused, out: outW }, 'tune', matmul);
  const dispatches = (kernel: TunableKernel, variant: string): Dispatch[] => {
    switch (kernel) {
      case 'matmul':
        return [
          qkvProduct(true, z, variant as MatmulVariantName),
          matmulDispatch({ residual: true, relu: true }, stepShape, { params: stepParams, a: z, b: dictionary, bias: unused, residual: z, out: outZ }, 'tune', variant as MatmulVariantName),
        ];
      case 'attention':
        return [attentionDispatch(attentionShape, false, { params: attnParams, w, out: outW, probabilities: unused }, 'tune', variant as AttentionVariantName)];
      case 'qkvNorm':
        return variant === 'fused'
          ? [qkvProduct(true, z, DEFAULT_VARIANTS.matmul)]
          : [
              layerNormDispatch(normShape, { params: normParams, x: z, gamma: unitGamma, beta: zeroBeta, out: normalised, unused }, 'tune'),
              qkvProduct(false, normalised, DEFAULT_VARIANTS.matmul),
            ];
    }
  };

  /** What each kernel's dispatches write, read back for the deviation check. */
  const outputs: Record<TunableKernel, { buffer: GPUBuffer; floats: number }[]> = {
    matmul: [
      { buffer: outW, floats: N * inner },
      { buffer: outZ, floats: N * d },
    ],
    attention: [{ buffer: outW, floats: N * inner }],
    qkvNorm: [{ buffer: outW, floats: N * inner }],
  };
  const references = new Map<TunableKernel, Float32Array[]>();

  const warmed = new Set<string>();
  /** Which kernel and variant wrote the output buffers last (they are shared between kernels), so a check reads them without running it again. */
  let lastRun: string | undefined;
  const runOnce = async (kernel: TunableKernel, variant: string): Promise<number> => {
    lastRun = undefined;
    device.pushErrorScope('validation');
    let ms = NaN;
    let failure: unknown;
    try {
      const prepared = dispatches(kernel, variant).map((d) => prepare(device, cache, d));
      const start = now();
      const encoder = device.createCommandEncoder({ label: `tune ${kernel} ${variant}` });
      const pass = encoder.beginComputePass();
      for (const p of prepared) encodeDispatch(pass, p);
      pass.end();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      ms = now() - start;
    } catch (error) {
      failure = error;
    }
    const error = await device.popErrorScope();
    if (error) throw new Error(`${kernel} ${variant}: ${error.message}`);
    if (failure) throw failure;
    lastRun = `${kernel}/${variant}`;
    return ms;
  };
  /** The kernel's outputs as `variant` writes them: read straight back when it was the last to run (the tuner checks right after timing). */
  const outputsOf = async (kernel: TunableKernel, variant: string): Promise<Float32Array[]> => {
    if (lastRun !== `${kernel}/${variant}`) await runOnce(kernel, variant);
    return readBuffers(device, outputs[kernel]);
  };
  return {
    async time(kernel, variant) {
      const key = `${kernel}/${variant}`;
      if (!warmed.has(key)) {
        await runOnce(kernel, variant);
        warmed.add(key);
      }
      return runOnce(kernel, variant);
    },
    async deviation(kernel, variant) {
      let reference = references.get(kernel);
      if (!reference) {
        reference = await outputsOf(kernel, DEFAULT_VARIANTS[kernel]);
        references.set(kernel, reference);
      }
      return relativeDeviation(await outputsOf(kernel, variant), reference);
    },
    destroy: () => arena.destroyAll(),
  };
}
