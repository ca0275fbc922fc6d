/**
 * Image overlays as RGBA pixels: attention maps over the input (docs/MEASUREMENTS.md §2,
 * attention maps), segmentation masks, ground truth and the PCA picture.
 * Everything here is pure (the PNG is encoded in png.ts, with no canvas),
 * so every figure can be an <svg> with <image> elements and be exported as
 * SVG or PNG unchanged (exportFigure.ts).
 *
 * Rasters are made at the image's own resolution and then scaled up by an
 * integer factor with nearest neighbour here, never by the browser: the
 * browser would smooth them, and an exported PNG must look like the page.
 */
import { upsampleBilinear, type GridSize } from '../analysis/attention.ts';
import { upsampleMaskNearest } from '../analysis/segmentation.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import { VIRIDIS } from './colours.ts';
import { base64, encodeRgbaPng } from './png.ts';

export interface Raster {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** Integer scale that makes `size` at least `target` pixels (at least 1). */
function scaleFor(size: number, target: number): number {
  return Math.max(1, Math.ceil(target / Math.max(size, 1)));
}

function scaleNearest(raster: Raster, scale: number): Raster {
  if (scale === 1) return raster;
  const width = raster.width * scale;
  const height = raster.height * scale;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < width; x++) {
      const from = (sy * raster.width + Math.floor(x / scale)) * 4;
      const to = (y * width + x) * 4;
      data[to] = raster.data[from];
      data[to + 1] = raster.data[from + 1];
      data[to + 2] = raster.data[from + 2];
      data[to + 3] = raster.data[from + 3];
    }
  }
  return { width, height, data };
}

export function imageRaster(image: RgbaImage): Raster {
  return { width: image.width, height: image.height, data: new Uint8ClampedArray(image.data) };
}

/**
 * The map, bilinear-upsampled to the image with PyTorch's convention
 * (analysis/attention.ts), scaled by `max` (the map's own maximum unless
 * given) through viridis, blended over the input: colour = α·viridis + (1−α)·pixel.
 */
export function attentionOverlay(image: RgbaImage, map: ArrayLike<number>, grid: GridSize, options: { alpha?: number; max?: number } = {}): Raster {
  const alpha = options.alpha ?? 0.7;
  const size = { height: image.height, width: image.width };
  const up = upsampleBilinear(map, grid, size);
  let max = options.max ?? 0;
  if (options.max === undefined) for (let i = 0; i < map.length; i++) max = Math.max(max, map[i]);
  const data = new Uint8ClampedArray(image.width * image.height * 4);
  for (let p = 0; p < up.length; p++) {
    const t = max > 0 ? Math.min(Math.max(up[p] / max, 0), 1) : 0;
    const c = Math.round(t * 255) * 3;
    for (let j = 0; j < 3; j++) data[4 * p + j] = alpha * VIRIDIS[c + j] + (1 - alpha) * image.data[4 * p + j];
    data[4 * p + 3] = 255;
  }
  return { width: image.width, height: image.height, data };
}

/**
 * A grid mask over the image: kept patches tinted with `colour`, the rest
 * darkened, so both the mask and what it covers stay visible.
 */
export function maskOverlay(image: RgbaImage, mask: ArrayLike<number>, grid: GridSize, colour: readonly [number, number, number]): Raster {
  const pixels = upsampleMaskNearest(mask, grid, { height: image.height, width: image.width });
  return pixelMaskOverlay(image, pixels, colour);
}

/** A pixel mask (e.g. ground truth) over the image, as maskOverlay. */
export function pixelMaskOverlay(image: RgbaImage, pixels: ArrayLike<number>, colour: readonly [number, number, number]): Raster {
  const data = new Uint8ClampedArray(image.width * image.height * 4);
  for (let p = 0; p < pixels.length; p++) {
    for (let j = 0; j < 3; j++) {
      const v = image.data[4 * p + j];
      data[4 * p + j] = pixels[p] ? 0.5 * v + 0.5 * colour[j] : 0.25 * v + 8;
    }
    data[4 * p + 3] = 255;
  }
  return { width: image.width, height: image.height, data };
}

/** The PCA picture [grid.height, grid.width, 3] in [0, 1] as pixels, one per patch. */
export function rgbGridRaster(rgb: ArrayLike<number>, grid: GridSize): Raster {
  const cells = grid.height * grid.width;
  const data = new Uint8ClampedArray(cells * 4);
  for (let c = 0; c < cells; c++) {
    for (let j = 0; j < 3; j++) data[4 * c + j] = Math.round(255 * Math.min(Math.max(rgb[3 * c + j], 0), 1));
    data[4 * c + 3] = 255;
  }
  return { width: grid.width, height: grid.height, data };
}

/** PNG data URL of a raster: uncompressed, so it costs a copy, not an encoder's time (png.ts). */
function toDataUrl(raster: Raster): string {
  return `data:image/png;base64,${base64(encodeRgbaPng(raster.width, raster.height, raster.data))}`;
}

/** The raster scaled to at least `target` pixels wide, as a data URL with its displayed size. */
export function rasterImage(raster: Raster, target: number): { href: string; width: number; height: number } {
  const scaled = scaleNearest(raster, scaleFor(raster.width, target));
  return { href: toDataUrl(scaled), width: scaled.width, height: scaled.height };
}
