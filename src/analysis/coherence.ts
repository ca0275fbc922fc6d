/**
 * Weight-only measures of one layer (docs/MEASUREMENTS.md §2.1): how
 * incoherent the heads' subspaces are (an assumption of the theory behind
 * MSSA), and how far the ISTA dictionary is from orthonormal. They depend on
 * the model, not on the image. Float64 throughout.
 */
import { gram as gramOf, rowsTimesRows } from './rowProducts.ts';

/** A head's orthonormal basis: `rank` rows of length dim, row-major. */
export interface RowBasis {
  basis: Float64Array;
  rank: number;
}

/**
 * Relative size below which a row's remainder after projecting out the
 * earlier basis vectors counts as zero: the row lies in their span (a
 * rank-deficient head). Far above float64 rounding (≈1e-16·dh), far below
 * any real direction of a trained head.
 */
const RANK_TOLERANCE = 1e-10;

/**
 * Orthonormal basis of the span of `count` rows of length `dim` (row-major,
 * starting at row `first`), by modified Gram–Schmidt applied twice per row
 * ("twice is enough": orthogonal to rounding even for nearly dependent rows).
 * A row whose remainder is below RANK_TOLERANCE × the largest row norm is
 * dropped, so `rank` can be less than `count`.
 */
function orthonormalRowBasis(rows: ArrayLike<number>, count: number, dim: number, first = 0): RowBasis {
  if (rows.length < (first + count) * dim) throw new RangeError(`rows hold ${rows.length} values, expected at least ${(first + count) * dim}`);
  let largest = 0;
  for (let r = 0; r < count; r++) {
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += rows[(first + r) * dim + i] ** 2;
    largest = Math.max(largest, Math.sqrt(squares));
  }
  const basis = new Float64Array(Math.min(count, dim) * dim);
  const v = new Float64Array(dim);
  let rank = 0;
  for (let r = 0; r < count && rank < dim; r++) {
    for (let i = 0; i < dim; i++) v[i] = rows[(first + r) * dim + i];
    for (let pass = 0; pass < 2; pass++) {
      for (let b = 0; b < rank; b++) {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += basis[b * dim + i] * v[i];
        for (let i = 0; i < dim; i++) v[i] -= dot * basis[b * dim + i];
      }
    }
    let norm = 0;
    for (let i = 0; i < dim; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    if (!(norm > RANK_TOLERANCE * largest)) continue;
    for (let i = 0; i < dim; i++) basis[rank * dim + i] = v[i] / norm;
    rank++;
  }
  return { basis: basis.slice(0, rank * dim), rank };
}

export interface HeadCoherence {
  /** K×K row-major: ‖Q_kᵀQ_j‖²_F / min(r_k, r_j), 1 on the diagonal of every head of rank > 0. */
  matrix: Float64Array;
  heads: number;
  /** Rank of each head's dh rows of U (dh unless rank-deficient). */
  ranks: number[];
  /** dh/d: the expected off-diagonal value for independent random dh-dimensional subspaces of ℝ^d. */
  randomReference: number;
}

/**
 * `head_coherence` of one layer (docs/MEASUREMENTS.md §2.1): Q_k is an
 * orthonormal basis of the span of head k's rows [k·dh, (k+1)·dh) of
 * U = qkv.weight [heads·dh, dim], and entry (k, j) = ‖Q_k Q_jᵀ‖²_F / dh,
 * the mean squared cosine of the principal angles between the two
 * subspaces: 0 for orthogonal heads, 1 for the same subspace. With a
 * rank-deficient head the divisor is min(r_k, r_j) (dh at full rank), so
 * the diagonal stays 1; a head of rank 0 has a zero row and column.
 */
export function headCoherence(qkv: ArrayLike<number>, heads: number, dimHead: number, dim: number): HeadCoherence {
  if (qkv.length !== heads * dimHead * dim) throw new RangeError(`U has ${qkv.length} values, expected ${heads * dimHead}×${dim}`);
  const bases = Array.from({ length: heads }, (_, k) => orthonormalRowBasis(qkv, dimHead, dim, k * dimHead));
  // Every pair of basis vectors at once: the bases stacked, times themselves (one row product,
  // rowProducts.ts: 0.7 → 0.1 s a layer at CRATE-B size); block (k, j) holds Q_k Q_jᵀ.
  const stacked = new Float64Array(bases.reduce((n, b) => n + b.basis.length, 0));
  const start: number[] = [];
  let rows = 0;
  for (const b of bases) {
    stacked.set(b.basis, rows * dim);
    start.push(rows);
    rows += b.rank;
  }
  const dots = rowsTimesRows(stacked, rows, dim, stacked, rows);
  const matrix = new Float64Array(heads * heads);
  for (let k = 0; k < heads; k++) {
    for (let j = k; j < heads; j++) {
      let squares = 0;
      for (let p = 0; p < bases[k].rank; p++) for (let q = 0; q < bases[j].rank; q++) squares += dots[(start[k] + p) * rows + start[j] + q] ** 2;
      const divisor = Math.min(bases[k].rank, bases[j].rank);
      const value = divisor > 0 ? squares / divisor : 0;
      matrix[k * heads + j] = value;
      matrix[j * heads + k] = value;
    }
  }
  return { matrix, heads, ranks: bases.map((b) => b.rank), randomReference: dimHead / dim };
}

/** Mean of the off-diagonal entries of a K×K coherence matrix (0 for one head). */
export function meanOffDiagonal(matrix: ArrayLike<number>, heads: number): number {
  if (heads < 2) return 0;
  let sum = 0;
  for (let k = 0; k < heads; k++) for (let j = 0; j < heads; j++) if (k !== j) sum += matrix[k * heads + j];
  return sum / (heads * (heads - 1));
}

export interface DictionaryIncoherence {
  /** ‖DᵀD − I‖_F / √d. */
  gramDeviation: number;
  /** Spread of the column norms ‖D[:, j]‖ (the atoms), population std. */
  columnNorms: { min: number; max: number; mean: number; std: number };
}

/**
 * How far the ISTA dictionary D = fn.weight [dim, dim] is from orthonormal
 * (docs/MEASUREMENTS.md §2.1): ‖DᵀD − I‖_F/√d and the spread of the norms of
 * its columns, the atoms that X ≈ Z·Dᵀ combines. Informational.
 */
export function dictionaryIncoherence(dictionary: ArrayLike<number>, dim: number): DictionaryIncoherence {
  if (dictionary.length !== dim * dim) throw new RangeError(`D has ${dictionary.length} values, expected ${dim}×${dim}`);
  const gram = gramOf(dictionary, dim, dim, 'columns'); // DᵀD (rowProducts.ts: 0.47 → 0.1 s at d = 768)
  let squares = 0;
  const norms: number[] = [];
  for (let i = 0; i < dim; i++) {
    norms.push(Math.sqrt(gram[i * dim + i]));
    for (let j = 0; j <= i; j++) {
      const deviation = gram[i * dim + j] - (i === j ? 1 : 0);
      squares += (i === j ? 1 : 2) * deviation * deviation;
    }
  }
  const mean = norms.reduce((a, b) => a + b, 0) / dim;
  const std = Math.sqrt(norms.reduce((a, b) => a + (b - mean) ** 2, 0) / dim);
  return { gramDeviation: Math.sqrt(squares) / Math.sqrt(dim), columnNorms: { min: Math.min(...norms), max: Math.max(...norms), mean, std } };
}
