/**
 * PCA of patch features as an RGB image (docs/MEASUREMENTS.md §2, "PCA of features"):
 * the patch tokens' concatenated head projections [U_1ᵀz; …; U_Kᵀz], i.e.
 * rows 1..N−1 of W = LN1(Z)·Uᵀ (the class token dropped), centred, and their
 * top three principal components, each min-max scaled to [0, 1] as R, G, B.
 */
import type { GridSize } from './attention.ts';
import { symmetricEigen } from './eigen.ts';

const PCA_COMPONENTS = 3;
/** Default background threshold on the scaled first component. */
const DEFAULT_PCA_THRESHOLD = 0.5;
/** A component whose variance is below this fraction of the first one's is numerical noise and reported as 0. */
const PCA_RELATIVE_FLOOR = 1e-12;

export interface PcaOptions {
  /** Background is where the scaled first component is below this (default 0.5); 0 keeps every patch. */
  threshold?: number;
  /** Which side of the threshold is foreground: 'above' (default) or 'below'. */
  foreground?: 'above' | 'below';
}

export interface PcaImage {
  /** Variances (eigenvalues of the covariance, divisor n − 1) of the three components, largest first. */
  variances: Float64Array;
  /** Fraction of the total variance each component explains. */
  explained: Float64Array;
  /** Per component, the projection of every patch on it, [cells]. */
  scores: Float64Array[];
  /** Per component, `scores` min-max scaled to [0, 1] (all 0 for a constant or noise-level component). */
  scaled: Float64Array[];
  /** 1 where a patch is foreground by the threshold on scaled[0]. */
  foreground: Uint8Array;
  /** [grid.height, grid.width, 3] row-major, in [0, 1]; background patches are 0. */
  rgb: Float64Array;
}

/**
 * `w` is W [tokens, inner] row-major, tokens = 1 + grid cells.
 *
 * The eigen-problem is solved on the smaller side: the inner×inner covariance
 * XᵀX, or the cells×cells Gram XXᵀ whose eigenvectors v_j give the scores
 * directly (X u_j = √λ_j v_j). Sign: each component is flipped so that the
 * patch with the largest |score| is positive (first such patch on ties), the
 * convention of scikit-learn's svd_flip; it does not depend on the side.
 */
export function pcaImage(w: ArrayLike<number>, tokens: number, inner: number, grid: GridSize, options: PcaOptions = {}): PcaImage {
  const cells = grid.height * grid.width;
  if (tokens !== 1 + cells) throw new RangeError(`${tokens} tokens do not fit a ${grid.height}×${grid.width} grid plus the class token`);
  if (w.length !== tokens * inner) throw new RangeError(`W has ${w.length} values, expected ${tokens}×${inner}`);
  const x = centredPatches(w, cells, inner);
  const scores = principalScores(x, cells, inner);
  const variances = new Float64Array(PCA_COMPONENTS);
  let totalVariance = 0;
  for (let i = 0; i < x.length; i++) totalVariance += x[i] * x[i];
  const divisor = Math.max(cells - 1, 1);
  totalVariance /= divisor;
  for (let j = 0; j < PCA_COMPONENTS; j++) {
    let sum = 0;
    for (let c = 0; c < cells; c++) sum += scores[j][c] ** 2;
    variances[j] = sum / divisor;
  }
  for (let j = 0; j < PCA_COMPONENTS; j++) {
    if (!(variances[j] > PCA_RELATIVE_FLOOR * variances[0])) {
      variances[j] = 0;
      scores[j].fill(0);
    }
    orientBySign(scores[j]);
  }
  const explained = variances.map((v) => (totalVariance > 0 ? v / totalVariance : 0));
  const scaled = scores.map(minMaxScale);
  const threshold = options.threshold ?? DEFAULT_PCA_THRESHOLD;
  const above = (options.foreground ?? 'above') === 'above';
  const foreground = new Uint8Array(cells);
  const rgb = new Float64Array(cells * 3);
  for (let c = 0; c < cells; c++) {
    const first = scaled[0][c];
    foreground[c] = (above ? first >= threshold : first <= threshold) ? 1 : 0;
    if (foreground[c]) for (let j = 0; j < 3; j++) rgb[c * 3 + j] = scaled[j][c];
  }
  return { variances, explained, scores, scaled, foreground, rgb };
}

