/**
 * `node scripts/run-ts.mjs bench/segmentation.ts [model]`: which segmentation
 * method and threshold segment the scene model's shipped samples best
 * (docs/MEASUREMENTS.md §2, segmentation from attention)? For every sample
 * with a ground-truth mask it runs the CPU reference, takes the class
 * token's attention maps of every layer, and prints the mean IoU over
 * samples × layers of three masks: the mean over heads (no oracle), the union
 * of heads (no oracle), and the best head (picked with the mask: an oracle).
 * The app's default (src/analysis/segmentation.ts, DEFAULT_SEGMENTATION) is
 * the row with the largest "no-oracle mean", the average of the two masks
 * that do not look at the ground truth. A measurement, not a test.
 */
import { attentionMaps } from '../src/analysis/attention.ts';
import { segmentationScores, type SegmentationMethod } from '../src/analysis/segmentation.ts';
import { cpuForward } from '../src/engine/cpu/reference.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { loadShippedModel } from '../test/helpers/shippedModels.ts';

const id = process.argv[2] ?? 'scenes';
const shipped = loadShippedModel(id);
if (!shipped.masks) throw new Error(`model ${id} ships no masks`);
const { config, shape } = shipped.model;
const grid = { height: shape.gridHeight, width: shape.gridWidth };
const image = { height: shipped.samples[0].height, width: shipped.samples[0].width };

const methods: SegmentationMethod[] = [
  ...[0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map((fraction) => ({ kind: 'top' as const, fraction })),
  ...[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((fraction) => ({ kind: 'mass' as const, fraction })),
];
const sums = methods.map(() => ({ mean: 0, union: 0, best: 0 }));
let count = 0;
const started = performance.now();
shipped.samples.forEach((sample, i) => {
  const trace = cpuForward(shipped.model, imageToTensor(sample, config));
  for (const layer of trace.layers) {
    const maps = attentionMaps(layer.attention, config.heads, shape.tokens, grid, 0).heads;
    methods.forEach((method, m) => {
      const scores = segmentationScores(maps, method, grid, shipped.masks![i], image);
      sums[m].mean += scores.meanOfHeads;
      sums[m].union += scores.union;
      sums[m].best += scores.best.iou;
    });
    count++;
  }
});
console.log(`${id}: ${shipped.samples.length} samples × ${config.depth} layers, ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log('method  threshold  mean-of-heads  union   no-oracle mean  best head (oracle)');
methods.forEach((method, m) => {
  const f = (v: number) => (v / count).toFixed(3).padStart(7);
  console.log(`${method.kind.padEnd(6)}  ${String(method.fraction).padEnd(9)}  ${f(sums[m].mean)}        ${f(sums[m].union)}  ${f((sums[m].mean + sums[m].union) / 2)}         ${f(sums[m].best)}`);
});
