/**
 * Decoding an image file: the one part of src/image that needs a browser (createImageBitmap,
 * OffscreenCanvas). The checks before it are checks.ts.
 */
import type { RgbaImage } from '../engine/preprocess.ts';
import { describeBytes, fileLabel, fitWithin, ImageInputError, MAX_DECODED_SIDE, MAX_IMAGE_FILE_BYTES, sizeProblem, sniffImage, type ImageFormat } from './checks.ts';

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
