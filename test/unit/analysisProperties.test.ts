/**
 * Properties of src/analysis that hold for every input, checked with
 * fast-check on seeded random shapes and data (fixed fc seed: reproducible;
 * a failure prints the counterexample's seed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attentionMaps, upsampleBilinear } from '../../src/analysis/attention.ts';
import { codingRate, officialCodingRate, paperCodingRate } from '../../src/analysis/codingRate.ts';
import { dictionaryIncoherence, headCoherence, meanOffDiagonal } from '../../src/analysis/coherence.ts';
import { meanStd, summariseImages } from '../../src/analysis/dataset.ts';
import { symmetricEigen } from '../../src/analysis/eigen.ts';
import { istaStep, lassoObjective } from '../../src/analysis/objective.ts';
import { pcaImage } from '../../src/analysis/pca.ts';
import { maskIoU, massFractionMask, topFractionCount, topFractionMask, unionMasks, upsampleMaskNearest } from '../../src/analysis/segmentation.ts';
import { logHistogram, sparsity } from '../../src/analysis/sparsity.ts';
import { gaussian, seededRandom } from '../helpers/randomModel.ts';

const FC = { seed: 20240612, numRuns: 40 };

function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: rows * cols }, () => scale * gaussian(random));
}

/** A random n×n orthogonal matrix (Gram–Schmidt on a Gaussian one), row-major. */
function randomRotation(n: number, seed: number): Float64Array {
  const q = randomMatrix(n, n, seed);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let t = 0; t < n; t++) dot += q[i * n + t] * q[j * n + t];
      for (let t = 0; t < n; t++) q[i * n + t] -= dot * q[j * n + t];
    }
    let norm = 0;
    for (let t = 0; t < n; t++) norm += q[i * n + t] ** 2;
    for (let t = 0; t < n; t++) q[i * n + t] /= Math.sqrt(norm);
  }
  return q;
}

