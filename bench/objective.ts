/**
 * `node scripts/run-ts.mjs bench/objective.ts [model…]`: is each layer of the
 * shipped models one optimisation step (docs/MEASUREMENTS.md §2.1)? For every
 * shipped sample it runs the CPU reference and measures, per layer, ΔRᶜ =
 * rate_official − rate_mssa_out (MSSA compressed under its own codebook when
 * > 0) and ΔLASSO = lasso_before − lasso_after (ISTA lowered its objective
 * when > 0); then prints, per model, in how many layers the mean Δ is
 * positive, the share of (image, layer) pairs where it is, and the mean
 * off-diagonal head coherence against the random-subspace reference dh/d.
 * `--timing` also times the added per-image measures on a CRATE-T-shaped
 * random model (N = 197, d = 384, 12 layers of 6 heads × 64).
 * A measurement, not a test.
 */
import { officialCodingRate } from '../src/analysis/codingRate.ts';
import { meanOffDiagonal } from '../src/analysis/coherence.ts';
import { meanStd, median } from '../src/analysis/dataset.ts';
import { cpuForward } from '../src/engine/cpu/reference.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { modelWeightMeasures, objectiveOfOutputs, paperRates } from '../src/analysis/analyseRun.ts';
import { randomImage, randomModel } from '../test/helpers/randomModel.ts';
import { loadShippedModel } from '../test/helpers/shippedModels.ts';

const args = process.argv.slice(2);
const timing = args.includes('--timing');
const ids = args.filter((a) => !a.startsWith('--'));
const fmt = (v: number, digits = 3) => (v >= 0 ? ' ' : '') + v.toFixed(digits);

for (const id of ids.length ? ids : ['digits', 'fashion', 'scenes']) {
  const shipped = loadShippedModel(id);
  const { config, shape } = shipped.model;
  const rateDeltas: number[][] = [];
  const lassoDeltas: number[][] = [];
  const rates: number[][] = [];
  for (const sample of shipped.samples) {
    const trace = cpuForward(shipped.model, imageToTensor(sample, config));
    const objective = objectiveOfOutputs(shipped.model, { logits: trace.logits, layers: trace.layers });
    const official = trace.layers.map((l) => officialCodingRate(l.w, shape.tokens, config.heads, config.dim_head));
    rates.push(official);
    rateDeltas.push(official.map((r, l) => r - objective[l].rateMssaOut));
    lassoDeltas.push(objective.map((v) => v.lassoBefore - v.lassoAfter));
  }
  const rate = meanStd(rateDeltas, 'sample');
  const lasso = meanStd(lassoDeltas, 'population');
  const share = (deltas: number[][]) => deltas.flat().filter((d) => d > 0).length / deltas.flat().length;
  const coherence = modelWeightMeasures(shipped.model).map((m) => meanOffDiagonal(m.headCoherence.matrix, config.heads));
  const dictionary = modelWeightMeasures(shipped.model).map((m) => m.dictionary.gramDeviation);
  console.log(`\n${id}: ${shipped.samples.length} samples, ${config.depth} layers, ${config.heads} heads × ${config.dim_head}, d ${config.dim}, N ${shape.tokens}`);
  console.log('layer  Rᶜ official   ΔRᶜ = official − mssa_out (mean ± std, n−1)   ΔLASSO = before − after (mean ± std, n)   head coherence (off-diag)   ‖DᵀD−I‖/√d');
  const official = meanStd(rates, 'sample');
  for (let l = 0; l < config.depth; l++) {
    console.log(
      `${String(l).padStart(5)}  ${official.mean[l].toFixed(3).padStart(11)}   ${fmt(rate.mean[l])} ± ${rate.std[l].toFixed(3)}`.padEnd(77) +
        `${fmt(lasso.mean[l], 4)} ± ${lasso.std[l].toFixed(4)}`.padEnd(42) +
        `${coherence[l].toFixed(4)}`.padEnd(28) +
        dictionary[l].toFixed(4),
    );
  }
  const positive = (m: Float64Array) => Array.from(m).filter((v) => v > 0).length;
  const meanCoherence = coherence.reduce((a, b) => a + b, 0) / coherence.length;
  console.log(`MSSA compresses under its own codebook (mean ΔRᶜ > 0) in ${positive(rate.mean)}/${config.depth} layers; ΔRᶜ > 0 in ${(100 * share(rateDeltas)).toFixed(1)}% of image×layer pairs; mean ΔRᶜ over layers ${fmt(rate.mean.reduce((a, b) => a + b, 0) / config.depth)}`);
  console.log(`ISTA lowers the LASSO objective (mean ΔLASSO > 0) in ${positive(lasso.mean)}/${config.depth} layers; ΔLASSO > 0 in ${(100 * share(lassoDeltas)).toFixed(1)}% of image×layer pairs; mean ΔLASSO over layers ${fmt(lasso.mean.reduce((a, b) => a + b, 0) / config.depth, 4)}`);
  console.log(`mean off-diagonal head coherence ${meanCoherence.toFixed(4)} (layers ${Math.min(...coherence).toFixed(4)}–${Math.max(...coherence).toFixed(4)}) vs random subspaces dh/d = ${(config.dim_head / config.dim).toFixed(4)}`);
}

