/**
 * The user's own images for dataset mode (issue 19: "statistics over their
 * own photos"): many files or a folder, dropped or picked. Each is decoded
 * (src/image/decode.ts, with the size and type checks of checks.ts), centre-cropped to
 * a square and, if larger, shrunk to DATASET_IMAGE_SIDE, so a hundred photos
 * stay a few MB; the model's own preprocessing resizes them to its input
 * (src/engine/preprocess.ts). Files that are not images are skipped and named.
 */
import type { RgbaImage } from '../engine/preprocess.ts';
import { fileLabel } from './checks.ts';
import { decodeImageFile } from './decode.ts';
import { cropAndResize } from './resample.ts';

/** Longest side kept per image: above any shipped model's input, small enough for hundreds of images. */
export const DATASET_IMAGE_SIDE = 256;
/** Most images one set may hold. */
export const MAX_DATASET_IMAGES = 1000;

const IMAGE_NAME = /\.(png|jpe?g|gif|webp|bmp)$/i;

export interface ImageSet {
  /** Changes with every new set, so the pipeline knows its cached statistics are for another set. */
  id: number;
  images: RgbaImage[];
  names: string[];
  /** Files left out, each with the reason. */
  skipped: string[];
}

/** What a file picker or a drop offered, reduced to the images: by type or name, in name order (a folder's order), at most MAX_DATASET_IMAGES. */
export function pickImageFiles<T extends { name: string; type: string }>(files: readonly T[]): { images: T[]; skipped: string[] } {
  const skipped: string[] = [];
  const images = files.filter((f) => {
    const ok = f.type.startsWith('image/') || IMAGE_NAME.test(f.name);
    if (!ok) skipped.push(`${fileLabel(f.name)}: not an image`);
    return ok;
  });
  images.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  if (images.length > MAX_DATASET_IMAGES) {
    skipped.push(`${images.length - MAX_DATASET_IMAGES} images past the first ${MAX_DATASET_IMAGES}`);
    images.length = MAX_DATASET_IMAGES;
  }
  return { images, skipped };
}

/** The largest centred square of `image`, at its own resolution up to `side` pixels. */
export function centreSquare(image: RgbaImage, side = DATASET_IMAGE_SIDE): RgbaImage {
  const s = Math.min(image.width, image.height);
  const out = Math.min(s, side);
  return cropAndResize(image, { x: (image.width - s) / 2, y: (image.height - s) / 2, width: s, height: s }, out, out);
}

let nextId = 1;

/** Decodes the image files of a drop or a pick; `onProgress(done, total)` after each. Throws when not one image is usable. */
export async function decodeImageSet(files: readonly File[], onProgress?: (done: number, total: number) => void): Promise<ImageSet> {
  const { images: picked, skipped } = pickImageFiles(files);
  const images: RgbaImage[] = [];
  const names: string[] = [];
  for (const [i, file] of picked.entries()) {
    try {
      images.push(centreSquare((await decodeImageFile(file, file.name)).image));
      names.push(file.name);
    } catch (error) {
      skipped.push((error as Error).message);
    }
    onProgress?.(i + 1, picked.length);
  }
  if (images.length === 0) throw new Error(`none of the ${files.length} files is an image the app can read${skipped.length ? ` (${skipped.slice(0, 3).join('; ')})` : ''}`);
  return { id: nextId++, images, names, skipped };
}
