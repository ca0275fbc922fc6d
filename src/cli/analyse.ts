/**
 * One image through the GPU engine (or the CPU reference), and the per-layer numbers the command
 * reports (docs/MEASUREMENTS.md §2): top-5 classes, the official coding rate of the
 * MSSA input, the zero fraction of Z^{ℓ+1}, and the class token's attention;
 * and each layer as an optimisation step (§2.1): the official coding rate of
 * the MSSA output under the same codebook, the LASSO objective before and
 * after the ISTA step, and the heads' subspace coherence.
 */
import { topClasses } from '../analysis/classes.ts';
import { officialCodingRate } from '../analysis/codingRate.ts';
import { layerObjective } from '../analysis/objective.ts';
import { sparsity } from '../analysis/sparsity.ts';
import { CAPTURE_TENSORS, type CaptureRequest, type CaptureTensor } from '../engine/gpu/capture.ts';
import type { CrateGpuEngine } from '../engine/gpu/engine.ts';
import type { ModelDescription } from '../engine/alphaModel.ts';
import type { CrateModel } from '../engine/model.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import { modelHeadCoherence } from '../analysis/analyseRun.ts';
import { checkFiniteLayer, checkFiniteLogits } from './finite.ts';

/** The adapter line when no GPU runs the model. */
export const CPU_NOTE = 'none: the CPU reference (TypeScript) runs this model';

/** What every run captures: what the report needs. */
export const REPORT_TENSORS: readonly CaptureTensor[] = ['w', 'zHalf', 'zNext', 'attention'];

export interface ImageReport {
  logits: Float32Array;
  top5: { label: string; probability: number }[];
  /** Per layer. */
  rateOfficial: number[];
  /** Per layer. */
  zeroFraction: number[];
  /** Per layer: official R^c of LN1^ℓ(Z^{ℓ+½})·U^ℓᵀ (docs/MEASUREMENTS.md §2.1). */
  rateMssaOut: number[];
  /** Per layer: the LASSO objective at Z = LN2^ℓ(Z^{ℓ+½}) and at Z = Z^{ℓ+1}. */
  lassoBefore: number[];
  lassoAfter: number[];
  /** Per layer, K×K row-major: ‖Q_kᵀQ_j‖²_F/dh of the heads' subspaces (weight-only). */
  headCoherence: Float64Array[];
  /** Per layer, per head: A_k[0, 1:]. */
  clsAttention: Float32Array[][];
  /** With `captureAll`: per layer, every captured tensor (row-major). */
  captures?: Record<CaptureTensor, Float32Array>[];
}

/** The JSON's top5 entries: label and probability only. */
export function topK(logits: ArrayLike<number>, labels: readonly string[], k: number): { label: string; probability: number }[] {
  return topClasses(logits, labels, k).map(({ label, probability }) => ({ label, probability }));
}

/** Row 0 of each head's attention matrix [heads, N, N], patches only. */
export function classTokenRows(attention: Float32Array, heads: number, tokens: number): Float32Array[] {
  return Array.from({ length: heads }, (_, h) => attention.slice(h * tokens * tokens + 1, h * tokens * tokens + tokens));
}

/** A report with the logits and top-5 filled and every per-layer list empty, for the layers to fill. */
export function emptyImageReport(logits: Float32Array, labels: readonly string[], captureAll: boolean): ImageReport {
  return {
    logits,
    top5: topK(logits, labels, 5),
    rateOfficial: [],
    zeroFraction: [],
    rateMssaOut: [],
    lassoBefore: [],
    lassoAfter: [],
    headCoherence: [],
    clsAttention: [],
    captures: captureAll ? [] : undefined,
  };
}

/** One layer's captured tensor, from whichever engine ran the image. */
type LayerTensorReader = (layer: number, tensor: CaptureTensor) => Float32Array | Promise<Float32Array>;

/** One image through the GPU engine. */
export async function analyseImage(engine: CrateGpuEngine, model: CrateModel, image: Float32Array, captureAll: boolean): Promise<ImageReport> {
  const request: CaptureRequest = { layers: 'all', tensors: captureAll ? CAPTURE_TENSORS : REPORT_TENSORS };
  const { logits, captures } = await engine.run(image, request);
  return reportFromLayers(model, logits, (l, tensor) => captures.read(l, tensor), captureAll);
}

/** One image through the CPU reference: models whose shapes the GPU kernels do not take (dim or dim_head not a multiple of 4). */
export function analyseImageOnCpu(model: CrateModel, image: Float32Array, captureAll: boolean): Promise<ImageReport> {
  const trace = cpuForward(model, image);
  return reportFromLayers(model, trace.logits, (l, tensor) => trace.layers[l][tensor], captureAll);
}

async function reportFromLayers(model: CrateModel, logits: Float32Array, readLayer: LayerTensorReader, captureAll: boolean): Promise<ImageReport> {
  const { config, shape } = model;
  const tensors = captureAll ? CAPTURE_TENSORS : REPORT_TENSORS;
  const report = emptyImageReport(logits, config.labels, captureAll);
  for (let l = 0; l < config.depth; l++) {
    const read = new Map<CaptureTensor, Float32Array>();
    for (const tensor of tensors) read.set(tensor, await readLayer(l, tensor));
    checkFiniteLayer(l, read); // a NaN is the image's result, not a crash in the rate below
    report.rateOfficial.push(officialCodingRate(read.get('w')!, shape.tokens, config.heads, config.dim_head));
    report.zeroFraction.push(sparsity(read.get('zNext')!).zeroFraction);
    const weights = model.weights.layers[l];
    const dims = { tokens: shape.tokens, dim: config.dim, heads: config.heads, dimHead: config.dim_head };
    const objective = layerObjective({ zHalf: read.get('zHalf')!, zNext: read.get('zNext')! }, weights, dims, config.lambda);
    report.rateMssaOut.push(objective.rateMssaOut);
    report.lassoBefore.push(objective.lassoBefore);
    report.lassoAfter.push(objective.lassoAfter);
    report.headCoherence.push(modelHeadCoherence(model)[l].matrix);
    report.clsAttention.push(classTokenRows(read.get('attention')!, config.heads, shape.tokens));
    report.captures?.push(Object.fromEntries(read) as Record<CaptureTensor, Float32Array>);
  }
  checkFiniteLogits(logits);
  return report;
}

/** Row-major shapes of the captured tensors, for readers of the JSON. */
export function captureShapes(model: ModelDescription): Record<CaptureTensor, number[]> {
  const { config, shape } = model;
  const N = shape.tokens;
  return { z: [N, config.dim], w: [N, shape.innerDim], attention: [config.heads, N, N], zHalf: [N, config.dim], zNext: [N, config.dim] };
}
