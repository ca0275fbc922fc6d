/**
 * The per-image report of `crate-explorer run` (docs/MEASUREMENTS.md §2, §2.1), from whichever
 * engine ran the image: the GPU engine of the model's family or its CPU reference. The figures
 * come from the analysis entry point (src/analysis/analyseRun.ts), as the app's and `stats`'s do:
 * top-5 classes, the official coding rate of the MSSA input, the zero fraction of the sparse code
 * (Z^{ℓ+1}; CRATE-α's z2, §1.1), R^c of the MSSA output, the LASSO objective before and after
 * the ISTA step (not defined for CRATE-α: null, §1.1), the heads' subspace coherence; and the
 * class token's attention.
 */
import { analyseImageOutputs } from '../analysis/analyseRun.ts';
import type { AnyCrateModel, ModelDescription } from '../engine/alphaModel.ts';
import { CAPTURE_TENSORS, type CaptureTensor } from '../engine/gpu/capture.ts';
import type { CrateGpuEngine } from '../engine/gpu/engine.ts';
import type { CrateModel } from '../engine/model.ts';
import type { LayerOutputs } from '../engine/runner.ts';
import { checkFiniteLayer, checkFiniteLogits } from './finite.ts';

/** The adapter line when no GPU runs the model. */
export const CPU_NOTE = 'none: the CPU reference (TypeScript) runs this model';

/** What every run captures: what the report needs. */
const REPORT_TENSORS: readonly CaptureTensor[] = ['w', 'zHalf', 'zNext', 'attention'];

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

/** Row 0 of each head's attention matrix [heads, N, N], patches only. */
function classTokenRows(attention: Float32Array, heads: number, tokens: number): Float32Array[] {
  return Array.from({ length: heads }, (_, h) => attention.slice(h * tokens * tokens + 1, h * tokens * tokens + tokens));
}

/** One layer's tensors as an engine ran them: the report's four, Z^ℓ and CRATE-α's z2 where there. */
export type RunLayer = LayerOutputs & { z?: Float32Array; sparseCode?: Float32Array };

/**
 * The report of one run. A NaN or an infinity in any tensor the run kept throws NonFiniteError
 * (finite.ts) before the analysis sees it; `captureAll` keeps every captured tensor.
 */
export function imageReport(model: AnyCrateModel, logits: Float32Array, layers: readonly RunLayer[], captureAll: boolean): ImageReport {
  const kept = layers.map((layer) => CAPTURE_TENSORS.flatMap((name): [CaptureTensor, Float32Array][] => (layer[name] ? [[name, layer[name]]] : [])));
  kept.forEach((tensors, l) => checkFiniteLayer(l, tensors));
  checkFiniteLogits(logits);
  const { config, shape } = model;
  const figures = analyseImageOutputs(model, { logits, layers }, { paperRate: false });
  return {
    logits,
    top5: figures.top.map(({ label, probability }) => ({ label, probability })),
    rateOfficial: figures.layers.map((l) => l.codingRate),
    zeroFraction: figures.layers.map((l) => l.sparseCode.zeroFraction),
    rateMssaOut: figures.layers.map((l) => l.rateMssaOut),
    lassoBefore: figures.layers.map((l) => l.lassoBefore ?? Number.NaN),
    lassoAfter: figures.layers.map((l) => l.lassoAfter ?? Number.NaN),
    headCoherence: figures.layers.map((l) => l.headCoherence.matrix),
    clsAttention: layers.map((layer) => classTokenRows(layer.attention, config.heads, shape.tokens)),
    captures: captureAll ? kept.map((tensors) => Object.fromEntries(tensors) as Record<CaptureTensor, Float32Array>) : undefined,
  };
}

/** One image through the GPU engine: every layer's captures read back, then the report. */
export async function imageReportOnGpu(engine: CrateGpuEngine, model: CrateModel, image: Float32Array, captureAll: boolean): Promise<ImageReport> {
  const tensors = captureAll ? CAPTURE_TENSORS : REPORT_TENSORS;
  const { logits, captures } = await engine.run(image, { layers: 'all', tensors });
  const layers: RunLayer[] = [];
  for (let l = 0; l < model.config.depth; l++) {
    const read: Partial<Record<CaptureTensor, Float32Array>> = {};
    for (const tensor of tensors) read[tensor] = await captures.read(l, tensor);
    layers.push(read as RunLayer);
  }
  return imageReport(model, logits, layers, captureAll);
}

/** Row-major shapes of the captured tensors, for readers of the JSON. */
export function captureShapes(model: ModelDescription): Record<CaptureTensor, number[]> {
  const { config, shape } = model;
  const N = shape.tokens;
  return { z: [N, config.dim], w: [N, shape.innerDim], attention: [config.heads, N, N], zHalf: [N, config.dim], zNext: [N, config.dim] };
}
