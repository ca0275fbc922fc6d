/**
 * `npm run report:models`: the per-layer figures issue 5 asks of every shipped
 * model, over its shipped held-out samples, computed with our WGSL engine (in
 * Node, Dawn) and src/analysis: the official coding rate R^c of the MSSA
 * input, the sparsity ‖Z^{ℓ+1}‖₀/(dN), and for the scene model the IoU of the
 * class token's segmentation with the object masks (best head per image, both
 * docs/MEASUREMENTS.md §2 methods at their defaults, plus a random mask of the same size
 * as a chance baseline). Prints Markdown tables of mean ± std.
 */
import { attentionMaps } from '../src/analysis/attention.ts';
import { officialCodingRate } from '../src/analysis/codingRate.ts';
import { meanStd } from '../src/analysis/dataset.ts';
import { bestHead, patchMaskIoU, segmentHeads } from '../src/analysis/segmentation.ts';
import { sparsity } from '../src/analysis/sparsity.ts';
import { CrateGpuEngine } from '../src/engine/gpu/engine.ts';
import { createGpuRunner } from '../src/engine/gpu/gpuRunner.ts';
import { requestNodeGpu } from '../src/engine/node/nodeGpu.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { seededRandom } from '../test/helpers/randomModel.ts';
import { loadShippedModel, shippedManifest } from '../test/helpers/shippedModels.ts';

const gpu = await requestNodeGpu((m) => console.error(m));
/** Mean ± std of one figure over the images (each image one scalar sample). */
const fmt = (values: number[], digits = 3) => {
  const { mean, std } = meanStd(values.map((v) => [v]));
  return `${mean[0].toFixed(digits)} ± ${std[0].toFixed(digits)}`;
};

for (const { id } of shippedManifest().models) {
  const shipped = loadShippedModel(id);
  const { model } = shipped;
  const { config, shape } = model;
  const grid = { height: shape.gridHeight, width: shape.gridWidth };
  const image = { height: shape.imageHeight, width: shape.imageWidth };
  const runner = createGpuRunner(CrateGpuEngine.create(gpu.device, model));
  const random = seededRandom(7);
  const perLayer = Array.from({ length: config.depth }, () => ({ rate: [] as number[], sparsity: [] as number[], iouTop: [] as number[], iouMass: [] as number[], iouRandom: [] as number[] }));
  let correct = 0;
  for (let i = 0; i < shipped.samples.length; i++) {
    const out = await runner.run(imageToTensor(shipped.samples[i], config));
    let best = 0;
    for (let c = 1; c < out.logits.length; c++) if (out.logits[c] > out.logits[best]) best = c;
    if (best === shipped.labels[i]) correct++;
    out.layers.forEach((layer, l) => {
      perLayer[l].rate.push(officialCodingRate(layer.w, shape.tokens, config.heads, config.dim_head));
      perLayer[l].sparsity.push(sparsity(layer.zNext).l0Fraction);
      const mask = shipped.masks?.[i];
      if (!mask) return;
      const maps = attentionMaps(layer.attention, config.heads, shape.tokens, grid).heads;
      const top = bestHead(segmentHeads(maps, { kind: 'top' }).heads, grid, mask, image);
      const mass = bestHead(segmentHeads(maps, { kind: 'mass' }).heads, grid, mask, image);
      perLayer[l].iouTop.push(top.iou);
      perLayer[l].iouMass.push(mass.iou);
      // Chance: a random patch mask as large as the best mass-method head's.
      const size = segmentHeads(maps, { kind: 'mass' }).heads[mass.head].reduce((a, b) => a + b, 0);
      const cells = grid.height * grid.width;
      const order = Array.from({ length: cells }, (_, k) => k).sort(() => random() - 0.5);
      const randomMask = new Uint8Array(cells);
      order.slice(0, size).forEach((k) => (randomMask[k] = 1));
      perLayer[l].iouRandom.push(patchMaskIoU(randomMask, grid, mask, image));
    });
  }
  await runner.dispose();
  console.log(`\n### ${shipped.entry.name} (\`${id}\`): ${shipped.samples.length} held-out samples, accuracy ${(100 * correct / shipped.samples.length).toFixed(1)}% on our engine\n`);
  const seg = shipped.masks !== undefined;
  console.log(`| layer | official Rᶜ (nats) | ‖Z‖₀/(dN) |${seg ? ' IoU top-60% (best head) | IoU mass τ=0.6 (best head) | IoU random mask |' : ''}`);
  console.log(`|---|---|---|${seg ? '---|---|---|' : ''}`);
  perLayer.forEach((p, l) => {
    const cols = [fmt(p.rate, 2), fmt(p.sparsity)];
    if (seg) cols.push(fmt(p.iouTop), fmt(p.iouMass), fmt(p.iouRandom));
    console.log(`| ${l} | ${cols.join(' | ')} |`);
  });
}
