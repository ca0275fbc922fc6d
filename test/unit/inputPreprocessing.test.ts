import { describe, expect, it } from 'vitest';
import { parseAnyConfig } from '../../src/engine/config.ts';
import { imageNetEvalTensor, imageToTensor, type RgbaImage } from '../../src/engine/preprocess.ts';
import { appliedPreprocessing, evalCropBox, inputPixels, isImageNetLayout, keepsWholeImage, modelInput } from '../../src/image/inputPreprocessing.ts';

/** Issue 16: the app's preprocessing choice for ImageNet-layout models (docs/MEASUREMENTS.md §1.2). */
const imagenet = parseAnyConfig({ arch: 'crate', image_size: 224, patch_size: 16, channels: 3, dim: 8, depth: 1, heads: 2, dim_head: 4, num_classes: 10, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
const small = parseAnyConfig({ arch: 'crate', image_size: 32, patch_size: 8, channels: 3, dim: 8, depth: 1, heads: 2, dim_head: 4, num_classes: 10 });

function pattern(width: number, height: number): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const [x, y] = [i % width, Math.floor(i / width)];
    data.set([(x * 7) % 256, (y * 5) % 256, (x * y) % 256, 255], i * 4);
  }
  return { width, height, data };
}

describe('preprocessing choice', () => {
  it('applies only to 3-channel 224×224 models', () => {
    expect(isImageNetLayout([224, 224], 3)).toBe(true);
    expect(isImageNetLayout([224, 224], 1)).toBe(false);
    expect(isImageNetLayout([32, 32], 3)).toBe(false);
    expect(keepsWholeImage([224, 224], 3, 'auto')).toBe(true);
    expect(keepsWholeImage([224, 224], 3, 'crop')).toBe(false);
    expect(appliedPreprocessing(small, 'auto', { width: 50, height: 40 }).kind).toBe('squash');
  });

  it('outlines the evaluation crop where the transform takes it: 512×512 is halved: offsets 16·2, side 224·2', () => {
    expect(evalCropBox(512, 512)).toEqual({ x: 32, y: 32, width: 448, height: 448 });
    // 640×480 → 341×256 (int), centre 224 at offsets round(58.5) = 58 (half to even) and 16.
    const box = evalCropBox(640, 480);
    expect(box.x).toBeCloseTo((58 * 640) / 341, 10);
    expect(box.y).toBeCloseTo(30, 10);
    expect(box.width).toBeCloseTo((224 * 640) / 341, 10);
    expect(box.height).toBeCloseTo(420, 10);
  });

  it('runs the evaluation transform by default, squash or the placed crop on request, and says which', () => {
    const photo = pattern(300, 200);
    const auto = modelInput(photo, imagenet, 'auto');
    expect(auto.applied.kind).toBe('imagenet-eval');
    expect(auto.applied.description).toMatch(/shorter side resized to 256.*centre 224×224 crop/);
    expect(Array.from(auto.input)).toEqual(Array.from(imageNetEvalTensor(photo, imagenet)));
    expect([auto.shown.width, auto.shown.height]).toEqual([224, 224]);
    const squash = modelInput(photo, imagenet, 'squash');
    expect(squash.applied.kind).toBe('squash');
    expect(squash.applied.outline).toEqual({ x: 0, y: 0, width: 300, height: 200 });
    expect(Array.from(squash.input)).toEqual(Array.from(imageToTensor(photo, imagenet)));
    const crop = modelInput(pattern(224, 224), imagenet, 'crop');
    expect(crop.applied.description).toMatch(/^your crop of the image/);
  });

  it('shows the pixels the model sees: the de-normalised input, or the image itself when it is already the input', () => {
    const image = pattern(32, 32);
    const same = modelInput(image, small, 'auto');
    expect(same.shown).toBe(image);
    const pixels = inputPixels(imageToTensor(image, small), small);
    let worst = 0;
    for (let i = 0; i < image.data.length; i++) worst = Math.max(worst, Math.abs(pixels.data[i] - image.data[i]));
    expect(worst).toBeLessThanOrEqual(1);
  });
});
