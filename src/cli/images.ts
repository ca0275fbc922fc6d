/**
 * Image inputs for the command, recognised by their first bytes: PNG and
 * JPEG are decoded to RGBA and preprocessed with the model's config
 * (preprocessImage: the ImageNet evaluation transform for a 3-channel 224
 * model, else resize, grey conversion, normalisation); a .npy float32
 * array is taken as the already-normalised model input and must have the
 * model's shape (C, H, W) exactly, and finite values of a sane size.
 *
 * Nothing is decoded before it is known to fit: the file must be a regular
 * file of bounded size (inputFile.ts), and the pixel size its header declares
 * (imageHeader.ts) must be within MAX_MEGAPIXELS.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { ModelDescription } from '../engine/alphaModel.ts';
import { preprocessImage, type RgbaImage } from '../engine/preprocess.ts';
import { CliError } from './errors.ts';
import { jpegDeclaredSize, pngDeclaredSize, type DeclaredSize } from './imageHeader.ts';
import { MiB, readRegularFile } from './inputFile.ts';
import { readNpy } from './npy.ts';

export type ImageFormat = 'png' | 'jpeg' | 'npy';

/** Decoders refuse images above this many pixels (a 16k × 16k image is 1 GiB of RGBA). */
const MAX_MEGAPIXELS = 256;
/** Encoded PNG/JPEG files above this size are refused unread; the .npy limit is the model input's own size. */
const MAX_ENCODED_IMAGE_BYTES = 128 * MiB;
/**
 * A .npy model input is already normalised: (x - mean) / std of pixels in
 * [0, 1] is a few units for any sane config. Values beyond this overflow
 * float32 inside the first layer (3e38 does), so they are refused as input.
 */
const MAX_INPUT_MAGNITUDE = 1e6;

function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const starts = (...magic: number[]) => magic.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (starts(0xff, 0xd8, 0xff)) return 'jpeg';
  if (starts(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return 'npy';
  return undefined;
}

function decodePng(bytes: Uint8Array): RgbaImage {
  // pngjs expands every colour type to 8-bit RGBA (16-bit samples are rescaled).
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { width: png.width, height: png.height, data: png.data };
}

function decodeJpeg(bytes: Uint8Array): RgbaImage {
  const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 2048 });
  return { width: image.width, height: image.height, data: image.data };
}

export interface LoadedImage {
  path: string;
  format: ImageFormat;
  /** The model input [C, H, W], normalised. */
  tensor: Float32Array;
}

/** The largest image file worth reading for this model: a .npy of its input, with room for a long header, or an encoded image. */
function maxImageFileBytes(model: ModelDescription): number {
  const { config, shape } = model;
  return Math.max(MAX_ENCODED_IMAGE_BYTES, 4 * config.channels * shape.imageHeight * shape.imageWidth + MiB);
}

function checkDeclaredSize(path: string, size: DeclaredSize | undefined): void {
  if (size && size.width * size.height > MAX_MEGAPIXELS * 1e6) {
    throw new CliError(`${path}: image is ${size.width}×${size.height}, over ${MAX_MEGAPIXELS} megapixels`);
  }
}

/** Refuses a model input with a NaN, an infinity or an absurd magnitude, naming the first such value and where it is. */
function checkInputValues(path: string, tensor: Float32Array, height: number, width: number): void {
  for (let i = 0; i < tensor.length; i++) {
    const value = tensor[i];
    if (Number.isFinite(value) && Math.abs(value) <= MAX_INPUT_MAGNITUDE) continue;
    const where = `(channel ${Math.floor(i / (height * width))}, row ${Math.floor(i / width) % height}, column ${i % width})`;
    const what = Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? `${value.toPrecision(3)}, beyond ±${MAX_INPUT_MAGNITUDE.toExponential()}` : String(value);
    throw new CliError(`${path}: value at ${where} is ${what}; a model input must be finite and normalised (no image gives such values)`);
  }
}

export function loadImageFile(path: string, model: ModelDescription): LoadedImage {
  const bytes = readRegularFile(path, 'image', maxImageFileBytes(model));
  const format = sniffImageFormat(bytes);
  if (!format) throw new CliError(`${path}: not a PNG, JPEG or .npy file`);
  const { config, shape } = model;
  if (format === 'npy') {
    let array;
    try {
      array = readNpy(bytes);
    } catch (error) {
      throw new CliError(`${path}: invalid .npy file: ${(error as Error).message}`);
    }
    const expected = [config.channels, shape.imageHeight, shape.imageWidth];
    if (array.shape.length !== 3 || array.shape.some((n, i) => n !== expected[i])) {
      throw new CliError(`${path}: array has shape (${array.shape.join(', ')}); the model needs (C, H, W) = (${expected.join(', ')})`);
    }
    checkInputValues(path, array.data, shape.imageHeight, shape.imageWidth);
    return { path, format, tensor: array.data };
  }
  checkDeclaredSize(path, format === 'png' ? pngDeclaredSize(bytes) : jpegDeclaredSize(bytes));
  let rgba: RgbaImage;
  try {
    rgba = format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (error) {
    throw new CliError(`${path}: cannot decode ${format === 'png' ? 'PNG' : 'JPEG'}: ${(error as Error).message}`);
  }
  checkDeclaredSize(path, rgba);
  return { path, format, tensor: preprocessImage(rgba, config) };
}
