/**
 * Each layer as one optimisation step (docs/MEASUREMENTS.md §2.1): the
 * objective before and after each half-step, measured with the layer's own
 * parameters, so that a drop means that this step descended.
 *
 * - MSSA compresses against the layer's codebook U^ℓ: `rate_mssa_out` is the
 *   official coding rate (codingRate.ts, same code path as `rate_official`)
 *   of LN1^ℓ(Z^{ℓ+½})·U^ℓᵀ, so `rate_official − rate_mssa_out > 0` means
 *   the step compressed under one and the same U^ℓ.
 * - ISTA descends the LASSO objective against the layer's dictionary D^ℓ:
 *   (1/N)(½‖Z·Dᵀ − X‖²_F + λ‖Z‖₁) with X = LN2^ℓ(Z^{ℓ+½}), at Z = X
 *   (before) and Z = Z^{ℓ+1} (after).
 *
 * Pure functions over typed arrays, float64 throughout; the state layer
 * passes the weights in (docs/ARCHITECTURE.md: engine → analysis → state).
 */
import { officialCodingRate, projectOntoHeads } from './codingRate.ts';
import { rowsTimesRows } from './rowProducts.ts';

/** LayerNorm eps of every CRATE pre-norm (docs/MEASUREMENTS.md §1 step 4). */
const CRATE_LAYER_NORM_EPS = 1e-5;

/** A LayerNorm's affine parameters (the engine's `Norm` fits). */
export interface NormParameters {
  weight: ArrayLike<number>;
  bias: ArrayLike<number>;
}

/** The weights of layer ℓ the objective needs (the engine's `LayerWeights` fits). */
export interface ObjectiveWeights {
  /** LN1 of the MSSA block. */
  mssaNorm: NormParameters;
  /** U = qkv.weight, [heads·dh, d]. */
  qkv: ArrayLike<number>;
  /** LN2 of the ISTA block. */
  istaNorm: NormParameters;
  /** D = fn.weight, [d, d]. */
  dictionary: ArrayLike<number>;
}

export interface ObjectiveDims {
  tokens: number;
  dim: number;
  heads: number;
  dimHead: number;
}

/** The captured tensors of layer ℓ the objective needs. */
export interface ObjectiveTensors {
  /** Z^{ℓ+½}, [N, d]. */
  zHalf: ArrayLike<number>;
  /** Z^{ℓ+1}, [N, d]. */
  zNext: ArrayLike<number>;
}

/** One layer's before/after values (rate_official is the layer's existing figure). */
export interface LayerObjective {
  /** Official R^c of LN1^ℓ(Z^{ℓ+½})·U^ℓᵀ, nats (JSON `rate_mssa_out`). */
  rateMssaOut: number;
  /** LASSO objective at Z = X = LN2^ℓ(Z^{ℓ+½}) (JSON `lasso_before`). */
  lassoBefore: number;
  /** LASSO objective at Z = Z^{ℓ+1} (JSON `lasso_after`). */
  lassoAfter: number;
}

/** torch.nn.LayerNorm over each row of X [rows, dim] in float64: biased variance, eps inside the root. */
function layerNorm64(x: ArrayLike<number>, rows: number, dim: number, norm: NormParameters, eps = CRATE_LAYER_NORM_EPS): Float64Array {
  if (x.length !== rows * dim) throw new RangeError(`X has ${x.length} values, expected ${rows}×${dim}`);
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const row = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[row + i];
    const mu = sum / dim;
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += (x[row + i] - mu) * (x[row + i] - mu);
    const scale = 1 / Math.sqrt(squares / dim + eps);
    for (let i = 0; i < dim; i++) out[row + i] = (x[row + i] - mu) * scale * norm.weight[i] + norm.bias[i];
  }
  return out;
}

/**
 * `rate_mssa_out`: the official coding rate (docs/MEASUREMENTS.md §2: per-head
 * rows unit-normalised, ε² = 0.01, N with the class token, natural log) of
 * the MSSA output through the same layer's LN1 and U.
 */
export function mssaOutputRate(zHalf: ArrayLike<number>, dims: ObjectiveDims, mssaNorm: NormParameters, qkv: ArrayLike<number>, eps = CRATE_LAYER_NORM_EPS): number {
  const { tokens, dim, heads, dimHead } = dims;
  // eps: CRATE's LN1 uses 1e-5, CRATE-α's 1e-6 (docs/MEASUREMENTS.md §1.1).
  const normalised = layerNorm64(zHalf, tokens, dim, mssaNorm, eps);
  const projected = projectOntoHeads(normalised, tokens, dim, qkv, heads * dimHead);
  return officialCodingRate(projected, tokens, heads, dimHead);
}

/** Dᵀ of a square [dim, dim] matrix as float64, so row j of the result is column j of D (atom j). */
function transposeSquare(d: ArrayLike<number>, dim: number): Float64Array {
  if (d.length !== dim * dim) throw new RangeError(`D has ${d.length} values, expected ${dim}×${dim}`);
  const t = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) t[j * dim + i] = d[i * dim + j];
  return t;
}

/**
 * (1/N)(½‖Z·Dᵀ − X‖²_F + λ‖Z‖₁) for codes Z and targets X [tokens, dim] and
 * D [dim, dim] (`fn.weight`): the objective one ISTA step descends
 * (docs/MEASUREMENTS.md §2.1). Row r of Z·Dᵀ is Σ_j Z[r, j]·D[:, j]; zero
 * codes are skipped, so the sparse Z^{ℓ+1} costs less than X.
 */
