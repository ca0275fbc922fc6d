/**
 * `npm run bench:analysis`: is the CPU analysis of one image cheaper than the GPU forward
 * pass it analyses? The analysis is what the app computes: the per-image figures of every
 * layer through the entry point (src/analysis/analyseRun.ts analyseImageOutputs: the layer
 * table, the charts, docs/MEASUREMENTS.md §2.1), plus every figure of §2 for a layer on screen
 * (src/analysis/layer.ts). On a CRATE-B-shaped random model (N = 197, d = 768, 12 heads of
 * 64; BENCH_DEPTH layers, default 2, since SwiftShader is slow) it times the
 * forward with every tensor captured, the read-back of the captures, and
 * the analysis, per layer, and prints the split and the ratio.
 * A benchmark, not a test: nothing here asserts speed.
 */
import { attentionMaps, upsampleBilinear } from '../src/analysis/attention.ts';
import { codingRate, officialCodingRate, paperCodingRate } from '../src/analysis/codingRate.ts';
import { median } from '../src/analysis/dataset.ts';
import { analyseImageOutputs, modelWeightMeasures } from '../src/analysis/analyseRun.ts';
import { analyseLayer, type LayerTensors } from '../src/analysis/layer.ts';
import { pcaImage } from '../src/analysis/pca.ts';
import { segmentHeads } from '../src/analysis/segmentation.ts';
import { logHistogram, sparsity } from '../src/analysis/sparsity.ts';
import { CAPTURE_ALL, CAPTURE_TENSORS, type CaptureTensor } from '../src/engine/gpu/capture.ts';
import { CrateGpuEngine } from '../src/engine/gpu/engine.ts';
import { requestNodeGpu } from '../src/engine/node/nodeGpu.ts';
import { randomImage, randomModel } from '../test/helpers/randomModel.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DEPTH = Number(process.env.BENCH_DEPTH ?? 2);
const SHAPE = { dim: 768, heads: 12, dim_head: 64 };

function time<T>(task: () => T): [T, number] {
  const start = performance.now();
  const result = task();
  return [result, performance.now() - start];
}

const gpu = await requestNodeGpu((m) => console.error(m));
const model = randomModel({ ...SHAPE, depth: DEPTH, num_classes: 1000 }, 7);
const { config, shape } = model;
const N = shape.tokens;
const grid = { height: shape.gridHeight, width: shape.gridWidth };
const image = { height: shape.imageHeight, width: shape.imageWidth };
console.log(
  `adapter: ${gpu.adapterName}${gpu.software ? ' (software)' : ''}; CRATE-B shape (N = ${N}, d = ${config.dim}, ${config.heads}×${config.dim_head}), ` +
    `${DEPTH} layers, median of ${RUNS} runs`,
);

const engine = CrateGpuEngine.create(gpu.device, model);
const input = randomImage(model, 1);
await engine.run(input, CAPTURE_ALL); // warm-up: pipelines, first-touch allocation
modelWeightMeasures(model); // weight-only, once per model, not per image

const forward: number[] = [];
const readBack: number[] = [];
const analysis: number[] = [];
const perImage: number[] = [];
const parts = new Map<string, number[]>();
const note = (name: string, ms: number) => parts.set(name, [...(parts.get(name) ?? []), ms]);

for (let r = 0; r < RUNS; r++) {
  let start = performance.now();
  const { logits, captures } = await engine.run(input, CAPTURE_ALL);
  forward.push(performance.now() - start);

  start = performance.now();
  const layers: Record<CaptureTensor, Float32Array>[] = [];
  for (let l = 0; l < DEPTH; l++) {
    const layer = {} as Record<CaptureTensor, Float32Array>;
    for (const tensor of CAPTURE_TENSORS) layer[tensor] = await captures.read(l, tensor);
    layers.push(layer);
  }
  readBack.push(performance.now() - start);

  const [, perImageMs] = time(() => analyseImageOutputs(model, { logits, layers }));
  perImage.push(perImageMs);
  let total = perImageMs;
  for (let l = 0; l < DEPTH; l++) {
    const tensors: LayerTensors = { ...layers[l], qkv: model.weights.layers[l].qkv };
    const [, ms] = time(() => analyseLayer(tensors, { tokens: N, dim: config.dim, heads: config.heads, dimHead: config.dim_head, grid }));
    total += ms;
    // The same work figure by figure, to see where the time goes.
    const { w, attention, zHalf, zNext } = layers[l];
    note('official R^c (W)', time(() => officialCodingRate(w, N, config.heads, config.dim_head))[1]);
    note('paper R^c (Z½·Uᵀ + 12 Grams)', time(() => paperCodingRate(zHalf, N, config.dim, tensors.qkv, config.heads, config.dim_head))[1]);
    note('R(Z½)', time(() => codingRate(zHalf, N, config.dim))[1]);
    note('sparsity + histogram', time(() => [sparsity(zNext), logHistogram(zNext)])[1]);
    const [maps, mapsMs] = time(() => attentionMaps(attention, config.heads, N, grid));
    note('attention maps', mapsMs);
    note('segmentation (top-P + DINO, 12 heads)', time(() => [segmentHeads(maps.heads, { kind: 'top' }), segmentHeads(maps.heads, { kind: 'mass' })])[1]);
    note('PCA (196×196 Gram + eigen)', time(() => pcaImage(w, N, config.heads * config.dim_head, grid))[1]);
    note(`display: 13 maps bilinear to ${image.height}×${image.width}`, time(() => [...maps.heads, maps.mean].map((m) => upsampleBilinear(m, grid, image)))[1]);
  }
  analysis.push(total);
}
engine.destroy();

const perLayer = (values: number[]) => median(values) / DEPTH;
const gpuMs = perLayer(forward);
const readMs = perLayer(readBack);
const cpuMs = perLayer(analysis);
console.log('\nper layer, median (ms):');
console.log('| step | ms per layer |\n|---|---|');
console.log(`| GPU forward, every tensor captured (wall, incl. embedding + head / ${DEPTH}) | ${gpuMs.toFixed(1)} |`);
console.log(`| read-back of z, w, attention, zHalf, zNext | ${readMs.toFixed(1)} |`);
console.log(`| CPU per-image figures of every layer (analyseImageOutputs) | ${perLayer(perImage).toFixed(1)} |`);
console.log(`| CPU analysis, those plus every figure of the layer (analyseLayer) | ${cpuMs.toFixed(1)} |`);
console.log('\nCPU analysis by figure (the display resize is extra: analyseLayer does not do it):');
console.log('| figure | ms per layer |\n|---|---|');
for (const [name, values] of parts) console.log(`| ${name} | ${median(values).toFixed(2)} |`);
console.log(`\nCPU analysis / GPU forward = ${(cpuMs / gpuMs).toFixed(2)}; (analysis + read-back) / forward = ${((cpuMs + readMs) / gpuMs).toFixed(2)}`);
console.log(cpuMs <= gpuMs ? 'target met: the figures cost no more than the forward pass' : 'target missed: the figures cost more than the forward pass');
process.exit(0);
