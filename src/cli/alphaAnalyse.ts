/**
 * One image's CRATE-α forward trace (the WGSL engine's or the CPU reference's), and the same
 * per-layer report as analyse.ts gives for CRATE, with the measures as docs/MEASUREMENTS.md
 * defines them for CRATE-α:
 * - sparsity is the zero fraction of the sparse code z2 (§1.1), not of Z^{ℓ+1} (which carries
 *   a residual and is dense);
 * - the official Rᶜ of the MSSA input and of the MSSA output (through LN1, eps 1e-6, and U) and
 *   the heads' coherence apply unchanged;
 * - the LASSO objective before and after the ISTA step (§2.1) does not apply: CRATE-α's block
 *   starts its two steps from z = 0 with an overcomplete D and adds z2·D1ᵀ to its input, so the
 *   report gives null (NaN) for it.
 */
import { officialCodingRate } from '../analysis/codingRate.ts';
import { headCoherence } from '../analysis/coherence.ts';
import { sparsity } from '../analysis/sparsity.ts';
import { ALPHA_BLOCK_NORM_EPS, type CrateAlphaModel } from '../engine/alphaModel.ts';
import type { AlphaForwardTrace } from '../engine/cpu/alphaReference.ts';
import { layerNorm, linear } from '../engine/cpu/linalg.ts';
import type { CaptureTensor } from '../engine/gpu/capture.ts';
import { classTokenRows, emptyImageReport, type ImageReport } from './analyse.ts';
import { checkFiniteLayer, checkFiniteLogits } from './finite.ts';

/** What the command says when CRATE-α runs on the CPU (printed and in the JSON's "adapter"). */

export function analyseAlphaTrace(model: CrateAlphaModel, trace: AlphaForwardTrace, captureAll: boolean): ImageReport {
  const { config, shape } = model;
  const { logits, layers } = trace;
  const report = emptyImageReport(logits, config.labels, captureAll);
  layers.forEach((layer, l) => {
    const read: [CaptureTensor, Float32Array][] = [['z', layer.z], ['w', layer.w], ['attention', layer.attention], ['zHalf', layer.zHalf], ['zNext', layer.zNext]];
    checkFiniteLayer(l, read);
    const weights = model.weights.layers[l];
    report.rateOfficial.push(officialCodingRate(layer.w, shape.tokens, config.heads, config.dim_head));
    report.zeroFraction.push(sparsity(layer.sparseCode).zeroFraction);
    const outputW = linear(layerNorm(layer.zHalf, shape.tokens, config.dim, weights.mssaNorm, ALPHA_BLOCK_NORM_EPS), shape.tokens, config.dim, weights.qkv, shape.innerDim);
    report.rateMssaOut.push(officialCodingRate(outputW, shape.tokens, config.heads, config.dim_head));
    report.lassoBefore.push(Number.NaN);
    report.lassoAfter.push(Number.NaN);
    report.headCoherence.push(headCoherence(weights.qkv, config.heads, config.dim_head, config.dim).matrix);
    report.clsAttention.push(classTokenRows(layer.attention, config.heads, shape.tokens));
    report.captures?.push(Object.fromEntries(read) as Record<CaptureTensor, Float32Array>);
  });
  checkFiniteLogits(logits);
  return report;
}
