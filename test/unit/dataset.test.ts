import { describe, expect, it } from 'vitest';
import { officialCodingRate, paperCodingRate } from '../../src/analysis/codingRate.ts';
import { istaStep, lassoObjective, mssaOutputRate } from '../../src/analysis/objective.ts';
import { analyseLayer } from '../../src/analysis/layer.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { imageToTensor, type RgbaImage } from '../../src/engine/preprocess.ts';
import type { ForwardOutputs } from '../../src/engine/runner.ts';
import type { AdapterStatus } from '../../src/runners/adapter.ts';
import { analyseOutputs, modelWeightMeasures, objectiveOfOutputs } from '../../src/analysis/analyseRun.ts';
import {
  DATASET_MAX_IMAGES,
  DATASET_SOFTWARE_MAX_IMAGES,
  datasetIoUs,
  datasetPlan,
  figuresHere,
  imageRunFigures,
  runDataset,
  summariseDataset,
  Yielder,
  type DatasetSample,
} from '../../src/dataset/dataset.ts';
import { randomModel, seededRandom } from '../helpers/randomModel.ts';

const model = randomModel({ image_size: 16, patch_size: 4, channels: 3, dim: 16, depth: 3, heads: 2, dim_head: 8, num_classes: 4 }, 7);
const { tokens } = model.shape;
const grid = { height: model.shape.gridHeight, width: model.shape.gridWidth };

function sample(i: number): DatasetSample {
  const random = seededRandom(100 + i);
  const data = new Uint8ClampedArray(16 * 16 * 4).map((_, j) => (j % 4 === 3 ? 255 : Math.floor(random() * 256)));
  // A random blob as ground truth: a rectangle whose corner depends on the image.
  const mask = new Uint8Array(16 * 16);
  const x0 = Math.floor(random() * 8);
  const y0 = Math.floor(random() * 8);
  for (let y = y0; y < y0 + 7; y++) for (let x = x0; x < x0 + 6; x++) mask[y * 16 + x] = 1;
  return { image: { width: 16, height: 16, data } as RgbaImage, label: i % 4, mask };
}

const forward = async (input: Float32Array): Promise<ForwardOutputs> => {
  const trace = cpuForward(model, input);
  return { logits: trace.logits, layers: trace.layers.map(({ w, attention, zHalf, zNext }) => ({ w, attention, zHalf, zNext })) };
};

const COUNT = 6;

async function measured() {
  const records = await runDataset({ model, count: COUNT, sample: async (i) => sample(i), forward });
  if (!records) throw new Error('not cancelled, yet no records');
  return records;
}

