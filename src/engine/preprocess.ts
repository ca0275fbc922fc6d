import { shapeOf, type CrateConfig } from './config.ts';

/** Decoded pixels, as ImageData and the Node decoders give them. */
export interface RgbaImage {
  width: number;
  height: number;
  /** width·height·4 bytes, row-major RGBA. */
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * Turns pixels into the model's input [C, H, W]: bilinear resize to the
 * model's size (pixel centres aligned, as torchvision's Resize without
 * antialias), [0,1] scaling, ITU-R 601 luma for grey models, then
 * (x − mean)/std per channel from the model config.
 */
export function imageToTensor(image: RgbaImage, config: CrateConfig): Float32Array {
  const { imageHeight: H, imageWidth: W } = shapeOf(config);
  const C = config.channels;
  if (image.width < 1 || image.height < 1) throw new RangeError(`image is ${image.width}×${image.height}; it needs at least one pixel`);
  const out = new Float32Array(C * H * W);
  const sx = image.width / W;
  const sy = image.height / H;
  const pixel = new Float64Array(4);
  for (let y = 0; y < H; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), image.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), image.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const wx = fx - x0;
      for (let ch = 0; ch < 4; ch++) {
        const at = (yy: number, xx: number) => image.data[(yy * image.width + xx) * 4 + ch];
        pixel[ch] =
          ((at(y0, x0) * (1 - wx) + at(y0, x1) * wx) * (1 - wy) + (at(y1, x0) * (1 - wx) + at(y1, x1) * wx) * wy) / 255;
      }
      // Transparent pixels are composited onto black, which is the digit datasets' background.
      const alpha = pixel[3];
      const rgb = [pixel[0] * alpha, pixel[1] * alpha, pixel[2] * alpha];
      const values = C === 1 ? [0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]] : [rgb[0], rgb[1], rgb[2], alpha];
      for (let c = 0; c < C; c++) out[(c * H + y) * W + x] = (values[c] - config.mean[c]) / config.std[c];
    }
  }
  return out;
}