if (timing) {
  const model = randomModel({ image_size: 224, patch_size: 16, channels: 3, dim: 384, depth: 12, heads: 6, dim_head: 64, num_classes: 1000 }, 3);
  const trace = cpuForward(model, randomImage(model, 4));
  const outputs = { logits: trace.logits, layers: trace.layers };
  const zeros = trace.layers.reduce((a, l) => a + l.zNext.filter((v) => v === 0).length / l.zNext.length, 0) / trace.layers.length;
  // CPU time of this process, not wall time: the machine may be shared, and the measures are single-threaded.
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  const time = async (task: () => unknown) => {
    const runs: number[] = [];
    for (let r = 0; r < 5; r++) {
      const start = process.cpuUsage();
      await task();
      runs.push(cpuMs(start));
    }
    return median(runs);
  };
  modelWeightMeasures(model); // weight-only, once per model: timed apart
  const objectiveMs = await time(() => objectiveOfOutputs(model, outputs));
  const paperMs = await time(() => paperRates(model, outputs));
  const other = randomModel({ image_size: 224, patch_size: 16, channels: 3, dim: 384, depth: 12, heads: 6, dim_head: 64, num_classes: 1000 }, 5);
  const coherenceStart = process.cpuUsage();
  modelWeightMeasures(other);
  const coherenceMs = cpuMs(coherenceStart);
  console.log(`\nCRATE-T shape (N 197, d 384, 12 layers, 6 × 64; Z^{ℓ+1} ${(100 * zeros).toFixed(0)}% zeros), median CPU time of 5, this machine:`);
  console.log(`  objective measures per image (rate_mssa_out + LASSO before/after, 12 layers): ${objectiveMs.toFixed(0)} ms`);
  console.log(`  for scale, the paper-formula Rᶜ the app already computes per image: ${paperMs.toFixed(0)} ms`);
  console.log(`  weight-only measures (head coherence, dictionary incoherence), once per model: ${coherenceMs.toFixed(0)} ms`);
  const digits = loadShippedModel('digits');
  const digitsTrace = cpuForward(digits.model, imageToTensor(digits.samples[0], digits.model.config));
  const digitsOutputs = { logits: digitsTrace.logits, layers: digitsTrace.layers };
  console.log(`digits (N 50, d 96, 6 layers): objective measures ${(await time(() => objectiveOfOutputs(digits.model, digitsOutputs))).toFixed(1)} ms per image, paper-formula Rᶜ ${(await time(() => paperRates(digits.model, digitsOutputs))).toFixed(1)} ms`);
}
