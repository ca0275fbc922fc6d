/**
 * Segmentation from attention maps and its IoU against ground truth
 * (docs/MEASUREMENTS.md §2, "Segmentation from attention"). Masks are Uint8Array of 0/1,
 * row-major on the patch grid (or on the pixel grid for ground truth).
 */
import type { GridSize } from './attention.ts';

/**
 * The default segmentation: top 10% of patches, chosen by measurement on the
 * scene model's 200 shipped samples × 6 layers (bench/segmentation.ts; no
 * official code defines a top-P% mask, docs/MEASUREMENTS.md §2 (a)). Chosen
 * by the mean IoU of the two masks that do not look at the ground truth:
 *   top 10%:  mean of heads 0.257, union 0.288 (average 0.273); best head (oracle) 0.330
 *   top 60% (the old default):  0.107, 0.077 (average 0.092); best head 0.112
 *   mass τ = 0.6 (DINO's paper):  0.221, 0.257 (average 0.239); best head 0.306
 * The old 60% kept mostly background, so every layer showed IoU ≈ 0.1.
 */
export const DEFAULT_SEGMENTATION_METHOD = 'top' as const;
/** P of the top-P% segmentation (docs/MEASUREMENTS.md §2 (a)): see DEFAULT_SEGMENTATION_METHOD for the measurement. */
export const DEFAULT_TOP_FRACTION = 0.1;
/**
 * τ of DINO's attention-mass mask (docs/MEASUREMENTS.md §2 (b)): 0.6 is the
 * value in DINO's paper text; DINO's code has no default (`threshold=None`).
 */
export const DEFAULT_MASS_FRACTION = 0.6;

/** Indices of `map` by value, largest first; equal values keep index order (a stable, reproducible order). */
function descendingOrder(map: ArrayLike<number>): Uint32Array {
  const order = Uint32Array.from({ length: map.length }, (_, i) => i);
  return order.sort((a, b) => map[b] - map[a] || a - b);
}

/** Entries the top-P% mask keeps: round(P·n), halves rounded up (⌊P·n + ½⌋). */
export function topFractionCount(fraction: number, entries: number): number {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
  return Math.min(entries, Math.floor(fraction * entries + 0.5));
}

/**
 * Top-P% segmentation (docs/MEASUREMENTS.md §2 (a); no official code defines it): the top P of the map's entries set
 * to 1, exactly topFractionCount(P, n) of them; ties broken by lower index.
 */
export function topFractionMask(map: ArrayLike<number>, fraction = DEFAULT_TOP_FRACTION): Uint8Array {
  const keep = topFractionCount(fraction, map.length);
  const mask = new Uint8Array(map.length);
  const order = descendingOrder(map);
  for (let i = 0; i < keep; i++) mask[order[i]] = 1;
  return mask;
}

/**
 * DINO segmentation (docs/MEASUREMENTS.md §2 (b)): the smallest set of entries holding a
 * fraction τ of the map's total mass. Taking entries largest first, an entry
 * is kept while the mass of the entries before it is below τ·total; this is
 * DINO's `cumsum(sorted ascending / total) > 1 − τ` written from the top.
 */