/** Rows 1..N−1 of W in float64, each column's mean subtracted. */
function centredPatches(w: ArrayLike<number>, cells: number, inner: number): Float64Array {
  const x = new Float64Array(cells * inner);
  const mean = new Float64Array(inner);
  for (let c = 0; c < cells; c++) for (let i = 0; i < inner; i++) mean[i] += x[c * inner + i] = w[(c + 1) * inner + i];
  for (let i = 0; i < inner; i++) mean[i] /= cells;
  for (let c = 0; c < cells; c++) for (let i = 0; i < inner; i++) x[c * inner + i] -= mean[i];
  return x;
}

/** Scores of the top `components` components of centred rows (fewer dimensions leave zero vectors). */
function principalScores(x: Float64Array, cells: number, inner: number, components = PCA_COMPONENTS): Float64Array[] {
  const scores = Array.from({ length: components }, () => new Float64Array(cells));
  if (cells <= inner) {
    const gram = new Float64Array(cells * cells);
    for (let a = 0; a < cells; a++) {
      for (let b = 0; b <= a; b++) {
        let dot = 0;
        for (let i = 0; i < inner; i++) dot += x[a * inner + i] * x[b * inner + i];
        gram[a * cells + b] = gram[b * cells + a] = dot;
      }
    }
    const { values, vectors } = symmetricEigen(gram, cells);
    for (let j = 0; j < Math.min(components, cells); j++) {
      const root = Math.sqrt(Math.max(values[j], 0));
      for (let c = 0; c < cells; c++) scores[j][c] = root * vectors[j * cells + c];
    }
  } else {
    const covariance = new Float64Array(inner * inner);
    for (let c = 0; c < cells; c++) {
      for (let i = 0; i < inner; i++) {
        const xi = x[c * inner + i];
        for (let k = 0; k <= i; k++) covariance[i * inner + k] += xi * x[c * inner + k];
      }
    }
    for (let i = 0; i < inner; i++) for (let k = 0; k < i; k++) covariance[k * inner + i] = covariance[i * inner + k];
    const { vectors } = symmetricEigen(covariance, inner);
    for (let j = 0; j < Math.min(components, inner); j++) {
      for (let c = 0; c < cells; c++) {
        let dot = 0;
        for (let i = 0; i < inner; i++) dot += x[c * inner + i] * vectors[j * inner + i];
        scores[j][c] = dot;
      }
    }
  }
  return scores;
}

/** Flips `scores` in place so its entry of largest magnitude (the first on ties) is positive. */
function orientBySign(scores: Float64Array): void {
  let best = 0;
  for (let c = 1; c < scores.length; c++) if (Math.abs(scores[c]) > Math.abs(scores[best])) best = c;
  if (scores[best] < 0) for (let c = 0; c < scores.length; c++) scores[c] = -scores[c];
}

function minMaxScale(values: Float64Array): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const range = hi - lo;
  return values.map((v) => (range > 0 ? (v - lo) / range : 0));
}

// ─── The official procedure (vis_utils/pca_visualization.py) ─────────────────

/** Components the official procedure fits; the first splits foreground from background, 2–4 are the colours. */
const OFFICIAL_PCA_COMPONENTS = 4;

export interface OfficialPcaOptions {
  /** Foreground is where the scaled first component is at or above this (default 0.5). */
  threshold?: number;
  /** Which side of the threshold is foreground (default 'above'; the sign of a component is arbitrary). */
  foreground?: 'above' | 'below';
}

export interface OfficialPca {
  /** Per image: the foreground mask after hole filling [cells], and RGB [cells·3] in [0, 1], background 0. */
  images: { foreground: Uint8Array; rgb: Float64Array }[];
  /** Fraction of the foreground's variance explained by components 2–4 of the refit (the colours). */
  explained: Float64Array;
  /** Foreground patches over all images, before and after hole filling. */
  foregroundBeforeFill: number;
  foregroundCount: number;
}

/** Patch rows of every image stacked (class tokens dropped), rows picked by `keep`, centred on their own mean. */
function stackedCentred(ws: readonly ArrayLike<number>[], cells: number, inner: number, keep?: Uint8Array): { x: Float64Array; rows: number } {
  const rows = keep ? keep.reduce((a, b) => a + b, 0) : ws.length * cells;
  const x = new Float64Array(rows * inner);
  const mean = new Float64Array(inner);
  let r = 0;
  ws.forEach((w, image) => {
    for (let c = 0; c < cells; c++) {
      if (keep && !keep[image * cells + c]) continue;
      for (let i = 0; i < inner; i++) mean[i] += x[r * inner + i] = w[(c + 1) * inner + i];
      r++;
    }
  });
  for (let i = 0; i < inner; i++) mean[i] /= Math.max(rows, 1);
  for (let k = 0; k < rows; k++) for (let i = 0; i < inner; i++) x[k * inner + i] -= mean[i];
  return { x, rows };
}

