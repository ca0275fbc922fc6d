/**
 * src/analysis against the independent float64 NumPy/PyTorch reference
 * (tools/analysis_ref.py → fixtures/analysis/*.safetensors), one test per
 * case and shape. Scalars must match to 1e-6 relative; arrays to 1e-6 of
 * their largest magnitude; masks and counts exactly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attentionMaps, upsampleBilinear } from '../../src/analysis/attention.ts';
import { codingRate, officialCodingRate, paperCodingRate, rateReduction } from '../../src/analysis/codingRate.ts';
import { dictionaryIncoherence, headCoherence } from '../../src/analysis/coherence.ts';
import { meanStd } from '../../src/analysis/dataset.ts';
import { layerObjective } from '../../src/analysis/objective.ts';
import { pcaImage } from '../../src/analysis/pca.ts';
import { bestHead, massFractionMask, patchMaskIoU, segmentHeads, topFractionMask } from '../../src/analysis/segmentation.ts';
import { logHistogram, sparsity } from '../../src/analysis/sparsity.ts';
import { readSafetensors } from '../../src/engine/safetensors.ts';
import { FIXTURE_DIR, maxAbsDiff, relativeError } from '../helpers/fixtures.ts';

const TOLERANCE = 1e-6;

interface Family<C> {
  cases: C[];
  tensor: (name: string) => Float32Array;
}

function loadFamily<C>(family: string): Family<C> {
  const file = readSafetensors(readFileSync(join(FIXTURE_DIR, 'analysis', `${family}.safetensors`)));
  return {
    cases: JSON.parse(file.metadata.cases) as C[],
    tensor: (name) => {
      const t = file.tensors.get(name);
      if (!t) throw new Error(`fixtures/analysis/${family}.safetensors has no tensor ${name}`);
      return t.data;
    },
  };
}

const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-30);
/** 0/1 masks as plain arrays, so a mismatch prints the entries. */
const bits = (mask: ArrayLike<number>) => Array.from(mask, (v) => (v ? 1 : 0));
const slice = (data: Float32Array, index: number, size: number) => data.subarray(index * size, (index + 1) * size);

describe('coding rates (docs/MEASUREMENTS.md §2) vs NumPy slogdet', () => {
  interface RateCase {
    name: string;
    tokens: number;
    dim: number;
    heads: number;
    dim_head: number;
    eps_squared: number;
    official: number;
    compressed: number;
    rate: number;
    reduction: number;
  }
  const { cases, tensor } = loadFamily<RateCase>('rates');
  it('has the shapes the issue asks for (N = 197 with dh = 48; N = 17 and 50; 1 to 6 heads)', () => {
    expect(cases.some((c) => c.tokens === 197 && c.dim_head === 48)).toBe(true);
    expect(new Set(cases.map((c) => c.tokens))).toEqual(new Set([197, 17, 50]));
    expect(Math.min(...cases.map((c) => c.heads))).toBe(1);
    expect(Math.max(...cases.map((c) => c.heads))).toBe(6);
  });

  describe.each(cases)('$name (N=$tokens d=$dim heads=$heads dh=$dim_head ε²=$eps_squared)', (c) => {
    const w = tensor(`${c.name}.w`);
    const z = tensor(`${c.name}.z`);
    const u = tensor(`${c.name}.u`);
    it('official R^c of W (unit rows, ε² = 0.01)', () => {
      expect(relative(officialCodingRate(w, c.tokens, c.heads, c.dim_head), c.official)).toBeLessThanOrEqual(TOLERANCE);
    });
    it('paper R^c(Z; U)', () => {
      expect(relative(paperCodingRate(z, c.tokens, c.dim, u, c.heads, c.dim_head, c.eps_squared), c.compressed)).toBeLessThanOrEqual(TOLERANCE);
    });
    it('R(Z)', () => {
      expect(relative(codingRate(z, c.tokens, c.dim, c.eps_squared), c.rate)).toBeLessThanOrEqual(TOLERANCE);
    });
    it('ΔR = R − R^c', () => {
      const result = rateReduction(z, c.tokens, c.dim, u, c.heads, c.dim_head, c.eps_squared);
      expect(relative(result.reduction, c.reduction)).toBeLessThanOrEqual(TOLERANCE);
      expect(result.reduction).toBe(result.rate - result.compressedRate);
    });
  });
});

