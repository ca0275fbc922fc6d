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
  const out = new Float64Array(to.height * to.width);
  const xs = sourceCoordinates(from.width, to.width);
  for (let y = 0; y < to.height; y++) {
    const [y0, y1, fy] = sourceCoordinate(y, from.height, to.height);
    for (let x = 0; x < to.width; x++) {
      const [x0, x1, fx] = xs[x];
      const top = (1 - fx) * map[y0 * from.width + x0] + fx * map[y0 * from.width + x1];
      const bottom = (1 - fx) * map[y1 * from.width + x0] + fx * map[y1 * from.width + x1];
      out[y * to.width + x] = (1 - fy) * top + fy * bottom;
    }
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

function sourceCoordinates(inSize: number, outSize: number): [number, number, number][] {
  return Array.from({ length: outSize }, (_, i) => sourceCoordinate(i, inSize, outSize));
}
