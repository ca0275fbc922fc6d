import { shapeOf, type AnyCrateConfig, type CrateConfig } from './config.ts';

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
export function imageToTensor(image: RgbaImage, config: Omit<CrateConfig, 'arch'>): Float32Array {
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

/**
 * How a photo becomes the model input. 'squash' is imageToTensor (the whole image resized to
 * the model's size). 'imagenet-eval' is the evaluation transform of ImageNet models as torchvision
 * applies it to a PIL image: Resize(256) on the shorter side (PIL's antialiased bilinear), then
 * CenterCrop(224), ToTensor, Normalize with the model's mean/std.
 */
export type Preprocessing = 'squash' | 'imagenet-eval';

/** The evaluation transform's sizes: the shorter side is resized to 256, then the centre 224×224 is kept. */
export const IMAGENET_EVAL = { resize: 256, crop: 224 } as const;

/** 'imagenet-eval' for a 3-channel model with a 224×224 input (the ImageNet layout), 'squash' for every other model. */
export function defaultPreprocessing(config: Omit<AnyCrateConfig, 'arch'>): Preprocessing {
  const { imageHeight, imageWidth } = shapeOf(config);
  return config.channels === 3 && imageHeight === IMAGENET_EVAL.crop && imageWidth === IMAGENET_EVAL.crop ? 'imagenet-eval' : 'squash';
}

/** One line for people: what was done to their image. */
export function describePreprocessing(kind: Preprocessing, config: Omit<AnyCrateConfig, 'arch'>): string {
  const { imageHeight: H, imageWidth: W } = shapeOf(config);
  const norm = `normalised with mean [${config.mean.join(', ')}], std [${config.std.join(', ')}]`;
  return kind === 'imagenet-eval'
    ? `ImageNet evaluation transform: shorter side resized to ${IMAGENET_EVAL.resize} (antialiased bilinear, as torchvision on a PIL image), centre ${IMAGENET_EVAL.crop}×${IMAGENET_EVAL.crop} crop, ${norm}`
    : `whole image resized to ${W}×${H} (bilinear), ${norm}`;
}

/** The model input [C, H, W] from pixels, by the given preprocessing (the model's default when not given). */
export function preprocessImage(image: RgbaImage, config: Omit<AnyCrateConfig, 'arch'>, kind = defaultPreprocessing(config)): Float32Array {
  return kind === 'imagenet-eval' ? imageNetEvalTensor(image, config) : imageToTensor(image, config);
}

/**
 * PIL's resampling weights for one axis (libImaging/Resample.c, precompute_coeffs with the
 * bilinear filter): on a downscale the triangle's support is widened by the scale factor, which
 * is the antialiasing; each output pixel's weights are normalised, then rounded to 22-bit fixed
 * point as PIL does for 8-bit images.
 */
function pilBilinearWeights(inSize: number, outSize: number): { first: Int32Array; weights: Float64Array[] } {
  const PRECISION = 1 << 22;
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the bilinear filter's support is 1
  const first = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(Math.max(xmax, 0));
    let total = 0;
    for (let x = 0; x < k.length; x++) {
      const t = Math.abs((x + xmin - center + 0.5) / filterScale);
      k[x] = t < 1 ? 1 - t : 0;
      total += k[x];
    }
    for (let x = 0; x < k.length; x++) {
      const w = total !== 0 ? k[x] / total : 0;
      k[x] = w < 0 ? Math.trunc(-0.5 + w * PRECISION) : Math.trunc(0.5 + w * PRECISION);
    }
    first[xx] = xmin;
    weights.push(k);
  }
  return { first, weights };
}

/** One 8-bit pass of PIL's resampler along rows (`horizontal`) or columns, RGB, rounding and clipping to 0..255 as PIL does. */
function pilPass(src: Uint8Array, width: number, height: number, outSize: number, horizontal: boolean): Uint8Array {
  const inSize = horizontal ? width : height;
  const { first, weights } = pilBilinearWeights(inSize, outSize);
  const outW = horizontal ? outSize : width;
  const outH = horizontal ? height : outSize;
  const out = new Uint8Array(outW * outH * 3);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const k = weights[o];
      for (let c = 0; c < 3; c++) {
        let acc = 1 << 21; // PIL starts at half an output step: rounding to nearest
        for (let t = 0; t < k.length; t++) {
          const i = first[o] + t;
          acc += src[((horizontal ? y * width + i : i * width + x) * 3) + c] * k[t];
        }
        out[(y * outW + x) * 3 + c] = Math.min(255, Math.max(0, Math.floor(acc / (1 << 22))));
      }
    }
  }
  return out;
}

/** Python's round(): halves go to the even neighbour (torchvision's center_crop uses it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The ImageNet evaluation transform (Preprocessing 'imagenet-eval') of torchvision on a PIL image:
 * `Resize(256)` (shorter side 256, longer int(256·long/short), PIL BILINEAR with antialias,
 * horizontal pass then vertical with 8-bit rounding between them, as PIL does), `CenterCrop(224)`
 * (offsets rounded as Python's round), `ToTensor`, `Normalize(mean, std)`. The alpha channel is
 * dropped, as `Image.convert('RGB')` in torchvision's image loader drops it.
 */
export function imageNetEvalTensor(image: RgbaImage, config: Omit<AnyCrateConfig, 'arch'>, resize: number = IMAGENET_EVAL.resize): Float32Array {
  const { imageHeight: H, imageWidth: W } = shapeOf(config);
  if (config.channels !== 3) throw new RangeError(`the ImageNet evaluation transform needs a 3-channel model, this one has ${config.channels}`);
  const { width, height } = image;
  if (width < 1 || height < 1) throw new RangeError(`image is ${width}×${height}; it needs at least one pixel`);
  const short = resize; // scaled with the crop for finer maps (src/image/inputPreprocessing.ts)
  const [outW, outH] = width <= height ? [short, Math.trunc((short * height) / width)] : [Math.trunc((short * width) / height), short];
  if (outW < W || outH < H) throw new RangeError(`the ${W}×${H} centre crop does not fit the resized ${outW}×${outH} image`);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = image.data[i * 4 + c];
  let pixels: Uint8Array = rgb;
  let w = width;
  if (outW !== width) {
    pixels = pilPass(pixels, width, height, outW, true);
    w = outW;
  }
  if (outH !== height) pixels = pilPass(pixels, w, height, outH, false);
  const top = roundHalfEven((outH - H) / 2);
  const left = roundHalfEven((outW - W) / 2);
  const out = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        out[(c * H + y) * W + x] = (pixels[((top + y) * outW + left + x) * 3 + c] / 255 - config.mean[c]) / config.std[c];
      }
    }
  }
  return out;
}
