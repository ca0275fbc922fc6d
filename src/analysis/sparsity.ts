/**
 * Sparsity of an ISTA output Z^{ℓ+1} (DESIGN.md §2): over all N×d entries,
 * class token included. The ReLU makes exact zeros, so zeros are counted
 * exactly, not against a tolerance.
 */
export interface SparsitySummary {
  /** Fraction of entries that are exactly 0. */
  zeroFraction: number;
  /** ‖Z‖₀/(d·N), the quantity the paper plots. */
  l0Fraction: number;
  /** ‖Z‖₁. */
  l1: number;
}

export function sparsity(z: ArrayLike<number>): SparsitySummary {
  let zeros = 0;
  let l1 = 0;
  for (let i = 0; i < z.length; i++) {
    const v = z[i];
    if (v === 0) zeros++;
    l1 += Math.abs(v);
  }
  const zeroFraction = z.length === 0 ? 0 : zeros / z.length;
  return { zeroFraction, l0Fraction: 1 - zeroFraction, l1 };
}
