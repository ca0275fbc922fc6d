/**
 * Segmentation (docs/MEASUREMENTS.md §2): the best head is an oracle whose
 * ties are reported as ties, the mean over heads is its non-oracle
 * counterpart, and the app's default method is the one that segments the
 * shipped scene samples best (bench/segmentation.ts prints the whole table).
 */
import { describe, expect, it } from 'vitest';
import { attentionMaps } from '../../src/analysis/attention.ts';
import {
  DEFAULT_SEGMENTATION_METHOD,
  DEFAULT_TOP_FRACTION,
  bestHead,
  meanIoU,
  segmentationScores,
  type SegmentationMethod,
} from '../../src/analysis/segmentation.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { imageToTensor } from '../../src/engine/preprocess.ts';
import { defaultUrlState } from '../../src/state/urlState.ts';
import { loadShippedModel } from '../helpers/shippedModels.ts';

const grid = { height: 2, width: 2 };
const image = { height: 2, width: 2 };

describe('best head', () => {
  it('reports every head that reaches the largest IoU, and a single winner alone', () => {
    const truth = [1, 1, 0, 0];
    const same = bestHead([Uint8Array.of(1, 0, 0, 0), Uint8Array.of(0, 1, 0, 0), Uint8Array.of(0, 0, 1, 0)], grid, truth, image);
    expect(same.tied).toEqual([0, 1]);
    expect(same.head).toBe(0);
    expect(same.iou).toBeCloseTo(0.5, 12);
    const one = bestHead([Uint8Array.of(1, 0, 0, 0), Uint8Array.of(1, 1, 0, 0)], grid, truth, image);
    expect(one.tied).toEqual([1]);
    expect(one.head).toBe(1);
  });

  it('treats equal ratios of different counts as a tie (1/3 and 2/6)', () => {
    const big = { height: 1, width: 6 };
    const truth = [1, 1, 0, 0, 0, 0];
    // head 0: ∩ 1, ∪ 3; head 1: ∩ 2, ∪ 6.
    const result = bestHead([Uint8Array.of(1, 0, 1, 0, 0, 0), Uint8Array.of(1, 1, 1, 1, 1, 1)], big, truth, big);
    expect(result.ious[0]).toBeCloseTo(1 / 3, 12);
    expect(result.ious[1]).toBeCloseTo(1 / 3, 12);
    expect(result.tied).toEqual([0, 1]);
  });

  it('mean of heads is the plain mean of the IoUs, and refuses none', () => {
    expect(meanIoU([0.2, 0.4, 0.9])).toBeCloseTo(0.5, 12);
    expect(() => meanIoU([])).toThrow(/no IoUs/);
  });
});

describe('on the shipped scene model', () => {
  const scenes = loadShippedModel('scenes');
  const { config, shape } = scenes.model;
  const sceneGrid = { height: shape.gridHeight, width: shape.gridWidth };
  const size = { height: scenes.samples[0].height, width: scenes.samples[0].width };
  const traces = scenes.samples.map((sample) => cpuForward(scenes.model, imageToTensor(sample, config)));
  const classMaps = (i: number, layer: number) => attentionMaps(traces[i].layers[layer].attention, config.heads, shape.tokens, sceneGrid, 0).heads;

  it('issue 19 bug 4: sample 0, layer 5, top 60%: all four heads tie, and that is what bestHead says', () => {
    const scores = segmentationScores(classMaps(0, 5), { kind: 'top', fraction: 0.6 }, sceneGrid, scenes.masks![0], size);
    expect(scores.best.tied).toEqual([0, 1, 2, 3]);
    expect(scores.best.iou).toBeCloseTo(0.135, 3);
  });

  /** Mean over samples × layers of the two IoUs that do not look at the ground truth. */
  const noOracleIoU = (method: SegmentationMethod) => {
    let sum = 0;
    let count = 0;
    traces.forEach((trace, i) =>
      trace.layers.forEach((_, layer) => {
        const s = segmentationScores(classMaps(i, layer), method, sceneGrid, scenes.masks![i], size);
        sum += (s.meanOfHeads + s.union) / 2;
        count++;
      }),
    );
    return sum / count;
  };

  it('the default (method and threshold) beats the old top-60% and its neighbours', () => {
    expect(defaultUrlState()).toMatchObject({ seg: DEFAULT_SEGMENTATION_METHOD, p: DEFAULT_TOP_FRACTION });
    const chosen = noOracleIoU({ kind: DEFAULT_SEGMENTATION_METHOD, fraction: DEFAULT_TOP_FRACTION });
    const old = noOracleIoU({ kind: 'top', fraction: 0.6 });
    expect(chosen, 'the chosen default is far better than the old top 60%').toBeGreaterThan(old + 0.1);
    for (const other of [
      { kind: 'top', fraction: 0.05 },
      { kind: 'top', fraction: 0.15 },
      { kind: 'top', fraction: 0.3 },
      { kind: 'mass', fraction: 0.4 },
      { kind: 'mass', fraction: 0.6 },
    ] as const) {
      expect(chosen, `default vs ${other.kind} ${other.fraction}`).toBeGreaterThanOrEqual(noOracleIoU(other));
    }
  }, 120_000);
});