const shape = fc.record({
  tokens: fc.integer({ min: 2, max: 40 }),
  dim: fc.integer({ min: 2, max: 32 }),
  heads: fc.integer({ min: 1, max: 4 }),
  dimHead: fc.integer({ min: 1, max: 16 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  epsSquared: fc.constantFrom(1e-3, 0.01, 0.1, 1),
});

describe('coding rates', () => {
  it('R^c (paper), R(Z) and the official R^c are ≥ 0 (logdet of I + PSD)', () => {
    fc.assert(
      fc.property(shape, ({ tokens, dim, heads, dimHead, seed, epsSquared }) => {
        const z = randomMatrix(tokens, dim, seed);
        const u = randomMatrix(heads * dimHead, dim, seed + 1, 1 / Math.sqrt(dim));
        expect(paperCodingRate(z, tokens, dim, u, heads, dimHead, epsSquared)).toBeGreaterThanOrEqual(0);
        expect(codingRate(z, tokens, dim, epsSquared)).toBeGreaterThanOrEqual(0);
        expect(officialCodingRate(randomMatrix(tokens, heads * dimHead, seed + 2), tokens, heads, dimHead)).toBeGreaterThanOrEqual(0);
      }),
      FC,
    );
  });

  it('R^c is unchanged by a rotation within one head subspace (U_k → Q U_k)', () => {
    fc.assert(
      fc.property(shape, fc.nat(), ({ tokens, dim, heads, dimHead, seed, epsSquared }, which) => {
        const z = randomMatrix(tokens, dim, seed);
        const u = randomMatrix(heads * dimHead, dim, seed + 1, 1 / Math.sqrt(dim));
        const k = which % heads;
        const q = randomRotation(dimHead, seed + 3);
        const rotated = Float64Array.from(u);
        for (let i = 0; i < dimHead; i++) {
          for (let c = 0; c < dim; c++) {
            let v = 0;
            for (let t = 0; t < dimHead; t++) v += q[i * dimHead + t] * u[(k * dimHead + t) * dim + c];
            rotated[(k * dimHead + i) * dim + c] = v;
          }
        }
        const before = paperCodingRate(z, tokens, dim, u, heads, dimHead, epsSquared);
        const after = paperCodingRate(z, tokens, dim, rotated, heads, dimHead, epsSquared);
        expect(Math.abs(after - before)).toBeLessThanOrEqual(1e-9 * Math.max(1, before));
      }),
      FC,
    );
  });

  it('R(Z) = R^c(Z; I) for one head spanning all of d (the two formulas agree where they must)', () => {
    fc.assert(
      fc.property(shape, ({ tokens, dim, seed, epsSquared }) => {
        const z = randomMatrix(tokens, dim, seed);
        const identity = Float64Array.from({ length: dim * dim }, (_, i) => (i % (dim + 1) === 0 ? 1 : 0));
        const r = codingRate(z, tokens, dim, epsSquared);
        expect(Math.abs(paperCodingRate(z, tokens, dim, identity, 1, dim, epsSquared) - r)).toBeLessThanOrEqual(1e-9 * Math.max(1, r));
      }),
      FC,
    );
  });
});

describe('sparsity', () => {
  it('the zero fraction of a ReLU output is in [0, 1], counts exactly, and the histogram accounts for every entry', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: -2, max: 2, noNaN: true }), (n, seed, shift) => {
        const z = Float32Array.from(randomMatrix(1, n, seed), (v) => Math.max(0, v + shift));
        const { zeroFraction, l0Fraction, l1 } = sparsity(z);
        expect(zeroFraction).toBeGreaterThanOrEqual(0);
        expect(zeroFraction).toBeLessThanOrEqual(1);
        const zeros = z.filter((v) => v === 0).length;
        expect(zeroFraction).toBe(n === 0 ? 0 : zeros / n);
        expect(l0Fraction + zeroFraction).toBeCloseTo(1, 12);
        expect(l1).toBeGreaterThanOrEqual(0);
        const h = logHistogram(z, { bins: 1 + (seed % 20) });
        expect(h.zeros).toBe(zeros);
        expect(h.negatives + h.below + h.above).toBe(0);
        expect(h.zeros + h.counts.reduce((a, b) => a + b, 0)).toBe(n);
        for (let i = 1; i < h.edges.length; i++) expect(h.edges[i]).toBeGreaterThanOrEqual(h.edges[i - 1]);
      }),
      FC,
    );
  });
});

