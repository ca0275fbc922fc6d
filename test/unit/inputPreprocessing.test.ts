import { describe, expect, it } from 'vitest';
import { parseAnyConfig, shapeOf } from '../../src/engine/config.ts';
import { imageNetEvalTensor, imageToTensor, type RgbaImage } from '../../src/engine/preprocess.ts';
import { appliedPreprocessing, evalCropBox, evalResize, inputPixels, isImageNetLayout, keepsWholeImage, modelInput } from '../../src/image/inputPreprocessing.ts';

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

describe('finer maps: the input at another side (issue 16)', () => {
  const photo = pattern(300, 200);

  it('is exactly the model\'s own input when the side is its own, or absent', () => {
    for (const [config, image] of [[imagenet, photo], [small, pattern(50, 40)], [small, pattern(32, 32)]] as const) {
      for (const choice of ['auto', 'squash'] as const) {
        const plain = modelInput(image, config, choice);
        const own = modelInput(image, config, choice, shapeOf(config).imageHeight);
        expect(Array.from(own.input)).toEqual(Array.from(plain.input));
        expect(own.applied).toEqual(plain.applied);
        expect(own.shown.data).toEqual(plain.shown.data);
      }
    }
  });

  it('scales the evaluation transform: 448 is shorter side 512, centre 448 crop', () => {
    expect(evalResize(224)).toBe(256);
    expect(evalResize(448)).toBe(512);
    expect(evalResize(336)).toBe(384);
    expect(evalResize(240)).toBe(274); // floor(274.29), as timm's floor(img_size / crop_pct)
    const fine = modelInput(photo, imagenet, 'auto', 448);
    expect(fine.applied.kind).toBe('imagenet-eval');
    expect(fine.input).toHaveLength(3 * 448 * 448);
    expect([fine.shown.width, fine.shown.height]).toEqual([448, 448]);
    expect(Array.from(fine.input)).toEqual(Array.from(imageNetEvalTensor(photo, { ...imagenet, image_size: 448 }, 512)));
    expect(fine.applied.description).toMatch(/shorter side resized to 512 .*centre 448×448 crop \(both scaled by 448\/224 for finer maps\)/);
    // 300×200 → 768×512: the 448 crop at offsets 160 and 32, scaled back by 300/768 and 200/512.
    const box = fine.applied.outline;
    expect(box.x).toBeCloseTo((160 * 300) / 768, 10);
    expect(box.y).toBeCloseTo((32 * 200) / 512, 10);
    expect(box.width).toBeCloseTo((448 * 300) / 768, 10);
    expect(box.height).toBeCloseTo((448 * 200) / 512, 10);
  });

  it('squashes to side × side on request and for every other model, a 1-channel one included', () => {
    const squash = modelInput(photo, imagenet, 'squash', 448);
    expect(squash.applied.kind).toBe('squash');
    expect(squash.applied.description).toMatch(/whole image resized to 448×448/);
    expect(Array.from(squash.input)).toEqual(Array.from(imageToTensor(photo, { ...imagenet, image_size: 448 })));
    const grey = parseAnyConfig({ arch: 'crate', image_size: 28, patch_size: 4, channels: 1, dim: 8, depth: 1, heads: 2, dim_head: 4, num_classes: 10 });
    const digit = pattern(28, 28);
    const fine = modelInput(digit, grey, 'auto', 56);
    expect(fine.applied.kind).toBe('squash');
    expect(fine.input).toHaveLength(56 * 56);
    expect([fine.shown.width, fine.shown.height]).toEqual([56, 56]);
    expect(Array.from(fine.input)).toEqual(Array.from(imageToTensor(digit, { ...grey, image_size: 56 })));
    // The shipped sample is the model's own input at its own size, shown as it is.
    expect(modelInput(digit, grey, 'auto', 28).shown).toBe(digit);
  });
});
