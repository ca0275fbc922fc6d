/**
 * Weights as the kernels want them, computed once at upload (in float64):
 * - LayerNorms that feed a Linear are folded into it, so the matmul only
 *   normalises its A rows: LN(x)·Uᵀ = ((x−μ)·rstd)·(U·diag γ)ᵀ + U·β.
 * - The ISTA dictionary is stored as D (for X·Dᵀ) and Dᵀ (for R·D), so both
 *   ISTA products are A·Bᵀ (docs/MEASUREMENTS.md §1 step 4).
 * - The patch-embedding Linear is zero-padded along K to a multiple of 4.
 */
import type { CrateModel, Norm } from '../model.ts';
import type { BufferArena } from './arena.ts';

export interface GpuLayerWeights {
  qkvFolded: GPUBuffer;
  qkvBias: GPUBuffer;
  outWeight: GPUBuffer;
  outBias: GPUBuffer;
  istaGamma: GPUBuffer;
  istaBeta: GPUBuffer;
  dictionary: GPUBuffer;
  dictionaryT: GPUBuffer;
}

export interface GpuWeights {
  patchGamma: GPUBuffer;
  patchBeta: GPUBuffer;
  patchWeightPadded: GPUBuffer;
  patchBias: GPUBuffer;
  embedGamma: GPUBuffer;
  embedBeta: GPUBuffer;
  posEmbedding: GPUBuffer;
  /** cls_token + pos_embedding[0]: row 0 of Z⁰ never depends on the image. */
  clsRow: GPUBuffer;
  layers: GpuLayerWeights[];
  headFolded: GPUBuffer;
  headBias: GPUBuffer;
}

export function roundUp4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** W·diag(γ) for W [rows, cols], and bias + W·β. */
export function foldNorm(w: Float32Array, rows: number, cols: number, norm: Norm, bias?: Float32Array) {
  const folded = new Float32Array(rows * cols);
  const foldedBias = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = bias ? bias[r] : 0;
    for (let c = 0; c < cols; c++) {
      folded[r * cols + c] = w[r * cols + c] * norm.weight[c];
      acc += w[r * cols + c] * norm.bias[c];
    }
    foldedBias[r] = acc;
  }
  return { folded, foldedBias };
}

export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

function padColumns(w: Float32Array, rows: number, cols: number, paddedCols: number): Float32Array {
  const out = new Float32Array(rows * paddedCols);
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cols, (r + 1) * cols), r * paddedCols);
  return out;
}

export function uploadWeights(arena: BufferArena, model: CrateModel): GpuWeights {
  const steps = uploadWeightsInSteps(arena, model);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same upload, one layer per step, so a page can yield between layers:
 * folding and writing a CRATE-B layer takes a few hundred ms on a slow
 * machine, and all twelve at once froze the page for ~3 s (issue 6).
 */
export function* uploadWeightsInSteps(arena: BufferArena, model: CrateModel): Generator<void, GpuWeights> {
  const { config, shape, weights } = model;
  const d = config.dim;
  const inner = shape.innerDim;
  const layers: GpuLayerWeights[] = [];
  for (const [i, layer] of weights.layers.entries()) {
    const qkv = foldNorm(layer.qkv, inner, d, layer.mssaNorm);
    layers.push({
      qkvFolded: arena.storage(`layer ${i} U·diag(γ1)`, qkv.folded),
      qkvBias: arena.storage(`layer ${i} U·β1`, qkv.foldedBias),
      outWeight: arena.storage(`layer ${i} to_out.weight`, layer.outWeight),
      outBias: arena.storage(`layer ${i} to_out.bias`, layer.outBias),
      istaGamma: arena.storage(`layer ${i} LN2 γ`, layer.istaNorm.weight),
      istaBeta: arena.storage(`layer ${i} LN2 β`, layer.istaNorm.bias),
      dictionary: arena.storage(`layer ${i} D`, layer.dictionary),
      dictionaryT: arena.storage(`layer ${i} Dᵀ`, transpose(layer.dictionary, d, d)),
    });
    yield;
  }
  const clsRow = new Float32Array(d);
  for (let i = 0; i < d; i++) clsRow[i] = weights.clsToken[i] + weights.posEmbedding[i];
  const head = foldNorm(weights.headWeight, config.num_classes, d, weights.headNorm, weights.headBias);
  return {
    patchGamma: arena.storage('patch LN γ', weights.patchNormIn.weight),
    patchBeta: arena.storage('patch LN β', weights.patchNormIn.bias),
    patchWeightPadded: arena.storage(
      'patch Linear (K padded)',
      padColumns(weights.patchWeight, d, shape.patchDim, roundUp4(shape.patchDim)),
    ),
    patchBias: arena.storage('patch Linear bias', weights.patchBias),
    embedGamma: arena.storage('embed LN γ', weights.patchNormOut.weight),
    embedBeta: arena.storage('embed LN β', weights.patchNormOut.bias),
    posEmbedding: arena.storage('pos_embedding', weights.posEmbedding),
    clsRow: arena.storage('cls_token + pos[0]', clsRow),
    layers,
    headFolded: arena.storage('head W·diag(γ)', head.folded),
    headBias: arena.storage('head bias + W·β', head.foldedBias),
  };
}