describe('segmentation and IoU', () => {
  const mask = (length: number) => fc.uint8Array({ minLength: length, maxLength: length, min: 0, max: 1 });
  const maskPair = fc.integer({ min: 0, max: 300 }).chain((n) => fc.tuple(mask(n), mask(n)));

  it('IoU is symmetric, in [0, 1], and 1 exactly on identical masks', () => {
    fc.assert(
      fc.property(maskPair, ([a, b]) => {
        const iou = maskIoU(a, b);
        expect(maskIoU(b, a)).toBe(iou);
        expect(iou).toBeGreaterThanOrEqual(0);
        expect(iou).toBeLessThanOrEqual(1);
        expect(maskIoU(a, a)).toBe(1);
        expect(maskIoU(a, unionMasks([a, b])) >= iou || a.every((v) => v === 0)).toBe(true);
      }),
      FC,
    );
  });

  const map = fc.integer({ min: 1, max: 300 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: 2 ** 31 - 1 })));

  it('top-P masks keep exactly round(P·n) entries (⌊P·n + ½⌋), the largest ones', () => {
    fc.assert(
      fc.property(map, fc.double({ min: 0, max: 1, noNaN: true }), ([n, seed], fraction) => {
        const values = Float32Array.from(randomMatrix(1, n, seed), Math.exp);
        const m = topFractionMask(values, fraction);
        const kept = m.reduce((a, b) => a + b, 0);
        expect(kept).toBe(topFractionCount(fraction, n));
        expect(Math.abs(kept - fraction * n)).toBeLessThanOrEqual(0.5);
        let smallestKept = Infinity;
        let largestDropped = -Infinity;
        values.forEach((v, i) => (m[i] ? (smallestKept = Math.min(smallestKept, v)) : (largestDropped = Math.max(largestDropped, v))));
        expect(smallestKept).toBeGreaterThanOrEqual(largestDropped);
      }),
      FC,
    );
  });

  it('DINO masks are the smallest set of largest entries holding a fraction τ of the mass', () => {
    fc.assert(
      fc.property(map, fc.double({ min: 0.01, max: 0.99, noNaN: true }), ([n, seed], tau) => {
        const values = Float64Array.from(randomMatrix(1, n, seed), Math.exp);
        const total = values.reduce((a, b) => a + b, 0);
        const m = massFractionMask(values, tau);
        let kept = 0;
        let smallestKept = Infinity;
        values.forEach((v, i) => {
          if (m[i]) {
            kept += v;
            smallestKept = Math.min(smallestKept, v);
          }
        });
        expect(kept).toBeGreaterThanOrEqual(tau * total * (1 - 1e-12));
        expect(kept - smallestKept).toBeLessThan(tau * total);
        values.forEach((v, i) => m[i] || expect(v).toBeLessThanOrEqual(smallestKept));
      }),
      FC,
    );
  });

  it('nearest upsampling keeps the fraction of foreground when the image is a whole number of patches', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }), fc.nat(), (gh, gw, p, seed) => {
        const random = seededRandom(seed);
        const m = Uint8Array.from({ length: gh * gw }, () => (random() < 0.5 ? 1 : 0));
        const up = upsampleMaskNearest(m, { height: gh, width: gw }, { height: gh * p, width: gw * p });
        expect(up.reduce((a, b) => a + b, 0)).toBe(m.reduce((a, b) => a + b, 0) * p * p);
      }),
      FC,
    );
  });
});

describe('attention maps and resizing', () => {
  it('maps are rows of A without the class-token column; the mean map sums to the mean row mass', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.nat(), (gh, gw, heads, seed) => {
        const tokens = 1 + gh * gw;
        const a = Float64Array.from(randomMatrix(heads, tokens * tokens, seed), Math.abs);
        const query = seed % tokens;
        const maps = attentionMaps(a, heads, tokens, { height: gh, width: gw }, query);
        maps.heads.forEach((m, k) => m.forEach((v, c) => expect(v).toBe(a[(k * tokens + query) * tokens + 1 + c])));
        maps.mean.forEach((v, c) => expect(v).toBeCloseTo(maps.heads.reduce((s, m) => s + m[c], 0) / heads, 12));
      }),
      FC,
    );
  });

  it('bilinear resizing is the identity at the same size, keeps constants, and stays within the map range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.nat(), (gh, gw, h, w, seed) => {
        const from = { height: gh, width: gw };
        const m = randomMatrix(gh, gw, seed);
        expect(Array.from(upsampleBilinear(m, from, from))).toEqual(Array.from(m));
        upsampleBilinear(new Float64Array(gh * gw).fill(0.25), from, { height: h, width: w }).forEach((v) => expect(v).toBeCloseTo(0.25, 14));
        const lo = Math.min(...m);
        const hi = Math.max(...m);
        upsampleBilinear(m, from, { height: h, width: w }).forEach((v) => {
          expect(v).toBeGreaterThanOrEqual(lo - 1e-12);
          expect(v).toBeLessThanOrEqual(hi + 1e-12);
        });
      }),
      FC,
    );
  });
});