describe('sparsity and the log-spaced histogram vs NumPy', () => {
  interface HistogramCase {
    name: string;
    bins: number;
    range: [number, number] | null;
    zeros: number;
    negatives: number;
    below: number;
    above: number;
    total: number;
    zero_fraction: number;
    l1: number;
  }
  const { cases, tensor } = loadFamily<HistogramCase>('sparsity');
  it.each(cases)('$name: $bins bins, range $range', (c) => {
    const z = tensor(`${c.name}.z`);
    const summary = sparsity(z);
    expect(relative(summary.zeroFraction, c.zero_fraction)).toBeLessThanOrEqual(TOLERANCE);
    expect(relative(summary.l0Fraction, 1 - c.zero_fraction)).toBeLessThanOrEqual(TOLERANCE);
    expect(relative(summary.l1, c.l1)).toBeLessThanOrEqual(TOLERANCE);
    const h = logHistogram(z, { bins: c.bins, range: c.range ?? undefined });
    expect({ zeros: h.zeros, negatives: h.negatives, below: h.below, above: h.above, total: h.total }).toEqual({
      zeros: c.zeros,
      negatives: c.negatives,
      below: c.below,
      above: c.above,
      total: c.total,
    });
    expect(Array.from(h.counts)).toEqual(Array.from(tensor(`${c.name}.counts`)));
    expect(relativeError(h.edges, tensor(`${c.name}.edges`))).toBeLessThanOrEqual(TOLERANCE);
    // Every entry is in exactly one count.
    expect(h.zeros + h.negatives + h.below + h.above + h.counts.reduce((a, b) => a + b, 0)).toBe(h.total);
  });
});

describe('attention maps, upsampling, segmentation and IoU vs NumPy/PyTorch', () => {
  interface MethodExpectation {
    ious: number[];
    best_head: number;
    best_iou: number;
    union_iou: number;
  }
  interface AttentionCase {
    name: string;
    grid: [number, number];
    heads: number;
    tokens: number;
    query: number;
    image: [number, number];
    upsample: [number, number];
    top_fraction: number;
    mass_fraction: number;
    top: MethodExpectation;
    mass: MethodExpectation;
  }
  const { cases, tensor } = loadFamily<AttentionCase>('attention');

  describe.each(cases)('$name: grid $grid, $heads heads, query $query', (c) => {
    const grid = { height: c.grid[0], width: c.grid[1] };
    const image = { height: c.image[0], width: c.image[1] };
    const cells = grid.height * grid.width;
    const maps = attentionMaps(tensor(`${c.name}.attention`), c.heads, c.tokens, grid, c.query);
    const truth = tensor(`${c.name}.truth`);

    it('per-head maps A_k[q, 1:] and their mean', () => {
      expect(maps.heads).toHaveLength(c.heads);
      const expected = tensor(`${c.name}.maps`);
      maps.heads.forEach((map, k) => expect(relativeError(map, slice(expected, k, cells)), `head ${k}`).toBeLessThanOrEqual(TOLERANCE));
      expect(relativeError(maps.mean, tensor(`${c.name}.mean`))).toBeLessThanOrEqual(TOLERANCE);
    });

    it(`bilinear resize to ${c.upsample.join('×')} equals F.interpolate(align_corners=False)`, () => {
      const to = { height: c.upsample[0], width: c.upsample[1] };
      expect(relativeError(upsampleBilinear(maps.mean, grid, to), tensor(`${c.name}.mean_upsampled`))).toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(upsampleBilinear(maps.heads[0], grid, to), tensor(`${c.name}.head0_upsampled`))).toBeLessThanOrEqual(TOLERANCE);
    });

    it.each(['top', 'mass'] as const)('%s masks (paper top-P% / DINO mass τ): per head, union, mask of the mean map, IoUs and best head', (method) => {
      const fraction = method === 'top' ? c.top_fraction : c.mass_fraction;
      const segmentation = segmentHeads(maps.heads, { kind: method, fraction });
      const expectedMasks = tensor(`${c.name}.${method}_masks`);
      segmentation.heads.forEach((mask, k) => expect(bits(mask), `head ${k}`).toEqual(bits(slice(expectedMasks, k, cells))));
      expect(bits(segmentation.union)).toEqual(bits(tensor(`${c.name}.${method}_union`)));
      const meanMask = method === 'top' ? topFractionMask(maps.mean, fraction) : massFractionMask(maps.mean, fraction);
      expect(bits(meanMask)).toEqual(bits(tensor(`${c.name}.${method}_mean_mask`)));

      const expected = c[method];
      const best = bestHead(segmentation.heads, grid, truth, image);
      best.ious.forEach((iou, k) => expect(relative(iou, expected.ious[k]), `head ${k} IoU`).toBeLessThanOrEqual(TOLERANCE));
      expect(best.head).toBe(expected.best_head);
      expect(relative(best.iou, expected.best_iou)).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(patchMaskIoU(segmentation.union, grid, truth, image), expected.union_iou)).toBeLessThanOrEqual(TOLERANCE);
    });
  });
});

