/**
 * Coding rates of token sets, every variant of docs/MEASUREMENTS.md §2. All sums and
 * log-determinants run in float64 (logdet.ts), whatever the input precision.
 */
import { logdetIdentityPlusGram } from './logdet.ts';

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
 * layout of `qkv.weight`, docs/MEASUREMENTS.md §1), result [tokens, inner]. Every entry
 * is a dot product of two contiguous rows. Four rows of Z meet four rows of U
 * per pass over `dim` (16 sums in registers, 8 loads per 16 multiply-adds):
 * 1.8× the speed of four rows of Z against one row of U in V8 at CRATE-T size,
 * and 3–4× a plain triple loop, with every entry summed in the same order
 * (identical results). The explorer runs three such products per layer.
 */
export function projectOntoHeads(z: ArrayLike<number>, tokens: number, dim: number, u: ArrayLike<number>, inner: number): Float64Array {
  if (z.length !== tokens * dim) throw new RangeError(`Z has ${z.length} values, expected ${tokens}×${dim}`);
  if (u.length !== inner * dim) throw new RangeError(`U has ${u.length} values, expected ${inner}×${dim}`);
  const zz = Float64Array.from(z);
  const uu = Float64Array.from(u);
  const out = new Float64Array(tokens * inner);
  const dot = (row: number, column: number) => {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += zz[row * dim + i] * uu[column * dim + i];
    return sum;
  };
  let r = 0;
  for (; r + 4 <= tokens; r += 4) {
    const a0 = r * dim;
    const a1 = a0 + dim;
    const a2 = a1 + dim;
    const a3 = a2 + dim;
    let j = 0;
    for (; j + 4 <= inner; j += 4) {
      const b0 = j * dim;
      const b1 = b0 + dim;
      const b2 = b1 + dim;
      const b3 = b2 + dim;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0; // prettier-ignore
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0; // prettier-ignore
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0; // prettier-ignore
      for (let i = 0; i < dim; i++) {
        const u0 = uu[b0 + i];
        const u1 = uu[b1 + i];
        const u2 = uu[b2 + i];
        const u3 = uu[b3 + i];
        let x = zz[a0 + i];
        s00 += x * u0; s01 += x * u1; s02 += x * u2; s03 += x * u3; // prettier-ignore
        x = zz[a1 + i];
        s10 += x * u0; s11 += x * u1; s12 += x * u2; s13 += x * u3; // prettier-ignore
        x = zz[a2 + i];
        s20 += x * u0; s21 += x * u1; s22 += x * u2; s23 += x * u3; // prettier-ignore
        x = zz[a3 + i];
        s30 += x * u0; s31 += x * u1; s32 += x * u2; s33 += x * u3; // prettier-ignore
      }
      const o0 = r * inner + j;
      const o1 = o0 + inner;
      const o2 = o1 + inner;
      const o3 = o2 + inner;
      out[o0] = s00; out[o0 + 1] = s01; out[o0 + 2] = s02; out[o0 + 3] = s03; // prettier-ignore
      out[o1] = s10; out[o1 + 1] = s11; out[o1 + 2] = s12; out[o1 + 3] = s13; // prettier-ignore
      out[o2] = s20; out[o2 + 1] = s21; out[o2 + 2] = s22; out[o2 + 3] = s23; // prettier-ignore
      out[o3] = s30; out[o3 + 1] = s31; out[o3 + 2] = s32; out[o3 + 3] = s33; // prettier-ignore
    }
    for (; j < inner; j++) for (let q = 0; q < 4; q++) out[(r + q) * inner + j] = dot(r + q, j);
  }
  for (; r < tokens; r++) for (let j = 0; j < inner; j++) out[r * inner + j] = dot(r, j);
  return out;
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
