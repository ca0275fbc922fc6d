/**
 * The analysis entry point (src/analysis/analyseRun.ts): its figures are the analysis
 * functions' own, computed head by head or at once, with or without pauses.
 */
import { describe, expect, it } from 'vitest';
import { analyseImageOutputs, analyseImageOutputsAsync, analyseOutputs, imageIoUs, modelWeightMeasures, objectiveOfLayer } from '../../src/analysis/analyseRun.ts';
import { codingRate, officialCodingRate, paperCodingRate } from '../../src/analysis/codingRate.ts';
import { median } from '../../src/analysis/dataset.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { randomImage, randomModel } from '../helpers/randomModel.ts';

const model = randomModel({ image_size: 16, patch_size: 4, channels: 3, dim: 16, depth: 3, heads: 2, dim_head: 8, num_classes: 4 }, 11);
const { tokens } = model.shape;
const { heads, dim, dim_head: dimHead } = model.config;
const trace = cpuForward(model, randomImage(model, 5));
const outputs = { logits: trace.logits, layers: trace.layers };
const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

describe('analyseImageOutputs', () => {
  const truth = { mask: new Uint8Array(16 * 16).map((_, i) => (i % 16 < 8 ? 1 : 0)), image: { height: 16, width: 16 } };
  const settings = { seg: 'top' as const, p: 0.3, tau: 0.6 };
  const figures = analyseImageOutputs(model, outputs, { expansionRate: true, epsSquared: 0.05, truth: { ...truth, settings } });

  it('gives every layer the figures of the analysis functions', () => {
    expect(figures.layers).toHaveLength(model.config.depth);
    const weights = modelWeightMeasures(model);
    const ious = imageIoUs(model, outputs, truth, settings);
    figures.layers.forEach((l, i) => {
      const layer = trace.layers[i];
      expect(l.layer).toBe(i);
      expect(l.codingRate).toBe(officialCodingRate(layer.w, tokens, heads, dimHead));
      expect(l.sparseCode).toEqual(sparsity(layer.zNext));
      expect(l.sparsity).toBe(sparsity(layer.zNext).l0Fraction);
      // Head by head here, all heads at once in paperCodingRate: the same sum.
      expect(relative(l.paperRate!, paperCodingRate(layer.zHalf, tokens, dim, model.weights.layers[i].qkv, heads, dimHead, 0.05))).toBeLessThan(1e-10);
      expect(l.expansionRate).toBe(codingRate(layer.zHalf, tokens, dim, 0.05));
      const objective = objectiveOfLayer(model, outputs, i);
      expect([l.rateMssaOut, l.lassoBefore, l.lassoAfter]).toEqual([objective.rateMssaOut, objective.lassoBefore, objective.lassoAfter]);
      expect(l.headCoherence).toBe(weights[i].headCoherence);
      expect(l.iou).toBe(ious[i]);
    });
    expect(figures.top[0].index).toBe(trace.logits.indexOf(Math.max(...trace.logits)));
  });

  it('leaves out what was not asked for', () => {
    const plain = analyseImageOutputs(model, outputs, { paperRate: false, topK: 2 });
    expect(plain.top).toHaveLength(2);
    for (const l of plain.layers) {
      expect(l.paperRate).toBeUndefined();
      expect(l.expansionRate).toBeUndefined();
      expect(l.iou).toBeUndefined();
    }
  });

  it('gives the same figures with pauses, pausing at least once per head and layer', async () => {
    let pauses = 0;
    const paused = await analyseImageOutputsAsync(model, outputs, { expansionRate: true, epsSquared: 0.05, truth: { ...truth, settings } }, async () => void pauses++);
    expect(paused).toEqual(figures);
    expect(pauses).toBeGreaterThanOrEqual(heads * model.config.depth);
  });

  it('starts from the first figures the app shows before the others', () => {
    const first = analyseOutputs(model, outputs);
    expect(first.top).toEqual(figures.top);
    expect(first.layers).toEqual(figures.layers.map(({ layer, codingRate: rate, sparsity: s }) => ({ layer, codingRate: rate, sparsity: s })));
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });
});
