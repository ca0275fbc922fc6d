/**
 * Image inputs for the command, recognised by their first bytes: PNG and
 * JPEG are decoded to RGBA and preprocessed with the model's config
 * (imageToTensor: resize, grey conversion, normalisation); a .npy float32
 * array is taken as the already-normalised model input and must have the
 * model's shape (C, H, W) exactly.
 */
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { CrateModel } from '../engine/model.ts';
import { imageToTensor, type RgbaImage } from '../engine/preprocess.ts';
import { CliError, readInput } from './errors.ts';
import { readNpy } from './npy.ts';

export type ImageFormat = 'png' | 'jpeg' | 'npy';

/** Decoders refuse images above this many pixels (a 16k × 16k image is 1 GiB of RGBA). */
const MAX_MEGAPIXELS = 256;

export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
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

export function loadImageFile(path: string, model: CrateModel, read: (path: string) => Uint8Array = readFileSync): LoadedImage {
  const bytes = readInput(path, 'image', read);
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
    return { path, format, tensor: array.data };
  }
  let rgba: RgbaImage;
  try {
    rgba = format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (error) {
    throw new CliError(`${path}: cannot decode ${format === 'png' ? 'PNG' : 'JPEG'}: ${(error as Error).message}`);
  }
  if (rgba.width * rgba.height > MAX_MEGAPIXELS * 1e6) throw new CliError(`${path}: image is ${rgba.width}×${rgba.height}, over ${MAX_MEGAPIXELS} megapixels`);
  return { path, format, tensor: imageToTensor(rgba, config) };
}