describe('PCA of patch features vs NumPy eigh(cov)', () => {
  interface PcaCase {
    name: string;
    grid: [number, number];
    tokens: number;
    inner: number;
    threshold: number;
    foreground: 'above' | 'below';
    variances: number[];
    explained: number[];
  }
  const { cases, tensor } = loadFamily<PcaCase>('pca');
  it.each(cases)('$name: grid $grid, $inner features, threshold $threshold $foreground', (c) => {
    const grid = { height: c.grid[0], width: c.grid[1] };
    const cells = grid.height * grid.width;
    const result = pcaImage(tensor(`${c.name}.w`), c.tokens, c.inner, grid, { threshold: c.threshold, foreground: c.foreground });
    for (let j = 0; j < 3; j++) {
      if (c.variances[j] === 0) expect(result.variances[j], `component ${j} variance`).toBe(0);
      else expect(relative(result.variances[j], c.variances[j]), `component ${j} variance`).toBeLessThanOrEqual(TOLERANCE);
      if (c.explained[j] !== 0) expect(relative(result.explained[j], c.explained[j])).toBeLessThanOrEqual(TOLERANCE);
      // Scores carry the sign convention; all-zero expected scores (no component) must come out as zeros.
      const scores = slice(tensor(`${c.name}.scores`), j, cells);
      if (c.variances[j] === 0) expect(Array.from(result.scores[j])).toEqual(Array.from(scores));
      else expect(relativeError(result.scores[j], scores), `component ${j} scores`).toBeLessThanOrEqual(TOLERANCE);
      // Scaled components and RGB lie in [0, 1]: compared in absolute terms.
      expect(maxAbsDiff(result.scaled[j], slice(tensor(`${c.name}.scaled`), j, cells)), `component ${j} scaled`).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(bits(result.foreground)).toEqual(bits(tensor(`${c.name}.foreground`)));
    expect(maxAbsDiff(result.rgb, tensor(`${c.name}.rgb`))).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('dataset mean ± std vs NumPy (ddof = 0)', () => {
  interface DatasetCase {
    name: string;
    images: number;
    length: number;
  }
  const { cases, tensor } = loadFamily<DatasetCase>('dataset');
  it.each(cases)('$name: $images images × $length values', (c) => {
    const samples = Array.from({ length: c.images }, (_, i) => slice(tensor(`${c.name}.samples`), i, c.length));
    const result = meanStd(samples);
    expect(result.count).toBe(c.images);
    expect(relativeError(result.mean, tensor(`${c.name}.mean`))).toBeLessThanOrEqual(TOLERANCE);
    const std = tensor(`${c.name}.std`);
    result.std.forEach((s, i) => expect(Math.abs(s - std[i]), `std[${i}]`).toBeLessThanOrEqual(TOLERANCE * Math.max(std[i], 1e-3)));
  });
});

describe('each layer as an optimisation step (docs/MEASUREMENTS.md §2.1) vs NumPy', () => {
  interface ObjectiveCase {
    name: string;
    tokens: number;
    dim: number;
    heads: number;
    dim_head: number;
    lambda_: number;
    ranks: number[];
    rate_mssa_out: number;
    lasso_before: number;
    lasso_after: number;
    head_coherence: number[][];
    random_reference: number;
    dictionary: { gram_deviation: number; norm_min: number; norm_max: number; norm_mean: number; norm_std: number };
  }
  const { cases, tensor } = loadFamily<ObjectiveCase>('objective');
  it('has the shapes the issue asks for (dh = 6, 10, 12, 48, not a multiple of 4; N = 197 and odd; a rank-deficient head)', () => {
    expect(new Set(cases.map((c) => c.dim_head))).toEqual(new Set([6, 10, 12, 24, 48]));
    expect(cases.some((c) => c.tokens === 197)).toBe(true);
    expect(cases.filter((c) => c.tokens % 2 === 1).length).toBeGreaterThanOrEqual(3);
    expect(cases.some((c) => c.ranks.some((r) => r < c.dim_head))).toBe(true);
  });

  describe.each(cases)('$name (N=$tokens d=$dim heads=$heads dh=$dim_head)', (c) => {
    const dims = { tokens: c.tokens, dim: c.dim, heads: c.heads, dimHead: c.dim_head };
    const weights = {
      mssaNorm: { weight: tensor(`${c.name}.ln1_weight`), bias: tensor(`${c.name}.ln1_bias`) },
      qkv: tensor(`${c.name}.qkv`),
      istaNorm: { weight: tensor(`${c.name}.ln2_weight`), bias: tensor(`${c.name}.ln2_bias`) },
      dictionary: tensor(`${c.name}.dictionary`),
    };
    const tensors = { zHalf: tensor(`${c.name}.z_half`), zNext: tensor(`${c.name}.z_next`) };
    it('rate_mssa_out, lasso_before, lasso_after', () => {
      const values = layerObjective(tensors, weights, dims, c.lambda_);
      expect(relative(values.rateMssaOut, c.rate_mssa_out)).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(values.lassoBefore, c.lasso_before)).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(values.lassoAfter, c.lasso_after)).toBeLessThanOrEqual(TOLERANCE);
    });
    it('head_coherence (K×K), ranks and the dh/d reference', () => {
      const coherence = headCoherence(weights.qkv, c.heads, c.dim_head, c.dim);
      expect(coherence.ranks).toEqual(c.ranks);
      expect(coherence.randomReference).toBeCloseTo(c.random_reference, 15);
      expect(maxAbsDiff(coherence.matrix, c.head_coherence.flat())).toBeLessThanOrEqual(TOLERANCE);
    });
    it('dictionary incoherence ‖DᵀD − I‖_F/√d and the column-norm spread', () => {
      const d = dictionaryIncoherence(weights.dictionary, c.dim);
      const expected = c.dictionary;
      expect(relative(d.gramDeviation, expected.gram_deviation)).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(d.columnNorms.min, expected.norm_min)).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(d.columnNorms.max, expected.norm_max)).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(d.columnNorms.mean, expected.norm_mean)).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(d.columnNorms.std, expected.norm_std)).toBeLessThanOrEqual(TOLERANCE);
    });
  });
});