export function massFractionMask(map: ArrayLike<number>, fraction = DEFAULT_MASS_FRACTION): Uint8Array {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction must be in [0, 1], got ${fraction}`);
  let total = 0;
  for (let i = 0; i < map.length; i++) total += map[i];
  const mask = new Uint8Array(map.length);
  const order = descendingOrder(map);
  let before = 0;
  for (let i = 0; i < order.length && before < fraction * total; i++) {
    mask[order[i]] = 1;
    before += map[order[i]];
  }
  return mask;
}

/** Union (logical or) of same-sized masks, e.g. over heads. */
export function unionMasks(masks: readonly Uint8Array[]): Uint8Array {
  if (masks.length === 0) throw new RangeError('no masks to unite');
  const out = new Uint8Array(masks[0].length);
  for (const mask of masks) {
    if (mask.length !== out.length) throw new RangeError(`mask sizes differ: ${mask.length} vs ${out.length}`);
    for (let i = 0; i < out.length; i++) out[i] |= mask[i] ? 1 : 0;
  }
  return out;
}

export type SegmentationMethod = { kind: 'top'; fraction?: number } | { kind: 'mass'; fraction?: number };

export interface HeadSegmentation {
  /** Per head, on the grid. */
  heads: Uint8Array[];
  /** Union over heads. */
  union: Uint8Array;
}

/** Masks of every head's map and their union, by one method. */
export function segmentHeads(maps: readonly ArrayLike<number>[], method: SegmentationMethod = { kind: 'top' }): HeadSegmentation {
  const heads = maps.map((map) => (method.kind === 'top' ? topFractionMask(map, method.fraction) : massFractionMask(map, method.fraction)));
  return { heads, union: unionMasks(heads) };
}

/** |a ∩ b| / |a ∪ b| over nonzero entries; two empty masks are identical, IoU 1. */
export function maskIoU(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`mask sizes differ: ${a.length} vs ${b.length}`);
  let intersection = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x && y) intersection++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : intersection / union;
}

/**
 * Nearest-neighbour resize of a grid mask to pixels: pixel (y, x) takes cell
 * (⌊y·gh/H⌋, ⌊x·gw/W⌋), in exact integer arithmetic. With H = gh·P this is
 * the patch the pixel lies in.
 */
export function upsampleMaskNearest(mask: ArrayLike<number>, grid: GridSize, image: GridSize): Uint8Array {
  if (mask.length !== grid.height * grid.width) throw new RangeError(`mask has ${mask.length} values, expected ${grid.height}×${grid.width}`);
  const out = new Uint8Array(image.height * image.width);
  for (let y = 0; y < image.height; y++) {
    const row = Math.floor((y * grid.height) / image.height) * grid.width;
    for (let x = 0; x < image.width; x++) out[y * image.width + x] = mask[row + Math.floor((x * grid.width) / image.width)] ? 1 : 0;
  }
  return out;
}

/**
 * IoU of a patch-level mask against a pixel-level ground truth [H, W]
 * (nonzero = object). The patch mask is upsampled by nearest to the pixel
 * grid, not the ground truth downsampled: every pixel counts once and no
 * threshold on partly covered patches is needed.
 */
export function patchMaskIoU(patchMask: ArrayLike<number>, grid: GridSize, groundTruth: ArrayLike<number>, image: GridSize): number {
  if (groundTruth.length !== image.height * image.width) {
    throw new RangeError(`ground truth has ${groundTruth.length} values, expected ${image.height}×${image.width}`);
  }
  return maskIoU(upsampleMaskNearest(patchMask, grid, image), groundTruth);
}

/** IoUs closer than this are a tie: they are ratios of pixel counts, so a real difference is far larger. */
const IOU_TIE_TOLERANCE = 1e-12;

export interface BestHead {
  /** Head with the largest IoU (lowest index on ties). */
  head: number;
  iou: number;
  /** Every head that reaches the largest IoU (ascending): more than one is a tie, to be shown as one. */
  tied: number[];
  /** IoU of every head. */
  ious: number[];
}

/**
 * The head whose mask matches the pixel-level ground truth best
 * (docs/MEASUREMENTS.md §2: "best head"). It is picked WITH the ground truth,
 * so it is an oracle, never a prediction; `tied` lists every head at the top.
 */
export function bestHead(headMasks: readonly Uint8Array[], grid: GridSize, groundTruth: ArrayLike<number>, image: GridSize): BestHead {
  if (headMasks.length === 0) throw new RangeError('no head masks');
  const ious = headMasks.map((mask) => patchMaskIoU(mask, grid, groundTruth, image));
  let head = 0;
  for (let k = 1; k < ious.length; k++) if (ious[k] > ious[head] + IOU_TIE_TOLERANCE) head = k;
  const tied = ious.flatMap((iou, k) => (Math.abs(iou - ious[head]) <= IOU_TIE_TOLERANCE ? [k] : []));
  return { head: tied[0], iou: ious[head], tied, ious };
}

/** Mean of the heads' IoUs: the non-oracle counterpart of the best head (docs/MEASUREMENTS.md §2). */
export function meanIoU(ious: readonly number[]): number {
  if (ious.length === 0) throw new RangeError('no IoUs to average');
  return ious.reduce((a, b) => a + b, 0) / ious.length;
}

/** The best head (an oracle) and the union's IoU of one segmentation against the ground truth (docs/MEASUREMENTS.md §2). */
export function scoreSegmentation(segmentation: HeadSegmentation, grid: GridSize, groundTruth: ArrayLike<number>, image: GridSize): BestHead & { union: number } {
  return { ...bestHead(segmentation.heads, grid, groundTruth, image), union: patchMaskIoU(segmentation.union, grid, groundTruth, image) };
}

/** The segmentation settings IoU depends on, as the app's link names them (`seg`, `p`, `tau`). */
export interface SegmentationSettings {
  seg: SegmentationMethod['kind'];
  p: number;
  tau: number;
}

/** The method the settings select: P for top-P%, τ for attention mass. */
function settingsMethod(s: SegmentationSettings): SegmentationMethod {
  return { kind: s.seg, fraction: s.seg === 'top' ? s.p : s.tau };
}

/** Best-head IoU with the ground truth of one layer's class-token maps under the settings (docs/MEASUREMENTS.md §2, segmentation). */
export function bestHeadIoU(maps: readonly ArrayLike<number>[], grid: GridSize, groundTruth: ArrayLike<number>, image: GridSize, s: SegmentationSettings): number {
  return bestHead(segmentHeads(maps, settingsMethod(s)).heads, grid, groundTruth, image).iou;
}

export interface SegmentationScores {
  best: BestHead;
  meanOfHeads: number;
  union: number;
}

/** Every IoU of one method on one image's head maps: each head (and the oracle best), their mean, and the union's. */
export function segmentationScores(
  maps: readonly ArrayLike<number>[],
  method: SegmentationMethod,
  grid: GridSize,
  groundTruth: ArrayLike<number>,
  image: GridSize,
): SegmentationScores {
  const { union, ...best } = scoreSegmentation(segmentHeads(maps, method), grid, groundTruth, image);
  return { best, meanOfHeads: meanIoU(best.ious), union };
}