describe('runDataset and its records', () => {
  it('measures every image as the analysis functions do, the paper rate head by head', async () => {
    const records = await measured();
    expect(records).toHaveLength(COUNT);
    for (let i = 0; i < COUNT; i++) {
      const trace = cpuForward(model, imageToTensor(sample(i).image, model.config));
      const r = records[i];
      for (let l = 0; l < model.config.depth; l++) {
        const layer = trace.layers[l];
        expect(r.codingRate[l]).toBeCloseTo(officialCodingRate(layer.w, tokens, 2, 8), 10);
        expect(r.sparsity[l]).toBe(sparsity(layer.zNext).l0Fraction);
        // All heads at once (paperCodingRate's own loop) against the per-head split the pipeline uses to yield.
        const whole = paperCodingRate(layer.zHalf, tokens, 16, model.weights.layers[l].qkv, 2, 8);
        expect(Math.abs(r.paperRate[l] - whole)).toBeLessThanOrEqual(1e-9 * Math.abs(whole));
      }
      expect(r.label).toBe(i % 4);
      expect(r.maps).toHaveLength(model.config.depth);
    }
  });

  it('mean ± std: sample std (n − 1) for coding rates, population std (n) for sparsity and LASSO; accuracy counts label = argmax', async () => {
    const records = await measured();
    const stats = summariseDataset('m', records, undefined, { accuracy: true });
    expect(stats.count).toBe(COUNT);
    const check = (values: number[], got: { mean: number; std: number } | undefined, divisor: number) => {
      const mean = values.reduce((a, b) => a + b, 0) / COUNT;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / divisor);
      expect(got!.mean).toBeCloseTo(mean, 10);
      expect(got!.std).toBeCloseTo(std, 10);
    };
    for (let l = 0; l < model.config.depth; l++) {
      check(records.map((r) => r.codingRate[l]), stats.layers[l].codingRate, COUNT - 1);
      check(records.map((r) => r.paperRate[l]), stats.layers[l].paperRate, COUNT - 1);
      check(records.map((r) => r.rateMssaOut[l]), stats.layers[l].rateMssaOut, COUNT - 1);
      check(records.map((r) => r.sparsity[l]), stats.layers[l].sparsity, COUNT);
      check(records.map((r) => r.lassoBefore[l]), stats.layers[l].lassoBefore, COUNT);
      check(records.map((r) => r.lassoAfter[l]), stats.layers[l].lassoAfter, COUNT);
      expect(stats.layers[l].codingRate.std).toBeGreaterThan(0); // different images really differ
      expect(stats.layers[l].iou).toBeUndefined();
    }
    const right = records.filter((r) => r.predicted === r.label).length;
    expect(stats.accuracy).toBe(right / COUNT);
    expect(summariseDataset('m', records, undefined, { accuracy: false }).accuracy).toBeUndefined();
  });

  it('IoUs from the kept maps equal analyseLayer on fresh tensors, for each setting, with no forward pass', async () => {
    const records = await measured();
    let forwards = 0;
    const settings = [
      { seg: 'top', p: 0.6, tau: 0.6 },
      { seg: 'mass', p: 0.6, tau: 0.3 },
      { seg: 'top', p: 0.2, tau: 0.6 },
    ] as const;
    const results: number[][][] = [];
    for (const s of settings) {
      const ious = (await datasetIoUs(model, records, s))!;
      results.push(ious);
      for (let i = 0; i < COUNT; i++) {
        const { image, mask } = sample(i);
        forwards++;
        const trace = cpuForward(model, imageToTensor(image, model.config));
        for (let l = 0; l < model.config.depth; l++) {
          const layer = trace.layers[l];
          const figures = analyseLayer(
            { ...layer, qkv: model.weights.layers[l].qkv },
            { tokens, dim: 16, heads: 2, dimHead: 8, grid },
            { topFraction: s.p, massFraction: s.tau, groundTruth: { mask: mask!, image: { height: 16, width: 16 } } },
          );
          const expected = s.seg === 'top' ? figures.iou!.top.iou : figures.iou!.mass.iou;
          expect(ious[i][l]).toBeCloseTo(expected, 6);
        }
      }
    }
    expect(forwards).toBe(COUNT * settings.length); // only the check above ran forwards
    expect(results[0]).not.toEqual(results[2]); // the settings matter, so a stale IoU would be caught
    const stats = summariseDataset('m', records, results[1], { accuracy: true });
    expect(stats.layers[0].iou!.mean).toBeCloseTo(results[1].reduce((a, row) => a + row[0], 0) / COUNT, 12);
  });

  it('no IoU when an image has no mask', async () => {
    const records = await runDataset({ model, count: 2, sample: async (i) => ({ ...sample(i), mask: undefined }), forward });
    expect(records![0].maps).toBeUndefined();
    expect(await datasetIoUs(model, records!, { seg: 'top', p: 0.6, tau: 0.6 })).toBeUndefined();
  });

  it('stops when cancelled, and gives the event loop a turn between images', async () => {
    let forwards = 0;
    let stop = false;
    let timerRan = -1;
    setTimeout(() => (timerRan = forwards), 0);
    const progress: number[] = [];
    const result = await runDataset({
      model,
      count: COUNT,
      sample: async (i) => sample(i),
      forward: async (input) => {
        forwards++;
        return forward(input);
      },
      onProgress: (done) => {
        progress.push(done);
        if (done === 2) stop = true;
      },
      cancelled: () => stop,
    });
    expect(result).toBeUndefined();
    expect(forwards).toBe(2);
    expect(progress).toEqual([1, 2]);
    // A timer queued before the run fired after the first image, not after the whole set.
    expect(timerRan).toBe(1);
  });

  it('imageRunFigures gives every layer its paper rate, and IoUs only with a mask', async () => {
    const { image, mask } = sample(0);
    const outputs = await forward(imageToTensor(image, model.config));
    const without = await imageRunFigures(model, outputs, undefined, { seg: 'top', p: 0.6, tau: 0.6 });
    expect(without.layers).toHaveLength(model.config.depth);
    for (const l of without.layers) {
      expect(l.iou).toBeUndefined();
      expect(Number.isFinite(l.paperRate)).toBe(true);
      expect(l).not.toHaveProperty('sparseCode'); // LayerStats only: the run crosses to the main thread
    }
    const withMask = await imageRunFigures(model, outputs, { mask: mask!, image: { height: 16, width: 16 } }, { seg: 'top', p: 0.6, tau: 0.6 });
    for (const l of withMask.layers) expect(l.iou).toBeGreaterThanOrEqual(0);
  });

  it('imageRunFigures and the records carry every layer\'s objective values, as objectiveOfOutputs computes them (docs/MEASUREMENTS.md §2.1)', async () => {
    const records = await measured();
    const outputs = await forward(imageToTensor(sample(0).image, model.config));
    const expected = objectiveOfOutputs(model, outputs);
    expect(expected).toHaveLength(model.config.depth);
    const { layers } = await imageRunFigures(model, outputs, undefined, { seg: 'top', p: 0.6, tau: 0.6 });
    const weights = modelWeightMeasures(model);
    expect(layers.map(({ rateMssaOut, lassoBefore, lassoAfter, headCoherence, dictionary }) => ({ rateMssaOut, lassoBefore, lassoAfter, headCoherence, dictionary }))).toEqual(
      expected.map((v, l) => ({ ...v, ...weights[l] })),
    );
    expect(records[0].rateMssaOut).toEqual(expected.map((v) => v.rateMssaOut));
    expect(records[0].lassoBefore).toEqual(expected.map((v) => v.lassoBefore));
    expect(records[0].lassoAfter).toEqual(expected.map((v) => v.lassoAfter));
  });

  it('rate_mssa_out takes the same path as rate_official: fed the layer input Z^ℓ instead of Z^{ℓ+½}, it gives rate_official', () => {
    const trace = cpuForward(model, imageToTensor(sample(1).image, model.config));
    const { heads, dim_head: dimHead, dim } = model.config;
    trace.layers.forEach((layer, l) => {
      const weights = model.weights.layers[l];
      const official = officialCodingRate(layer.w, tokens, heads, dimHead);
      const viaInput = mssaOutputRate(layer.z, { tokens, dim, heads, dimHead }, weights.mssaNorm, weights.qkv);
      expect(Math.abs(viaInput - official) / official).toBeLessThanOrEqual(1e-5); // W is float32 in the trace
    });
  });

  it('the LASSO values use the layer\'s LN2 and D: one istaStep from X = LN2(Z^{ℓ+½}) is the engine\'s Z^{ℓ+1}, and lasso_after is the objective there', () => {
    const trace = cpuForward(model, imageToTensor(sample(3).image, model.config));
    const { dim, eta, lambda } = model.config;
    const values = objectiveOfOutputs(model, { logits: trace.logits, layers: trace.layers });
    trace.layers.forEach((layer, l) => {
      const d = model.weights.layers[l].dictionary;
      const step = istaStep(layer.ln2, layer.ln2, d, tokens, dim, eta, lambda);
      let worst = 0;
      for (let i = 0; i < step.length; i++) worst = Math.max(worst, Math.abs(step[i] - layer.zNext[i]));
      expect(worst).toBeLessThanOrEqual(1e-5); // the trace is float32
      expect(Math.abs(values[l].lassoAfter - lassoObjective(layer.zNext, layer.ln2, d, tokens, dim, lambda)) / values[l].lassoAfter).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(values[l].lassoBefore - lassoObjective(layer.ln2, layer.ln2, d, tokens, dim, lambda)) / values[l].lassoBefore).toBeLessThanOrEqual(1e-5);
    });
  });

  it('imageRunFigures attaches the weight-only measures, computed once per model, yielding to the page', async () => {
    const fresh = randomModel({ image_size: 16, patch_size: 4, channels: 3, dim: 16, depth: 3, heads: 2, dim_head: 8, num_classes: 4 }, 8);
    const outputs = { logits: new Float32Array(4), layers: cpuForward(fresh, imageToTensor(sample(2).image, fresh.config)).layers };
    let pauses = 0;
    const counting = { maybeYield: async () => void pauses++, yieldNow: async () => undefined } as unknown as Yielder;
    const first = (await imageRunFigures(fresh, outputs, undefined, { seg: 'top', p: 0.6, tau: 0.6 }, figuresHere(counting))).layers;
    const afterFirst = pauses;
    const second = (await imageRunFigures(fresh, outputs, undefined, { seg: 'top', p: 0.6, tau: 0.6 }, figuresHere(counting))).layers;
    expect(first[0].headCoherence!.matrix).toHaveLength(fresh.config.heads ** 2);
    expect(first[0].dictionary!.gramDeviation).toBeGreaterThan(0);
    expect(second[1].headCoherence).toBe(first[1].headCoherence); // the cached object, not a recomputation
    expect(modelWeightMeasures(fresh)[2].headCoherence).toBe(first[2].headCoherence);
    expect(pauses - afterFirst).toBeLessThan(afterFirst); // the second image skips the weight-only work and its pauses
    expect('headCoherence' in analyseOutputs(fresh, outputs).layers[0]).toBe(false); // the first, fast figures stay fast
  });
});

describe('datasetPlan', () => {
  const software: AdapterStatus = { status: 'ready', name: 'SwiftShader Device (Subzero)', vendor: 'google', architecture: 'swiftshader', fallback: false, features: [] };
  const hardware: AdapterStatus = { status: 'ready', name: 'NVIDIA H100', vendor: 'nvidia', architecture: 'hopper', fallback: false, features: [] };
  it('caps at 100 on a software adapter and says so, 200 elsewhere', () => {
    const soft = datasetPlan(200, software);
    expect(soft.count).toBe(DATASET_SOFTWARE_MAX_IMAGES);
    expect(soft.note).toMatch(/100 of 200.*software renderer/);
    expect(datasetPlan(200, hardware)).toEqual({ count: 200 });
    expect(datasetPlan(1000, hardware).count).toBe(DATASET_MAX_IMAGES);
    expect(datasetPlan(40, software)).toEqual({ count: 40 });
    expect(datasetPlan(200, { ...hardware, fallback: true }).count).toBe(100);
  });
});
