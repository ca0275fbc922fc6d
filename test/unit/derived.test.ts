/**
 * The view selectors (src/state/derived.ts): each figure is the analysis
 * function on the right tensor, cached per run (so switching back is free and
 * a new run never sees old figures), and every missing input is a sentence,
 * not an exception or an empty chart.
 */
import { describe, expect, it } from 'vitest';
import { attentionMaps } from '../../src/analysis/attention.ts';
import { codingRate } from '../../src/analysis/codingRate.ts';
import { pcaImage } from '../../src/analysis/pca.ts';
import { bestHead, segmentHeads, topFractionCount } from '../../src/analysis/segmentation.ts';
import { logHistogram } from '../../src/analysis/sparsity.ts';
import {
  attentionOf,
  cycleHead,
  gridOf,
  histogramOf,
  iouChart,
  iouSeries,
  pcaOf,
  rateChart,
  segmentationFraction,
  segmentationOf,
  sparsityChart,
  validHead,
} from '../../src/state/derived.ts';
import type { DatasetStats } from '../../src/state/store.ts';
import { DIM, DIM_HEAD, GRID, HEADS, TOKENS, fakeRun } from './viewFixtures.ts';

const cells = GRID.height * GRID.width;

describe('head choice', () => {
  it('cycles mean, 0, …, K−1 both ways and wraps', () => {
    expect(cycleHead('mean', 3, 1)).toBe(0);
    expect(cycleHead(2, 3, 1)).toBe('mean');
    expect(cycleHead('mean', 3, -1)).toBe(2);
    expect(cycleHead(0, 3, -1)).toBe('mean');
    // A head the model lacks (from a link) restarts the cycle.
    expect(cycleHead(9, 3, 1)).toBe(0);
  });
  it('knows which heads exist', () => {
    const run = fakeRun();
    expect(validHead(run, 'mean')).toBe(true);
    expect(validHead(run, HEADS - 1)).toBe(true);
    expect(validHead(run, HEADS)).toBe(false);
  });
  it('uses P for top-P% and τ for mass', () => {
    expect(segmentationFraction('top', 0.3, 0.8)).toBe(0.3);
    expect(segmentationFraction('mass', 0.3, 0.8)).toBe(0.8);
  });
});

describe('layer detail selectors', () => {
  const run = fakeRun({ mask: true });

  it('grid from the image size and patch', () => {
    expect(gridOf(run)).toEqual(GRID);
  });

  it('histogram of Z^{l+1} counts all N·d entries, cached per layer', () => {
    const h = histogramOf(run, 1);
    if (typeof h === 'string') throw new Error(h);
    expect(h.total).toBe(TOKENS * DIM);
    expect(h).toEqual(logHistogram(run.outputs.layers[1].zNext));
    expect(histogramOf(run, 1)).toBe(h);
    expect(histogramOf(run, 0)).not.toBe(h);
    // A new run (same numbers) is a new cache: nothing stale carries over.
    expect(histogramOf(fakeRun({ mask: true }), 1)).not.toBe(h);
  });

  it('attention maps of the chosen query token', () => {
    for (const query of [0, 3]) {
      const maps = attentionOf(run, 1, query);
      expect(maps).toEqual(attentionMaps(run.outputs.layers[1].attention, HEADS, TOKENS, GRID, query));
    }
    expect(attentionOf(run, 1, TOKENS)).toMatch(/query token 7 does not exist/);
    expect(attentionOf(run, 5, 0)).toMatch(/layer 5 does not exist/);
  });

  it('segmentation of the class-token maps, kept fractions and best head', () => {
    const figure = segmentationOf(run, 0, 'top', 0.5);
    if (typeof figure === 'string') throw new Error(figure);
    const maps = attentionMaps(run.outputs.layers[0].attention, HEADS, TOKENS, GRID, 0);
    const wanted = segmentHeads(maps.heads, { kind: 'top', fraction: 0.5 });
    expect(figure.heads).toEqual(wanted.heads);
    expect(figure.union).toEqual(wanted.union);
    expect(figure.kept).toEqual(Array(HEADS).fill(topFractionCount(0.5, cells) / cells));
    const image = { height: run.image.height, width: run.image.width };
    expect(figure.iou).toMatchObject(bestHead(wanted.heads, GRID, run.mask!, image));
    expect(figure.iou!.union).toBe(bestHead([wanted.union], GRID, run.mask!, image).iou);
    const mass = segmentationOf(run, 0, 'mass', 0.5);
    if (typeof mass === 'string') throw new Error(mass);
    expect(mass.method).toBe('mass');
    expect(mass.heads).toEqual(segmentHeads(maps.heads, { kind: 'mass', fraction: 0.5 }).heads);
  });

  it('no IoU without a ground-truth mask', () => {
    const figure = segmentationOf(fakeRun(), 0, 'top', 0.5);
    if (typeof figure === 'string') throw new Error(figure);
    expect(figure.iou).toBeUndefined();
  });

  it('PCA of the layer W', () => {
    expect(pcaOf(run, 1)).toEqual(pcaImage(run.outputs.layers[1].w, TOKENS, HEADS * DIM_HEAD, GRID));
  });

  it('says why when the run kept no per-layer tensors', () => {
    const bare = { ...fakeRun(), outputs: { logits: new Float32Array(2), layers: [] } };
    for (const value of [histogramOf(bare, 0), attentionOf(bare, 0, 0), segmentationOf(bare, 0, 'top', 0.6), pcaOf(bare, 0)]) {
      expect(value).toBe('this run kept no per-layer tensors');
    }
  });
});

