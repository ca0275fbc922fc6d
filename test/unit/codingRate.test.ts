import { describe, expect, it } from 'vitest';
import { codingRate, officialCodingRate, OFFICIAL_EPS_SQUARED, paperCodingRate, rateReduction } from '../../src/analysis/codingRate.ts';
import { logdetIdentityPlusGram, logdetSpd } from '../../src/analysis/logdet.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { gaussian, seededRandom } from '../helpers/randomModel.ts';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: rows * cols }, () => gaussian(random));
}

describe('log-determinants', () => {
  it('match a hand-computed 3×3 determinant', () => {
    // [[4,2,0],[2,3,1],[0,1,2]]: det = 4·(6−1) − 2·(4−0) = 12
    expect(logdetSpd(Float64Array.from([4, 2, 0, 2, 3, 1, 0, 1, 2]), 3)).toBeCloseTo(Math.log(12), 12);
  });

  it('refuse a matrix that is not positive definite', () => {
    expect(() => logdetSpd(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
  });

  it.each([
    [17, 12],
    [12, 17],
    [197, 48],
  ])('agree on both sides of logdet(I_N + cXXᵀ) = logdet(I_d + cXᵀX) for %i×%i', (rows, cols) => {
    const x = randomMatrix(rows, cols, rows * 31 + cols);
    const xt = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) xt[c * rows + r] = x[r * cols + c];
    const direct = logdetIdentityPlusGram(x, rows, cols, 0.7);
    const transposed = logdetIdentityPlusGram(xt, cols, rows, 0.7);
    expect(Math.abs(direct - transposed) / Math.abs(direct)).toBeLessThan(1e-10);
  });
});

describe('official coding rate (docs/MEASUREMENTS.md §2)', () => {
  it('equals ½ Σ_k logdet(I_N + dh/(Nε²)·X_k X_kᵀ) built token-side from unit rows', () => {
    const tokens = 50;
    const heads = 3;
    const dh = 16;
    const w = randomMatrix(tokens, heads * dh, 5);
    let expected = 0;
    for (let k = 0; k < heads; k++) {
      // The N×N Gram of unit-normalised head rows, the side the implementation avoids.
      const unit = new Float64Array(tokens * dh);
      for (let r = 0; r < tokens; r++) {
        let norm = 0;
        for (let t = 0; t < dh; t++) norm += w[r * heads * dh + k * dh + t] ** 2;
        for (let t = 0; t < dh; t++) unit[r * dh + t] = w[r * heads * dh + k * dh + t] / Math.sqrt(norm);
      }
      const c = dh / (tokens * OFFICIAL_EPS_SQUARED);
      const gram = new Float64Array(tokens * tokens);
      for (let i = 0; i < tokens; i++) {
        for (let j = 0; j < tokens; j++) {
          let dot = 0;
          for (let t = 0; t < dh; t++) dot += unit[i * dh + t] * unit[j * dh + t];
          gram[i * tokens + j] = c * dot + (i === j ? 1 : 0);
        }
      }
      expected += 0.5 * logdetSpd(gram, tokens);
    }
    expect(officialCodingRate(w, tokens, heads, dh)).toBeCloseTo(expected, 8);
  });

  it('is unchanged by a token row scaling (rows are normalised) and positive', () => {
    const w = randomMatrix(17, 4 * 12, 9);
    const scaled = w.map((v, i) => v * (1 + Math.floor(i / 48)));
    const rate = officialCodingRate(w, 17, 4, 12);
    expect(rate).toBeGreaterThan(0);
    expect(officialCodingRate(scaled, 17, 4, 12)).toBeCloseTo(rate, 4);
  });
});

describe('sparsity', () => {
  it('counts exact zeros over every entry', () => {
    expect(sparsity(Float32Array.from([0, 1, 0, -2, 0, 0.5]))).toEqual({ zeroFraction: 0.5, l0Fraction: 0.5, l1: 3.5 });
  });
});

describe('paper coding rates in closed form (docs/MEASUREMENTS.md §2)', () => {
  /** Z = s·Q with orthonormal columns: ZᵀZ = s²·I, so R(Z) = d/2·log(1 + d·s²/(N·ε²)). */
  function orthogonalColumns(rows: number, cols: number, s: number, seed: number): Float64Array {
    const q = Float64Array.from(randomMatrix(rows, cols, seed));
    for (let c = 0; c < cols; c++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += q[r * cols + c] * q[r * cols + p];
        for (let r = 0; r < rows; r++) q[r * cols + c] -= dot * q[r * cols + p];
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += q[r * cols + c] ** 2;
      for (let r = 0; r < rows; r++) q[r * cols + c] /= Math.sqrt(norm);
    }
    return q.map((v) => v * s);
  }

  it.each([
    [30, 6, 0.7, 0.05],
    [197, 48, 1.3, 0.01],
  ])('R(Z) for N=%i, d=%i orthogonal columns of norm %f, ε²=%f', (tokens, dim, s, eps2) => {
    const z = orthogonalColumns(tokens, dim, s, tokens + dim);
    const expected = (dim / 2) * Math.log(1 + (dim * s * s) / (tokens * eps2));
    expect(Math.abs(codingRate(z, tokens, dim, eps2) - expected) / expected).toBeLessThan(1e-12);
  });

  it('R^c with U selecting coordinate blocks is the sum of the blocks’ rates, and ΔR = R − R^c', () => {
    // U = I_d split into heads of dh rows: head k projects onto coordinates [k·dh, (k+1)·dh).
    const tokens = 40;
    const heads = 3;
    const dh = 4;
    const dim = heads * dh;
    const z = orthogonalColumns(tokens, dim, 0.9, 11);
    const identity = Float64Array.from({ length: dim * dim }, (_, i) => (i % (dim + 1) === 0 ? 1 : 0));
    const perHead = (dh / 2) * Math.log(1 + (dh * 0.81) / (tokens * 0.02));
    expect(paperCodingRate(z, tokens, dim, identity, heads, dh, 0.02)).toBeCloseTo(heads * perHead, 10);
    const { rate, compressedRate, reduction } = rateReduction(z, tokens, dim, identity, heads, dh, 0.02);
    expect(rate).toBeCloseTo((dim / 2) * Math.log(1 + (dim * 0.81) / (tokens * 0.02)), 10);
    expect(compressedRate).toBeCloseTo(heads * perHead, 10);
    expect(reduction).toBe(rate - compressedRate);
  });
});
