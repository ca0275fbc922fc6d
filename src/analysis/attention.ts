/**
 * Attention maps on the patch grid (docs/MEASUREMENTS.md §2, "Attention maps"): for head
 * k, row q of A_k without the class-token column, A_k[q, 1:], reshaped to the
 * (H/P)×(W/P) grid. Patches are in row-major order (docs/MEASUREMENTS.md §1 step 1), so
 * token 1 + (i·gridWidth + j) is grid cell (i, j).
 */

/** A patch grid, or an image, in rows × columns. */
export interface GridSize {
  height: number;
  width: number;
}

export interface AttentionMaps {
  /** Per head, [grid.height·grid.width] row-major. */
  heads: Float64Array[];
  /** The mean over heads of the maps above. */
  mean: Float64Array;
}

/**
 * Maps of query token `query` (default 0, the class token) for every head.
 * `attention` is A [heads, tokens, tokens] row-major, tokens = 1 + grid cells.
 */
export function attentionMaps(attention: ArrayLike<number>, heads: number, tokens: number, grid: GridSize, query = 0): AttentionMaps {
  const cells = grid.height * grid.width;
  if (tokens !== 1 + cells) throw new RangeError(`${tokens} tokens do not fit a ${grid.height}×${grid.width} grid plus the class token`);
  if (attention.length !== heads * tokens * tokens) throw new RangeError(`attention has ${attention.length} values, expected ${heads}×${tokens}×${tokens}`);
  if (!Number.isInteger(query) || query < 0 || query >= tokens) throw new RangeError(`query token ${query} is outside 0..${tokens - 1}`);
  const mean = new Float64Array(cells);
  const maps: Float64Array[] = [];
  for (let k = 0; k < heads; k++) {
    const row = (k * tokens + query) * tokens + 1;
    const map = new Float64Array(cells);
    for (let c = 0; c < cells; c++) {
      map[c] = attention[row + c];
      mean[c] += map[c];
    }
    maps.push(map);
  }
  for (let c = 0; c < cells; c++) mean[c] /= heads;
  return { heads: maps, mean };
}

/**
 * Bilinear resize of a grid map to an image size for display, with PyTorch's
 * `F.interpolate(mode='bilinear', align_corners=False)` convention: output
 * pixel centres map to source coordinate (y + ½)·(in/out) − ½, clamped at 0,
 * so the map's cells stay centred on their patches.
 */
export function upsampleBilinear(map: ArrayLike<number>, from: GridSize, to: GridSize): Float64Array {
  if (map.length !== from.height * from.width) throw new RangeError(`map has ${map.length} values, expected ${from.height}×${from.width}`);
  // Separable: each grid row is first interpolated along x, then each output row blends two of
  // those. The same products and sums as blending four cells per pixel, so the same values, at a
  // third of the work (a CRATE-B attention view upsamples 13 maps to 224×224 on every result).
  const x0 = new Int32Array(to.width);
  const x1 = new Int32Array(to.width);
  const fx = new Float64Array(to.width);
  for (let x = 0; x < to.width; x++) [x0[x], x1[x], fx[x]] = sourceCoordinate(x, from.width, to.width);
  const rows = new Float64Array(from.height * to.width);
  for (let r = 0; r < from.height; r++) {
    const source = r * from.width;
    const target = r * to.width;
    for (let x = 0; x < to.width; x++) rows[target + x] = (1 - fx[x]) * map[source + x0[x]] + fx[x] * map[source + x1[x]];
  }
  const out = new Float64Array(to.height * to.width);
  for (let y = 0; y < to.height; y++) {
    const [y0, y1, fy] = sourceCoordinate(y, from.height, to.height);
    const top = y0 * to.width;
    const bottom = y1 * to.width;
    const row = y * to.width;
    for (let x = 0; x < to.width; x++) out[row + x] = (1 - fy) * rows[top + x] + fy * rows[bottom + x];
  }
  return out;
}

/** [lower index, upper index, weight of the upper] for output index `i` (PyTorch's area_pixel_compute_source_index). */
function sourceCoordinate(i: number, inSize: number, outSize: number): [number, number, number] {
  const source = Math.max((inSize / outSize) * (i + 0.5) - 0.5, 0);
  const lower = Math.min(Math.floor(source), inSize - 1);
  const upper = Math.min(lower + 1, inSize - 1);
  return [lower, upper, source - lower];
}
