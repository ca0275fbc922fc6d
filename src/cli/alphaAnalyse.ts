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
import { sparsity } from '../analysis/sparsity.ts';
import type { CrateAlphaModel } from '../engine/alphaModel.ts';
import type { AlphaForwardTrace } from '../engine/cpu/alphaReference.ts';
import type { CaptureTensor } from '../engine/gpu/capture.ts';
import { modelHeadCoherence, objectiveOfLayer } from '../analysis/analyseRun.ts';
import { classTokenRows, emptyImageReport, type ImageReport } from './analyse.ts';
import { checkFiniteLayer, checkFiniteLogits } from './finite.ts';

export function analyseAlphaTrace(model: CrateAlphaModel, trace: AlphaForwardTrace, captureAll: boolean): ImageReport {
  const { config, shape } = model;
  const { logits, layers } = trace;
  const report = emptyImageReport(logits, config.labels, captureAll);
  layers.forEach((layer, l) => {
    const read: [CaptureTensor, Float32Array][] = [['z', layer.z], ['w', layer.w], ['attention', layer.attention], ['zHalf', layer.zHalf], ['zNext', layer.zNext]];
    checkFiniteLayer(l, read);
    report.rateOfficial.push(officialCodingRate(layer.w, shape.tokens, config.heads, config.dim_head));
    report.zeroFraction.push(sparsity(layer.sparseCode).zeroFraction);
    report.rateMssaOut.push(objectiveOfLayer(model, trace, l).rateMssaOut);
    report.lassoBefore.push(Number.NaN);
    report.lassoAfter.push(Number.NaN);
    report.headCoherence.push(modelHeadCoherence(model)[l].matrix);
    report.clsAttention.push(classTokenRows(layer.attention, config.heads, shape.tokens));
    report.captures?.push(Object.fromEntries(read) as Record<CaptureTensor, Float32Array>);
  });
  checkFiniteLogits(logits);
  return report;
}