/**
 * Fills the holes of a grid mask (scipy's binary_fill_holes, 4-connected):
 * every 0-cell that cannot reach the border through 0-cells becomes 1.
 */
export function fillHoles(mask: Uint8Array, grid: GridSize): Uint8Array {
  const { height, width } = grid;
  if (mask.length !== height * width) throw new RangeError(`mask has ${mask.length} cells, expected ${height}×${width}`);
  const outside = new Uint8Array(mask.length);
  const stack: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((y === 0 || x === 0 || y === height - 1 || x === width - 1) && !mask[y * width + x]) stack.push(y * width + x);
    }
  }
  while (stack.length) {
    const cell = stack.pop()!;
    if (outside[cell] || mask[cell]) continue;
    outside[cell] = 1;
    const y = Math.floor(cell / width);
    const x = cell % width;
    if (y > 0) stack.push(cell - width);
    if (y < height - 1) stack.push(cell + width);
    if (x > 0) stack.push(cell - 1);
    if (x < width - 1) stack.push(cell + 1);
  }
  return outside.map((o) => (o ? 0 : 1));
}

/**
 * The official PCA figure (docs/MEASUREMENTS.md §2, PCA of features), over a
 * set of images at once: fit 4 components jointly on every image's patch
 * tokens (rows of W, class token dropped); min-max scale the first over the
 * set and threshold it at 0.5 into foreground and background; fill the
 * foreground's holes per image; refit 4 components on the foreground tokens
 * alone and colour components 2–4, each min-max scaled over the foreground,
 * as RGB; the background is pushed down to black.
 */
export function officialPca(ws: readonly ArrayLike<number>[], tokens: number, inner: number, grid: GridSize, options: OfficialPcaOptions = {}): OfficialPca {
  const cells = grid.height * grid.width;
  if (ws.length === 0) throw new RangeError('no images to fit');
  if (tokens !== 1 + cells) throw new RangeError(`${tokens} tokens do not fit a ${grid.height}×${grid.width} grid plus the class token`);
  ws.forEach((w, i) => {
    if (w.length !== tokens * inner) throw new RangeError(`W of image ${i} has ${w.length} values, expected ${tokens}×${inner}`);
  });
  const all = stackedCentred(ws, cells, inner);
  const first = principalScores(all.x, all.rows, inner, 1)[0];
  orientBySign(first);
  const scaled = minMaxScale(first);
  const threshold = options.threshold ?? DEFAULT_PCA_THRESHOLD;
  const above = (options.foreground ?? 'above') === 'above';
  const keep = new Uint8Array(all.rows);
  let before = 0;
  for (let image = 0; image < ws.length; image++) {
    const mask = new Uint8Array(cells);
    for (let c = 0; c < cells; c++) {
      const v = scaled[image * cells + c];
      mask[c] = (above ? v >= threshold : v <= threshold) ? 1 : 0;
      before += mask[c];
    }
    keep.set(fillHoles(mask, grid), image * cells);
  }
  const foreground = stackedCentred(ws, cells, inner, keep);
  const refit = foreground.rows > 0 ? principalScores(foreground.x, foreground.rows, inner, OFFICIAL_PCA_COMPONENTS) : [];
  let totalVariance = 0;
  for (let i = 0; i < foreground.x.length; i++) totalVariance += foreground.x[i] ** 2;
  const colours = refit.slice(1, OFFICIAL_PCA_COMPONENTS).map((scores) => {
    orientBySign(scores);
    return scores;
  });
  const explained = Float64Array.from(colours, (scores) => (totalVariance > 0 ? scores.reduce((a, v) => a + v * v, 0) / totalVariance : 0));
  const scaledColours = colours.map(minMaxScale);
  const images = ws.map((_, image) => ({ foreground: keep.slice(image * cells, (image + 1) * cells), rgb: new Float64Array(cells * 3) }));
  let row = 0;
  for (let image = 0; image < ws.length; image++) {
    for (let c = 0; c < cells; c++) {
      if (!keep[image * cells + c]) continue;
      scaledColours.forEach((component, j) => (images[image].rgb[c * 3 + j] = component[row]));
      row++;
    }
  }
  return { images, explained, foregroundBeforeFill: before, foregroundCount: foreground.rows };
}
