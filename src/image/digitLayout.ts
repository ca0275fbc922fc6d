/** A drawing laid out as an MNIST digit before it is given to a digit model. Pure. */
import type { RgbaImage } from '../engine/preprocess.ts';
import { greyToRgba, lumaOf } from './pixels.ts';
import { cropAndResize } from './resample.ts';

/** Share of a digit box in the image: MNIST fits each digit into 20×20 of 28×28. */
const DIGIT_BOX_FRACTION = 20 / 28;

/**
 * A drawing (white strokes on black, any size) laid out as MNIST digits are:
 * the strokes' bounding box scaled so its longer side is 20/28 of the output,
 * then shifted so the centre of mass lies at the centre. Returns undefined
 * when nothing was drawn. Models trained on MNIST recognise digits laid out
 * this way far better than a raw downscale of the whole canvas.
 */
export function layoutDigit(drawing: RgbaImage, outWidth: number, outHeight: number, threshold = 32): RgbaImage | undefined {
  const luma = lumaOf(drawing);
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < drawing.height; y++) {
    for (let x = 0; x < drawing.width; x++) {
      if (luma[y * drawing.width + x] > threshold) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return undefined;
  const boxW = x1 - x0 + 1;
  const boxH = y1 - y0 + 1;
  const target = DIGIT_BOX_FRACTION * Math.min(outWidth, outHeight);
  const scale = target / Math.max(boxW, boxH);
  const w = Math.max(1, Math.round(boxW * scale));
  const h = Math.max(1, Math.round(boxH * scale));
  const digit = lumaOf(cropAndResize(drawing, { x: x0, y: y0, width: boxW, height: boxH }, w, h));
  // Centre of mass of the small digit.
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = digit[y * w + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const ox = Math.round(outWidth / 2 - (mass > 0 ? mx / mass : w / 2));
  const oy = Math.round(outHeight / 2 - (mass > 0 ? my / mass : h / 2));
  const out = new Float64Array(outWidth * outHeight);
  for (let y = 0; y < h; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= outHeight) continue;
    for (let x = 0; x < w; x++) {
      const tx = x + ox;
      if (tx < 0 || tx >= outWidth) continue;
      out[ty * outWidth + tx] = digit[y * w + x];
    }
  }
  return greyToRgba(out, outWidth, outHeight);
}
