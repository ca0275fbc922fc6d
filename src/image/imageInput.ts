/**
 * Images the user brings (upload, drop, paste, drawing): the checks, the crop
 * and the resampling to the model's input size. Everything above
 * `decodeImageFile` is pure and unit-tested (test/unit/imageInput.test.ts);
 * `decodeImageFile` is the only part that needs a browser.
 *
 * Files are untrusted: a wrong type, a zero or absurd size, a corrupt body or
 * an animation must end in an ImageInputError with a one-line message, never
 * in an exception that blanks the view or a decode that exhausts memory.
 */
import type { RgbaImage } from '../engine/preprocess.ts';

export class ImageInputError extends Error {
  override name = 'ImageInputError';
}

/** Larger files are refused before they are read (a 12,000² JPEG photo is ~40 MB). */
export const MAX_IMAGE_FILE_BYTES = 100 * 1024 * 1024;
/** Longest side of a decoded image; larger ones are downscaled while decoding (createImageBitmap's resize). */
export const MAX_DECODED_SIDE = 2048;
/** Largest side a header may declare; beyond it the file is refused unread (PNG allows 2³¹ − 1). */
export const MAX_SOURCE_SIDE = 65_535;

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';

export interface SniffedImage {
  format: ImageFormat;
  /** From the header; undefined where the header could not be read that far. */
  width?: number;
  height?: number;
  /** GIF with more than one image block: only the first frame is used. */
  animated?: boolean;
}

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u24le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const u32be = (b: Uint8Array, i: number) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
const i32le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((v, i) => bytes[at + i] === v);
}

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** JPEG: walk the marker segments to the first SOFn (baseline, progressive, …), which holds the size. */
function jpegSize(b: Uint8Array): { width?: number; height?: number } {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return {};
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RSTn, SOI, EOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      i += 2;
      continue;
    }
    const length = u16be(b, i + 2);
    if (length < 2) return {};
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 9 > b.length) return {};
      return { height: u16be(b, i + 5), width: u16be(b, i + 7) };
    }
    if (marker === 0xda) return {}; // start of scan before any frame header: malformed
    i += 2 + length;
  }
  return {};
}

/** GIF: more than one image descriptor means an animation (or a multi-frame still); we use the first. */
function gifFrames(b: Uint8Array): number {
  let i = 13;
  const flags = b[10];
  if (flags & 0x80) i += 3 * (1 << ((flags & 7) + 1)); // global colour table
  let frames = 0;
  while (i < b.length) {
    const block = b[i];
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      i += 2; // extension introducer + label, then sub-blocks
    } else if (block === 0x2c) {
      frames++;
      if (frames > 1) return frames;
      if (i + 10 > b.length) break;
      const local = b[i + 9];
      i += 10;
      if (local & 0x80) i += 3 * (1 << ((local & 7) + 1));
      i += 1; // LZW minimum code size
    } else {
      break; // garbage: the decoder will say so
    }
    while (i < b.length && b[i] !== 0) i += b[i] + 1; // data sub-blocks
    i++; // block terminator
  }
  return frames;
}

/**
 * The format and declared size from the first bytes, or undefined when the
 * bytes are not an image format the app accepts. Only the header is trusted
 * to be a header: the decoder still has the last word.
 */
export function sniffImage(b: Uint8Array): SniffedImage | undefined {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return b.length >= 24 && startsWith(b, ascii('IHDR'), 12) ? { format: 'png', width: u32be(b, 16), height: u32be(b, 20) } : { format: 'png' };
  }
  if (startsWith(b, [0xff, 0xd8, 0xff])) return { format: 'jpeg', ...jpegSize(b) };
  if (startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a'))) {
    if (b.length < 13) return { format: 'gif' };
    return { format: 'gif', width: u16le(b, 6), height: u16le(b, 8), animated: gifFrames(b) > 1 };
  }
  if (startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8)) {
    const chunk = String.fromCharCode(...b.subarray(12, 16));
    if (chunk === 'VP8 ' && b.length >= 30) return { format: 'webp', width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
    if (chunk === 'VP8L' && b.length >= 25) {
      const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X' && b.length >= 30) return { format: 'webp', width: u24le(b, 24) + 1, height: u24le(b, 27) + 1, animated: (b[20] & 0x02) !== 0 };
    return { format: 'webp' };
  }
  if (startsWith(b, ascii('BM')) && b.length >= 26) return { format: 'bmp', width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) };
  return undefined;
}