export function lassoObjective(z: ArrayLike<number>, x: ArrayLike<number>, dictionary: ArrayLike<number>, tokens: number, dim: number, lambda: number): number {
  if (z.length !== tokens * dim) throw new RangeError(`Z has ${z.length} values, expected ${tokens}×${dim}`);
  if (x.length !== tokens * dim) throw new RangeError(`X has ${x.length} values, expected ${tokens}×${dim}`);
  return lassoWithAtoms(z, x, transposeSquare(dictionary, dim), tokens, dim, lambda);
}

function lassoWithAtoms(z: ArrayLike<number>, x: ArrayLike<number>, atoms: Float64Array, tokens: number, dim: number, lambda: number): number {
  const residual = new Float64Array(dim);
  let squares = 0;
  let l1 = 0;
  for (let r = 0; r < tokens; r++) {
    const row = r * dim;
    for (let i = 0; i < dim; i++) residual[i] = -x[row + i];
    for (let j = 0; j < dim; j++) {
      const code = z[row + j];
      if (code === 0) continue;
      l1 += Math.abs(code);
      const atom = j * dim;
      for (let i = 0; i < dim; i++) residual[i] += code * atoms[atom + i];
    }
    for (let i = 0; i < dim; i++) squares += residual[i] * residual[i];
  }
  return (0.5 * squares + lambda * l1) / tokens;
}

/** (1/N)(½‖reconstruction − X‖²_F + λ‖Z‖₁) from a reconstruction Z·Dᵀ already made. */
function lassoValue(reconstruction: Float64Array, x: Float64Array, z: ArrayLike<number>, tokens: number, lambda: number): number {
  let squares = 0;
  let l1 = 0;
  for (let i = 0; i < x.length; i++) {
    squares += (reconstruction[i] - x[i]) ** 2;
    l1 += Math.abs(z[i]);
  }
  return (0.5 * squares + lambda * l1) / tokens;
}

/**
 * `lasso_before` and `lasso_after` of one ISTA block: X = LN2(Z^{ℓ+½}), at
 * Z = X and at Z = Z^{ℓ+1}. Both reconstructions go through the row products
 * (rowProducts.ts): dense, even for the sparse Z^{ℓ+1}, because at the 30–50 %
 * zeros of trained and random CRATE layers the SIMD product beats skipping
 * zeros one column at a time (lassoObjective, the reference the tests compare with).
 */
function istaLasso(
  zHalf: ArrayLike<number>,
  zNext: ArrayLike<number>,
  istaNorm: NormParameters,
  dictionary: ArrayLike<number>,
  tokens: number,
  dim: number,
  lambda: number,
): { before: number; after: number } {
  const x = layerNorm64(zHalf, tokens, dim, istaNorm);
  if (zNext.length !== tokens * dim) throw new RangeError(`Z^{ℓ+1} has ${zNext.length} values, expected ${tokens}×${dim}`);
  const reconstruct = (z: ArrayLike<number>) => rowsTimesRows(z, tokens, dim, dictionary, dim); // Z·Dᵀ
  return { before: lassoValue(reconstruct(x), x, x, tokens, lambda), after: lassoValue(reconstruct(zNext), x, zNext, tokens, lambda) };
}

/** Every before/after value of one layer (docs/MEASUREMENTS.md §2.1); λ is the model's `lambda`. */
export function layerObjective(tensors: ObjectiveTensors, weights: ObjectiveWeights, dims: ObjectiveDims, lambda: number): LayerObjective {
  const lasso = istaLasso(tensors.zHalf, tensors.zNext, weights.istaNorm, weights.dictionary, dims.tokens, dims.dim, lambda);
  return { rateMssaOut: mssaOutputRate(tensors.zHalf, dims, weights.mssaNorm, weights.qkv), lassoBefore: lasso.before, lassoAfter: lasso.after };
}

/**
 * One proximal-gradient (ISTA) step on the LASSO objective with step η,
 * non-negative as CRATE's: Z⁺ = ReLU(Z − η·(Z·Dᵀ − X)·D − η·λ)
 * (docs/MEASUREMENTS.md §1 step 4 with Z = X). For η ≤ 1/‖D‖₂² the objective
 * cannot increase, which the property tests check on a constructed case.
 */
export function istaStep(z: ArrayLike<number>, x: ArrayLike<number>, dictionary: ArrayLike<number>, tokens: number, dim: number, eta: number, lambda: number): Float64Array {
  const out = new Float64Array(tokens * dim);
  const residual = new Float64Array(dim);
  for (let r = 0; r < tokens; r++) {
    const row = r * dim;
    // residual = Z_r·Dᵀ − X_r, i.e. residual[i] = Σ_j D[i, j] Z[r, j] − X[r, i]
    for (let i = 0; i < dim; i++) {
      let dot = -x[row + i];
      for (let j = 0; j < dim; j++) dot += dictionary[i * dim + j] * z[row + j];
      residual[i] = dot;
    }
    // gradient_j = Σ_i residual[i] D[i, j]
    for (let j = 0; j < dim; j++) {
      let gradient = 0;
      for (let i = 0; i < dim; i++) gradient += residual[i] * dictionary[i * dim + j];
      out[row + j] = Math.max(0, z[row + j] - eta * gradient - eta * lambda);
    }
  }
  return out;
}
