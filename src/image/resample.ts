/** An image's crop resampled to the model's input size. Pure. */
import type { RgbaImage } from '../engine/preprocess.ts';
import { ImageInputError } from './checks.ts';
import { clampCrop, type Crop } from './crop.ts';

/**
 * The crop of `image` resampled to outWidth × outHeight RGBA. Each output
 * pixel averages the source area it covers (box filter with fractional edge
 * weights), so a large photo shrinks without aliasing; where the crop is
 * smaller than the output it degenerates to nearest-neighbour upsampling.
 */
export function cropAndResize(image: RgbaImage, crop: Crop, outWidth: number, outHeight: number): RgbaImage {
  if (image.width < 1 || image.height < 1) throw new ImageInputError(`image is ${image.width}×${image.height}; it needs at least one pixel`);
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) throw new RangeError(`output size ${outWidth}×${outHeight} is not a positive whole size`);
  const c = clampCrop(crop, image.width, image.height);
  if (!(c.width > 0 && c.height > 0)) throw new ImageInputError('the crop is empty');
  const out = new Uint8ClampedArray(outWidth * outHeight * 4);
  const sx = c.width / outWidth;
  const sy = c.height / outHeight;
  const acc = new Float64Array(4);
  for (let oy = 0; oy < outHeight; oy++) {
    const y0 = c.y + oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < outWidth; ox++) {
      const x0 = c.x + ox * sx;
      const x1 = x0 + sx;
      acc.fill(0);
      let total = 0;
      const yEnd = Math.min(Math.ceil(y1), image.height);
      const xEnd = Math.min(Math.ceil(x1), image.width);
      for (let y = Math.floor(y0); y < yEnd; y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        if (wy <= 0) continue;
        for (let x = Math.floor(x0); x < xEnd; x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          if (wx <= 0) continue;
          const w = wx * wy;
          const at = (y * image.width + x) * 4;
          for (let ch = 0; ch < 4; ch++) acc[ch] += image.data[at + ch] * w;
          total += w;
        }
      }
      const to = (oy * outWidth + ox) * 4;
      for (let ch = 0; ch < 4; ch++) out[to + ch] = total > 0 ? Math.round(acc[ch] / total) : 0;
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}
