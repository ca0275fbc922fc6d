/**
 * Row-major float32 helpers for the CPU reference. Products accumulate in
 * float64 (JS numbers) so the reference is more accurate than any GPU kernel
 * it judges.
 */
import { LAYER_NORM_EPS, type Norm } from '../model.ts';

/** Y[n, m] = X[n, k] · Wᵀ, with W stored [m, k] as torch's Linear does; optional bias [m]. */
export function linear(x: Float32Array, rows: number, k: number, w: Float32Array, m: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(rows * m);
  for (let r = 0; r < rows; r++) {
    const xo = r * k;
    for (let j = 0; j < m; j++) {
      const wo = j * k;
      let acc = bias ? bias[j] : 0;
      for (let t = 0; t < k; t++) acc += x[xo + t] * w[wo + t];
      y[r * m + j] = acc;
    }
  }
  return y;
}

/** Y[n, m] = X[n, k] · W with W stored [k, m]. */
export function matmul(x: Float32Array, rows: number, k: number, w: Float32Array, m: number): Float32Array {
  const y = new Float32Array(rows * m);
  const acc = new Float64Array(m);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    for (let t = 0; t < k; t++) {
      const a = x[r * k + t];
      if (a === 0) continue;
      const wo = t * m;
      for (let j = 0; j < m; j++) acc[j] += a * w[wo + j];
    }
    y.set(acc, r * m);
  }
  return y;
}

/** torch.nn.LayerNorm over the last dimension: biased variance, eps inside the square root (CRATE's 1e-5 unless given). */
export function layerNorm(x: Float32Array, rows: number, d: number, norm: Norm, eps = LAYER_NORM_EPS): Float32Array {
  const y = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[o + i];
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[o + i] - mean) ** 2;
    variance /= d;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < d; i++) y[o + i] = (x[o + i] - mean) * inv * norm.weight[i] + norm.bias[i];
  }
  return y;
}
