/**
 * Coding rates of token sets, every variant of docs/MEASUREMENTS.md §2. All sums and
 * log-determinants run in float64 (logdet.ts), whatever the input precision.
 */
import { logdetIdentityPlusGram } from './logdet.ts';
import { rowsTimesRows } from './rowProducts.ts';

/** ε² of the official measurement (docs/MEASUREMENTS.md §2). */
export const OFFICIAL_EPS_SQUARED = 0.01;

/**
 * Official coding-rate measurement on the MSSA input (docs/MEASUREMENTS.md §2, first item):
 * X_k = (LN1(Z)·Uᵀ) restricted to head k, each token row scaled to unit ℓ2 norm;
 * R^c = ½ Σ_k logdet(I_N + dh/(N·ε²)·X_k X_kᵀ), natural log, N counting the class token.
 *
 * `w` is the head projection W = LN1(Z)·Uᵀ, [tokens, heads·dimHead] row-major.
 */
export function officialCodingRate(w: ArrayLike<number>, tokens: number, heads: number, dimHead: number): number {
  const inner = heads * dimHead;
  const scale = dimHead / (tokens * OFFICIAL_EPS_SQUARED);
  const unit = new Float64Array(tokens * dimHead);
  let rate = 0;
  for (let k = 0; k < heads; k++) {
    for (let r = 0; r < tokens; r++) {
      let norm = 0;
      for (let t = 0; t < dimHead; t++) norm += w[r * inner + k * dimHead + t] ** 2;
      // F.normalize semantics: divide by max(‖x‖, 1e-12) so a zero row stays zero.
      const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
      for (let t = 0; t < dimHead; t++) unit[r * dimHead + t] = w[r * inner + k * dimHead + t] * inv;
    }
    rate += 0.5 * logdetIdentityPlusGram(unit, tokens, dimHead, scale);
  }
  return rate;
}

/**
 * Z·Uᵀ in float64: Z [tokens, dim] row-major, U [inner, dim] row-major (the
 * layout of `qkv.weight`, docs/MEASUREMENTS.md §1), result [tokens, inner]: row
 * products (rowProducts.ts), SIMD WebAssembly where the platform has it. The
 * explorer runs four such products per layer.
 */
export function projectOntoHeads(z: ArrayLike<number>, tokens: number, dim: number, u: ArrayLike<number>, inner: number): Float64Array {
  if (z.length !== tokens * dim) throw new RangeError(`Z has ${z.length} values, expected ${tokens}×${dim}`);
  if (u.length !== inner * dim) throw new RangeError(`U has ${u.length} values, expected ${inner}×${dim}`);
  return rowsTimesRows(z, tokens, dim, u, inner);
}

/**
 * The paper's compression term (docs/MEASUREMENTS.md §2, second item) on Z^{ℓ+½}:
 * R^c(Z; U) = ½ Σ_k logdet(I_dh + dh/(N·ε²)·(Z U_kᵀ)ᵀ(Z U_kᵀ)), where U_k is
 * rows [k·dh, (k+1)·dh) of U = qkv.weight [heads·dh, dim]: the same head
 * subspaces MSSA uses. No LayerNorm and no row normalisation, unlike the
 * official measurement: this is the quantity the MSSA step descends on.
 */
export function paperCodingRate(
  z: ArrayLike<number>,
  tokens: number,
  dim: number,
  u: ArrayLike<number>,
  heads: number,
  dimHead: number,
  epsSquared = OFFICIAL_EPS_SQUARED,
): number {
  const inner = heads * dimHead;
  const projected = projectOntoHeads(z, tokens, dim, u, inner);
  const scale = dimHead / (tokens * epsSquared);
  let rate = 0;
  for (let k = 0; k < heads; k++) rate += 0.5 * logdetIdentityPlusGram(projected, tokens, dimHead, scale, inner, k * dimHead);
  return rate;
}

/** R(Z) = ½ logdet(I_d + d/(N·ε²)·ZᵀZ) for Z [tokens, dim] (docs/MEASUREMENTS.md §2, second item), on the smaller Gram side. */
export function codingRate(z: ArrayLike<number>, tokens: number, dim: number, epsSquared = OFFICIAL_EPS_SQUARED): number {
  if (z.length !== tokens * dim) throw new RangeError(`Z has ${z.length} values, expected ${tokens}×${dim}`);
  return 0.5 * logdetIdentityPlusGram(z, tokens, dim, dim / (tokens * epsSquared));
}

export interface RateReduction {
  /** R(Z), the expansion term. */
  rate: number;
  /** R^c(Z; U), the compression term (paper formula). */
  compressedRate: number;
  /** ΔR = R − R^c, the rate reduction the paper's objective maximises. */
  reduction: number;
}

/** ΔR(Z; U) = R(Z) − R^c(Z; U) with one ε for both terms (docs/MEASUREMENTS.md §2). */
export function rateReduction(
  z: ArrayLike<number>,
  tokens: number,
  dim: number,
  u: ArrayLike<number>,
  heads: number,
  dimHead: number,
  epsSquared = OFFICIAL_EPS_SQUARED,
): RateReduction {
  const rate = codingRate(z, tokens, dim, epsSquared);
  const compressedRate = paperCodingRate(z, tokens, dim, u, heads, dimHead, epsSquared);
  return { rate, compressedRate, reduction: rate - compressedRate };
}