describe('symmetric eigen-decomposition and PCA', () => {
  it('A·v = λ·v with orthonormal vectors and eigenvalues largest first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.nat(), (n, seed) => {
        const b = randomMatrix(n, n, seed);
        const a = Float64Array.from({ length: n * n }, (_, i) => b[i] + b[(i % n) * n + Math.floor(i / n)]);
        const { values, vectors } = symmetricEigen(a, n);
        const scale = Math.max(1, ...values.map(Math.abs));
        for (let j = 0; j < n; j++) {
          if (j > 0) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
          for (let i = 0; i < n; i++) {
            let av = 0;
            for (let t = 0; t < n; t++) av += a[i * n + t] * vectors[j * n + t];
            expect(Math.abs(av - values[j] * vectors[j * n + i])).toBeLessThanOrEqual(1e-10 * scale);
          }
          for (let k = 0; k <= j; k++) {
            let dot = 0;
            for (let t = 0; t < n; t++) dot += vectors[j * n + t] * vectors[k * n + t];
            expect(Math.abs(dot - (j === k ? 1 : 0))).toBeLessThanOrEqual(1e-10);
          }
        }
      }),
      FC,
    );
  });

  it('PCA is unchanged by negating W (deterministic sign) and by adding one vector to every patch (centring)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }), fc.nat(), (gh, gw, inner, seed) => {
        const tokens = 1 + gh * gw;
        const grid = { height: gh, width: gw };
        const w = randomMatrix(tokens, inner, seed);
        const shift = randomMatrix(1, inner, seed + 1, 5);
        const shifted = w.map((v, i) => v + shift[i % inner]);
        const base = pcaImage(w, tokens, inner, grid);
        for (const other of [pcaImage(w.map((v) => -v), tokens, inner, grid), pcaImage(shifted, tokens, inner, grid)]) {
          for (let j = 0; j < 3; j++) other.scores[j].forEach((v, c) => expect(Math.abs(v - base.scores[j][c])).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.sqrt(base.variances[0]))));
        }
        for (const v of base.rgb) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
        expect(base.explained.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
      }),
      { ...FC, numRuns: 25 },
    );
  });
});

describe('dataset view', () => {
  it('mean ± std: identical images give std 0; shifting every image shifts the mean only', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 12 }), fc.nat(), fc.double({ min: -100, max: 100, noNaN: true }), (images, layers, seed, shift) => {
        const samples = Array.from({ length: images }, (_, i) => randomMatrix(1, layers, seed + i));
        const base = meanStd(samples);
        const moved = meanStd(samples.map((s) => s.map((v) => v + shift)));
        base.mean.forEach((m, i) => expect(moved.mean[i]).toBeCloseTo(m + shift, 9));
        base.std.forEach((s, i) => expect(moved.std[i]).toBeCloseTo(s, 9));
        meanStd(Array(images).fill(samples[0])).std.forEach((s, i) => expect(s).toBeLessThanOrEqual(1e-14 * Math.abs(samples[0][i])));
        const summary = summariseImages(samples.map((s) => ({ rate: s, zeros: s.map((v) => v * 2) })));
        summary.zeros.mean.forEach((m, i) => expect(m).toBeCloseTo(2 * base.mean[i], 12));
      }),
      FC,
    );
  });
});

