/** Per-pixel helpers for the digit models' inputs: luma as the model sees it, grey images, inversion. Pure. */
import type { RgbaImage } from '../engine/preprocess.ts';

/** ITU-R 601 luma of every pixel, composited onto black by alpha as the model sees it (preprocess.ts), in [0, 255]. */
export function lumaOf(image: RgbaImage): Float64Array {
  const out = new Float64Array(image.width * image.height);
  for (let i = 0; i < out.length; i++) {
    const d = image.data;
    out[i] = ((0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]) * d[4 * i + 3]) / 255;
  }
  return out;
}

/** Opaque grey RGBA from luma values in [0, 255]. */
export function greyToRgba(grey: ArrayLike<number>, width: number, height: number): RgbaImage {
  if (grey.length !== width * height) throw new RangeError(`${grey.length} values for ${width}×${height}`);
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < grey.length; i++) {
    const v = Math.round(Math.min(255, Math.max(0, grey[i])));
    data[4 * i] = data[4 * i + 1] = data[4 * i + 2] = v;
    data[4 * i + 3] = 255;
  }
  return { width, height, data };
}

/**
 * Digit datasets are white on black; a photo of ink on paper is the other
 * way round. Light images (mean luma over half) are proposed for inversion.
 */
export function looksInverted(image: RgbaImage): boolean {
  const luma = lumaOf(image);
  let sum = 0;
  for (const v of luma) sum += v;
  return sum / luma.length > 127.5;
}

/** The image with its colours inverted (alpha kept; transparent pixels become opaque white-on-black as the model sees them). */
export function invertImage(image: RgbaImage): RgbaImage {
  const data = new Uint8ClampedArray(image.data.length);
  for (let i = 0; i < data.length; i += 4) {
    const a = image.data[i + 3] / 255;
    // Composite onto white first, so a transparent background becomes black after inversion.
    for (let ch = 0; ch < 3; ch++) data[i + ch] = 255 - Math.round(image.data[i + ch] * a + 255 * (1 - a));
    data[i + 3] = 255;
  }
  return { width: image.width, height: image.height, data };
}
