import { gram as gramOf } from './rowProducts.ts';

/**
 * log det(A) of a symmetric positive-definite matrix by Cholesky, in float64.
 * Throws if A is not positive definite (a coding-rate Gram matrix I + c·XᵀX
 * always is, so a throw means corrupt input).
 */
export function logdetSpd(a: Float64Array, n: number): number {
  const l = Float64Array.from(a);
  let logdet = 0;
  for (let j = 0; j < n; j++) {
    let diagonal = l[j * n + j];
    for (let k = 0; k < j; k++) diagonal -= l[j * n + k] * l[j * n + k];
    if (!(diagonal > 0)) throw new RangeError(`matrix is not positive definite (pivot ${j} = ${diagonal})`);
    const root = Math.sqrt(diagonal);
    l[j * n + j] = root;
    logdet += 2 * Math.log(root);
    for (let i = j + 1; i < n; i++) {
      let value = l[i * n + j];
      for (let k = 0; k < j; k++) value -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = value / root;
    }
  }
  return logdet;
}

/**
 * logdet(I_rows + c·X·Xᵀ) for X [rows, cols] (a column block of a wider
 * row-major matrix: `stride` values per row, starting at `offset`).
 * Uses logdet(I_N + c·XXᵀ) = logdet(I_d + c·XᵀX) on the smaller side
 * (docs/MEASUREMENTS.md §2). The Gram is a row product (rowProducts.ts, SIMD
 * where there is WebAssembly).
 */
export function logdetIdentityPlusGram(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  c: number,
  stride = cols,
  offset = 0,
): number {
  const n = Math.min(rows, cols);
  const gram = gramOf(x, rows, cols, cols <= rows ? 'columns' : 'rows', stride, offset);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const value = c * gram[i * n + j] + (i === j ? 1 : 0);
      gram[i * n + j] = value;
      gram[j * n + i] = value;
    }
  }
  return logdetSpd(gram, n);
}