/** What a file's first bytes say it is, for a notice about a file that is not an image. */
export function describeBytes(b: Uint8Array): string {
  if (b.length === 0) return 'empty';
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive';
  if (startsWith(b, ascii('%PDF'))) return 'a PDF';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(0, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'an SVG drawing (vector images are not supported)';
  if (head.startsWith('<')) return 'a text/HTML file';
  return 'not a PNG, JPEG, GIF, WebP or BMP image';
}

/** Size checks on a sniffed header; a problem is a one-line reason. */
export function sizeProblem(width: number | undefined, height: number | undefined): string | undefined {
  if (width === undefined || height === undefined) return undefined;
  if (width < 1 || height < 1) return `it is ${width}×${height} pixels (zero-sized)`;
  if (width > MAX_SOURCE_SIDE || height > MAX_SOURCE_SIDE) return `it is ${width}×${height} pixels, over the ${MAX_SOURCE_SIDE}-pixel limit per side`;
  return undefined;
}

/** The largest size within maxSide × maxSide with the same aspect ratio (never upscales, never below 1 px). */
export function fitWithin(width: number, height: number, maxSide = MAX_DECODED_SIDE): { width: number; height: number; scale: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)), scale };
}

// ─── Crop ────────────────────────────────────────────────────────────────────