describe('each layer as an optimisation step (docs/MEASUREMENTS.md §2.1)', () => {
  const coherenceShape = fc.record({
    dim: fc.integer({ min: 2, max: 40 }),
    heads: fc.integer({ min: 1, max: 6 }),
    dimHead: fc.integer({ min: 1, max: 13 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });

  it('head_coherence is symmetric with a unit diagonal, entries in [0, 1], heads of rank min(dh, d)', () => {
    fc.assert(
      fc.property(coherenceShape, ({ dim, heads, dimHead, seed }) => {
        const { matrix, ranks } = headCoherence(randomMatrix(heads * dimHead, dim, seed), heads, dimHead, dim);
        expect(ranks).toEqual(Array(heads).fill(Math.min(dimHead, dim)));
        for (let k = 0; k < heads; k++) {
          expect(Math.abs(matrix[k * heads + k] - 1)).toBeLessThanOrEqual(1e-12);
          for (let j = 0; j < heads; j++) {
            expect(matrix[k * heads + j]).toBe(matrix[j * heads + k]);
            expect(matrix[k * heads + j]).toBeGreaterThanOrEqual(0);
            expect(matrix[k * heads + j]).toBeLessThanOrEqual(1 + 1e-12);
          }
        }
      }),
      FC,
    );
  });

  it('an orthogonal split of the rows gives zero off-diagonal, whatever basis each head uses for its subspace', () => {
    fc.assert(
      fc.property(coherenceShape, ({ dim, heads, dimHead, seed }) => {
        fc.pre(heads * dimHead <= dim);
        const rows = randomRotation(dim, seed).subarray(0, heads * dimHead * dim);
        // Mix each head's rows by an invertible dh×dh matrix: the span, and so the coherence, stays.
        const mixed = new Float64Array(heads * dimHead * dim);
        const mix = randomMatrix(dimHead, dimHead, seed + 1);
        for (let t = 0; t < dimHead; t++) mix[t * dimHead + t] += 3 * dimHead; // diagonally dominant: invertible
        for (let k = 0; k < heads; k++) {
          for (let r = 0; r < dimHead; r++) {
            for (let s = 0; s < dimHead; s++) {
              for (let i = 0; i < dim; i++) mixed[(k * dimHead + r) * dim + i] += mix[r * dimHead + s] * rows[(k * dimHead + s) * dim + i];
            }
          }
        }
        const { matrix } = headCoherence(mixed, heads, dimHead, dim);
        for (let k = 0; k < heads; k++) {
          for (let j = 0; j < heads; j++) expect(Math.abs(matrix[k * heads + j] - (k === j ? 1 : 0))).toBeLessThanOrEqual(1e-10);
        }
      }),
      FC,
    );
  });

  it('two heads with the same span have coherence 1; a head with repeated rows keeps a unit diagonal at its lower rank', () => {
    const dim = 20;
    const dimHead = 5;
    const a = randomMatrix(dimHead, dim, 7);
    const u = new Float64Array(3 * dimHead * dim);
    u.set(a, 0);
    u.set(a.map((v) => -2 * v), dimHead * dim); // head 1 = −2A: the same span as head 0
    const repeated = randomMatrix(dimHead, dim, 8);
    repeated.copyWithin(3 * dim, 0, 2 * dim); // rows 3, 4 repeat rows 0, 1: rank 3
    u.set(repeated, 2 * dimHead * dim);
    const { matrix, ranks } = headCoherence(u, 3, dimHead, dim);
    expect(ranks).toEqual([5, 5, 3]);
    expect(matrix[1]).toBeCloseTo(1, 12);
    expect(matrix[2 * 3 + 2]).toBeCloseTo(1, 12);
  });

  it('independent random subspaces have mean off-diagonal coherence close to dh/d', () => {
    const dim = 120;
    const dimHead = 8;
    const heads = 24;
    const { matrix, randomReference } = headCoherence(randomMatrix(heads * dimHead, dim, 11), heads, dimHead, dim);
    expect(randomReference).toBe(dimHead / dim);
    // 276 pairs; each entry's spread around dh/d is about dh/d·√(2/dh²), so the mean is within a few %.
    expect(Math.abs(meanOffDiagonal(matrix, heads) / randomReference - 1)).toBeLessThan(0.1);
  });

  it('an orthogonal dictionary has ‖DᵀD − I‖ = 0 and unit atoms; scaling one atom by s moves exactly that entry', () => {
    const dim = 16;
    const d = randomRotation(dim, 5);
    const flat = dictionaryIncoherence(d, dim);
    expect(flat.gramDeviation).toBeLessThanOrEqual(1e-12);
    expect(flat.columnNorms.min).toBeCloseTo(1, 12);
    expect(flat.columnNorms.max).toBeCloseTo(1, 12);
    const scaled = Float64Array.from(d);
    for (let r = 0; r < dim; r++) scaled[r * dim + 3] *= 2; // column 3, the atom
    const moved = dictionaryIncoherence(scaled, dim);
    expect(moved.gramDeviation).toBeCloseTo(3 / Math.sqrt(dim), 12); // only (DᵀD)₃₃ = 4 differs from I, by 3
    expect(moved.columnNorms.max).toBeCloseTo(2, 12);
  });

  /** ‖D‖₂² by power iteration on DᵀD: the Lipschitz constant of the LASSO's smooth part. */
  function spectralNormSquared(d: Float64Array, dim: number): number {
    let v = Float64Array.from({ length: dim }, (_, i) => 1 + i / dim);
    let value = 0;
    for (let iteration = 0; iteration < 500; iteration++) {
      const dv = new Float64Array(dim);
      for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) dv[i] += d[i * dim + j] * v[j];
      const next = new Float64Array(dim);
      for (let j = 0; j < dim; j++) for (let i = 0; i < dim; i++) next[j] += d[i * dim + j] * dv[i];
      value = Math.sqrt(next.reduce((a, b) => a + b * b, 0));
      v = next.map((x) => x / value);
    }
    return value;
  }

  const lassoShape = fc.record({
    tokens: fc.integer({ min: 1, max: 20 }),
    dim: fc.integer({ min: 2, max: 24 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    lambda: fc.constantFrom(0, 0.01, 0.1, 1),
  });

  it('one non-negative ISTA step with η ≤ 1/‖D‖₂² never increases the LASSO objective', () => {
    fc.assert(
      fc.property(lassoShape, fc.constantFrom(1, 0.1, 1e-3), ({ tokens, dim, seed, lambda }, share) => {
        const d = randomMatrix(dim, dim, seed, 1 / Math.sqrt(dim));
        const x = randomMatrix(tokens, dim, seed + 1);
        const z = randomMatrix(tokens, dim, seed + 2).map((v) => Math.max(v, 0)); // a feasible (non-negative) start
        const eta = share / spectralNormSquared(d, dim);
        const before = lassoObjective(z, x, d, tokens, dim, lambda);
        const after = lassoObjective(istaStep(z, x, d, tokens, dim, eta, lambda), x, d, tokens, dim, lambda);
        expect(after).toBeLessThanOrEqual(before * (1 + 1e-12) + 1e-15);
      }),
      FC,
    );
  });

  it('the same step with η far above 1/‖D‖₂² can increase it (the test above is not vacuous)', () => {
    const dim = 6;
    const tokens = 4;
    const d = randomMatrix(dim, dim, 3, 1 / Math.sqrt(dim));
    const x = randomMatrix(tokens, dim, 4);
    const z = Float64Array.from(x, (v) => Math.max(v, 0));
    const eta = 50 / spectralNormSquared(d, dim);
    expect(lassoObjective(istaStep(z, x, d, tokens, dim, eta, 0.1), x, d, tokens, dim, 0.1)).toBeGreaterThan(lassoObjective(z, x, d, tokens, dim, 0.1));
  });

  it('istaStep from Z = X is the CRATE ISTA block, and the LASSO objective is (½‖ZDᵀ − X‖² + λ‖Z‖₁)/N by hand', () => {
    // d = 2, N = 1: D = [[1, 2], [0, 1]], X = [1, −1], η = λ = 0.1.
    const d = [1, 2, 0, 1];
    const x = [1, -1];
    // X·Dᵀ = [1·1 + 2·(−1), 0·1 + 1·(−1)] = [−1, −1]; (X − XDᵀ) = [2, 0]; (X − XDᵀ)·D = [2, 4].
    expect(Array.from(istaStep(x, x, d, 1, 2, 0.1, 0.1))).toEqual([1 + 0.1 * 2 - 0.01, Math.max(0, -1 + 0.1 * 4 - 0.01)].map((v) => expect.closeTo(v, 14)));
    // At Z = X: ½‖[−2, 0]‖² + 0.1·2 = 2.2.
    expect(lassoObjective(x, x, d, 1, 2, 0.1)).toBeCloseTo(2.2, 14);
  });
});
