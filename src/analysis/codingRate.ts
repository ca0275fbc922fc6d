import { logdetIdentityPlusGram } from './logdet.ts';

/** ε² of the official measurement (DESIGN.md §2). */
export const OFFICIAL_EPS_SQUARED = 0.01;

/**
 * Official coding-rate measurement on the MSSA input (DESIGN.md §2, first item):
 * X_k = (LN1(Z)·Uᵀ) restricted to head k, each token row scaled to unit ℓ2 norm;
 * R^c = ½ Σ_k logdet(I_N + dh/(N·ε²)·X_k X_kᵀ), natural log, N counting the class token.
 *
 * `w` is the head projection W = LN1(Z)·Uᵀ, [tokens, heads·dimHead] row-major.
 */
export function officialCodingRate(w: Float32Array, tokens: number, heads: number, dimHead: number): number {
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