/** A crop rectangle in source pixels (may be fractional: it is sampled, not indexed). */
export interface Crop {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The largest centred rectangle of the given aspect (width/height) inside the image: the default crop. */
export function defaultCrop(width: number, height: number, aspect = 1): Crop {
  let w = width;
  let h = w / aspect;
  if (h > height) {
    h = height;
    w = h * aspect;
  }
  return { x: (width - w) / 2, y: (height - h) / 2, width: w, height: h };
}

/** Keeps a crop inside the image (shrinking it, aspect kept, if it is larger than the image). */
export function clampCrop(crop: Crop, width: number, height: number): Crop {
  let { width: w, height: h } = crop;
  const shrink = Math.min(1, width / w, height / h);
  w *= shrink;
  h *= shrink;
  const x = Math.min(Math.max(crop.x, 0), width - w);
  const y = Math.min(Math.max(crop.y, 0), height - h);
  return { x, y, width: w, height: h };
}

/** The crop moved by (dx, dy) source pixels, stopping at the image's edges. */
export function moveCrop(crop: Crop, dx: number, dy: number, width: number, height: number): Crop {
  return clampCrop({ ...crop, x: crop.x + dx, y: crop.y + dy }, width, height);
}

/**
 * The crop at `zoom` ∈ (0, 1] of the largest crop of its aspect, about its
 * centre, then kept inside the image: the "crop size" slider.
 */
export function zoomCrop(crop: Crop, zoom: number, width: number, height: number): Crop {
  const full = defaultCrop(width, height, crop.width / crop.height);
  const z = Math.min(1, Math.max(zoom, 0.02));
  const w = full.width * z;
  const h = full.height * z;
  const cx = crop.x + crop.width / 2;
  const cy = crop.y + crop.height / 2;
  return clampCrop({ x: cx - w / 2, y: cy - h / 2, width: w, height: h }, width, height);
}

/** zoomCrop's inverse: how large a crop is relative to the largest of its aspect. */
export function cropZoom(crop: Crop, width: number, height: number): number {
  return crop.width / defaultCrop(width, height, crop.width / crop.height).width;
}

// ─── Resampling ──────────────────────────────────────────────────────────────

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

/** Share of a digit box in the image: MNIST fits each digit into 20×20 of 28×28. */
export const DIGIT_BOX_FRACTION = 20 / 28;

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

// ─── Browser decoding ────────────────────────────────────────────────────────

export interface DecodedImage {
  /** The pixels, at most MAX_DECODED_SIDE on the longer side. */
  image: RgbaImage;
  format: ImageFormat;
  /** The size the file declares. */
  original: { width: number; height: number };
  /** True when the decoder was asked for a smaller size than the original. */
  downscaled: boolean;
  /** An animation of which only the first frame is used. */
  animated: boolean;
}

/** A short, safe name for notices. */
export function fileLabel(name: string | undefined): string {
  const clean = (name ?? '').replace(/[^\p{L}\p{N} ._()+-]/gu, '').slice(0, 60);
  return clean ? `"${clean}"` : 'the image';
}

/**
 * Reads and decodes an image file in the browser. Huge images are decoded
 * straight to a downscaled bitmap (createImageBitmap's resizeWidth/Height), so
 * a 12,000² image never becomes 576 MB of RGBA in the page. Animated images
 * give their first frame (createImageBitmap's rule).
 */
export async function decodeImageFile(file: Blob, name?: string): Promise<DecodedImage> {
  const label = fileLabel(name);
  if (file.size === 0) throw new ImageInputError(`${label} is empty (0 bytes)`);
  if (file.size > MAX_IMAGE_FILE_BYTES) throw new ImageInputError(`${label} is ${(file.size / 2 ** 20).toFixed(0)} MB, over the ${MAX_IMAGE_FILE_BYTES / 2 ** 20} MB limit for images`);
  // The header is enough to know the type and the size; JPEG's size can sit behind EXIF, so read up to 1 MB.
  const head = new Uint8Array(await file.slice(0, Math.min(file.size, 1 << 20)).arrayBuffer());
  const sniffed = sniffImage(head);
  if (!sniffed) throw new ImageInputError(`${label} is ${describeBytes(head)}, not an image the app can read (PNG, JPEG, GIF, WebP or BMP)`);
  const problem = sizeProblem(sniffed.width, sniffed.height);
  if (problem) throw new ImageInputError(`${label} cannot be used: ${problem}`);
  let bitmap: ImageBitmap;
  const options: ImageBitmapOptions = { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' };
  let target: { width: number; height: number } | undefined;
  if (sniffed.width !== undefined && sniffed.height !== undefined && Math.max(sniffed.width, sniffed.height) > MAX_DECODED_SIDE) {
    target = fitWithin(sniffed.width, sniffed.height);
    Object.assign(options, { resizeWidth: target.width, resizeHeight: target.height, resizeQuality: 'medium' });
  }
  try {
    bitmap = await createImageBitmap(file, options);
  } catch (error) {
    throw new ImageInputError(`${label} could not be decoded as ${sniffed.format.toUpperCase()} (${(error as Error).message || 'corrupt or unsupported data'})`);
  }
  try {
    if (bitmap.width < 1 || bitmap.height < 1) throw new ImageInputError(`${label} decoded to ${bitmap.width}×${bitmap.height} pixels (zero-sized)`);
    // A header that lied about the size (no resize asked for, yet the bitmap is huge): shrink it now.
    const size = fitWithin(bitmap.width, bitmap.height);
    const canvas = new OffscreenCanvas(size.width, size.height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new ImageInputError('this browser gave no 2D canvas to read images with');
    context.drawImage(bitmap, 0, 0, size.width, size.height);
    const { width, height, data } = context.getImageData(0, 0, size.width, size.height);
    return {
      image: { width, height, data },
      format: sniffed.format,
      original: { width: sniffed.width ?? bitmap.width, height: sniffed.height ?? bitmap.height },
      downscaled: target !== undefined || size.scale < 1,
      animated: sniffed.animated === true,
    };
  } finally {
    bitmap.close();
  }
}