describe('overview charts', () => {
  const stats = (modelId: string): DatasetStats => ({
    modelId,
    count: 9,
    layers: [0, 1].map((layer) => ({ layer, codingRate: { mean: 1, std: 0.1 }, paperRate: { mean: 2, std: 0.2 }, sparsity: { mean: 0.3, std: 0.03 }, iou: { mean: 0.5, std: 0.05 } })),
  });

  it('official rate: one series of the run, plus the dataset mean of the same model only', () => {
    const run = fakeRun();
    const chart = rateChart(run, 'official');
    expect(chart.series).toHaveLength(1);
    expect(chart.series[0]).toMatchObject({ id: 'official', primary: true, values: run.layers.map((l) => l.codingRate) });
    const withMean = rateChart(run, 'official', stats('fake'));
    expect(withMean.series.map((s) => s.id)).toEqual(['official', 'official-mean']);
    expect(withMean.series[1]).toMatchObject({ values: [1, 1], std: [0.1, 0.1] });
    expect(rateChart(run, 'official', stats('other')).series).toHaveLength(1);
  });

  it('paper variant: R^c(Z^{l+1/2}; U), R and ΔR when the run carries the paper rate', () => {
    const run = fakeRun({ paperRate: true });
    const chart = rateChart(run, 'paper', stats('fake'));
    expect(chart.series.map((s) => s.id)).toEqual(['paper', 'expansion', 'reduction', 'paper-mean']);
    const expansion = run.outputs.layers.map((l) => codingRate(l.zHalf, TOKENS, DIM));
    expect(chart.series[1].values).toEqual(expansion);
    expect(chart.series[2].values).toEqual(expansion.map((r, i) => r - (20 - i)));
    expect(chart.series[3].values).toEqual([2, 2]);
  });

  it('paper variant without U: R(Z^{l+1/2}) as the primary, labelled, no made-up R^c', () => {
    const chart = rateChart(fakeRun(), 'paper');
    expect(chart.series.map((s) => s.id)).toEqual(['expansion', 'official', 'reduction-mixed']);
    expect(chart.series[0].primary).toBe(true);
    expect(chart.series[1].primary).toBe(false);
    expect(chart.note).toMatch(/needs the layer’s U/);
  });

  it('sparsity per layer', () => {
    const run = fakeRun();
    expect(sparsityChart(run).series[0].values).toEqual([0.5, 0.4]);
    expect(sparsityChart(run, stats('fake')).series[1]).toMatchObject({ values: [0.3, 0.3], std: [0.03, 0.03] });
  });

  it('IoU per layer: best head of each layer; a sentence without a mask', () => {
    const run = fakeRun({ mask: true });
    const series = iouSeries(run, 'mass', 0.7);
    if (typeof series === 'string') throw new Error(series);
    for (let l = 0; l < 2; l++) {
      const figure = segmentationOf(run, l, 'mass', 0.7);
      if (typeof figure === 'string') throw new Error(figure);
      expect(series.best[l]).toBe(figure.iou!.iou);
      expect(series.heads[l]).toBe(figure.iou!.head);
      expect(series.best[l]).toBeGreaterThanOrEqual(Math.max(...figure.iou!.ious));
      expect(series.meanOfHeads[l]).toBeCloseTo(figure.iou!.ious.reduce((x, y) => x + y, 0) / figure.iou!.ious.length, 12);
    }
    const chart = iouChart(run, 'mass', 0.7, stats('fake'));
    expect(chart.series.map((s) => s.id)).toEqual(['iou-best', 'iou-union', 'iou-mean-heads', 'iou-mean']);
    expect(chart.series[0].name).toMatch(/picked with the mask \(oracle\)/);
    const none = iouChart(fakeRun(), 'top', 0.6);
    expect(none.series).toEqual([]);
    expect(none.missing).toMatch(/no ground-truth mask/);
  });
});
