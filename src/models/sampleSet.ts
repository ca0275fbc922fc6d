import type { RgbaImage } from '../engine/preprocess.ts';
import { LoadError } from '../fetching/fetchBytes.ts';
import type { Manifest, ManifestModel, SampleSet } from './manifest.ts';

/** A decoded sample atlas: cells are cut out on demand. */
export interface DecodedAtlas {
  set: SampleSet;
  pixels: RgbaImage;
}

export async function decodePng(bytes: Uint8Array, what: string): Promise<RgbaImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as BlobPart]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (error) {
    throw new LoadError(`could not decode ${what}: ${(error as Error).message}`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new LoadError('this browser gave no 2D canvas to decode images with');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { width, height, data } = context.getImageData(0, 0, canvas.width, canvas.height);
  return { width, height, data };
}

/** Cell `index` of the atlas as its own RGBA image. */
export function atlasCell(atlas: DecodedAtlas, index: number): RgbaImage {
  const { cols, width, height } = atlas.set;
  const x0 = (index % cols) * width;
  const y0 = Math.floor(index / cols) * height;
  const { pixels } = atlas;
  if (x0 + width > pixels.width || y0 + height > pixels.height) throw new LoadError(`sample ${index} lies outside the ${pixels.width}×${pixels.height} atlas`);
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * pixels.width + x0) * 4;
    data.set(pixels.data.subarray(from, from + width * 4), y * width * 4);
  }
  return { width, height, data };
}

/** The object mask of cell `index` (red channel > 127), row-major 0/1. */
export function maskCell(masks: DecodedAtlas, index: number): Uint8Array {
  const cell = atlasCell(masks, index);
  const out = new Uint8Array(cell.width * cell.height);
  for (let i = 0; i < out.length; i++) out[i] = cell.data[4 * i] > 127 ? 1 : 0;
  return out;
}

/** The shipped sample set closest to a model that has none of its own: same channels and size, then same channels, then any. */
/** Takes the model or its summary from the compute worker (computeApi.ts ModelInfo): only its channels and input size matter. */
export function samplesFor(manifest: Manifest, model: { config: { channels: number }; shape: { imageHeight: number; imageWidth: number } } | undefined): ManifestModel | undefined {
  const withSamples = manifest.models.filter((m) => m.samples && m.samples.count > 0);
  if (!model) return withSamples[0] ?? manifest.models[0];
  const { channels } = model.config;
  const { imageHeight, imageWidth } = model.shape;
  return (
    withSamples.find((m) => m.samples!.channels === channels && m.samples!.width === imageWidth && m.samples!.height === imageHeight) ??
    withSamples.find((m) => m.samples!.channels === channels) ??
    withSamples[0] ??
    manifest.models[0]
  );
}
