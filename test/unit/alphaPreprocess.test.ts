import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/cli/npy.ts';
import { parseAnyConfig } from '../../src/engine/config.ts';
import { defaultPreprocessing, describePreprocessing, imageNetEvalTensor, preprocessImage, type RgbaImage } from '../../src/engine/preprocess.ts';
import { relativeError } from '../helpers/fixtures.ts';

const ROOT = join(import.meta.dirname, '../..');
const PYTHON = '/usr/bin/python3';
const SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data';
const TOLERANCE = 5e-3; // issue 16: against torchvision's PIL path

const imagenet224 = parseAnyConfig({
  arch: 'crate-alpha', ratio: 4, image_size: 224, patch_size: 16, channels: 3, dim: 8, depth: 1, heads: 1, dim_head: 8, num_classes: 2,
  mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
});

const work = mkdtempSync(join(tmpdir(), 'alpha-preprocess-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function readPng(path: string): RgbaImage {
  const png = PNG.sync.read(readFileSync(path));
  return { width: png.width, height: png.height, data: png.data };
}

/** The PIL-path tensor (tools/pil_eval_transform.py), written at test time. */
function pilEvalTensor(image: string): Float32Array {
  const out = join(work, `${image.replace(/\W/g, '_')}.npy`);
  execFileSync(PYTHON, [join(ROOT, 'tools/pil_eval_transform.py'), image, out]);
  const array = readNpy(readFileSync(out));
  expect(array.shape).toEqual([3, 224, 224]);
  return array.data;
}

describe('ImageNet evaluation transform against torchvision on a PIL image', () => {
  const photos = ['chelsea.png', 'astronaut.png'].map((f) => join(SKIMAGE_DATA, f));

  it('has the photos to compare with', () => {
    for (const photo of photos) expect(existsSync(photo), photo).toBe(true);
  });

  for (const photo of ['chelsea.png', 'astronaut.png']) {
    it(`matches on ${photo}`, () => {
      const path = join(SKIMAGE_DATA, photo);
      const ours = imageNetEvalTensor(readPng(path), imagenet224);
      const error = relativeError(ours, pilEvalTensor(path));
      console.log(`${photo}: max |ours − PIL path| / max |PIL path| = ${error.toExponential(2)}`);
      expect(error).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('matches on odd, non-square sizes in both orientations (both passes, crop offsets rounded half to even)', () => {
    for (const [width, height] of [[301, 517], [517, 301], [250, 251], [225, 1000]]) {
      const png = new PNG({ width, height });
      let seed = width * 7919 + height;
      for (let i = 0; i < png.data.length; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        // A smooth gradient plus noise: strong local structure, so a wrong filter or offset shows.
        const x = (i >> 2) % width;
        png.data[i] = (i & 3) === 3 ? 255 : Math.min(255, ((x * 3 + (seed >> 16)) & 255));
      }
      const path = join(work, `random_${width}x${height}.png`);
      writeFileSync(path, PNG.sync.write(png));
      const error = relativeError(imageNetEvalTensor(readPng(path), imagenet224), pilEvalTensor(path));
      expect(error, `${width}×${height}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

describe('which preprocessing', () => {
  it('is the ImageNet evaluation transform for a 3-channel 224 model, and squash for the small shipped ones', () => {
    expect(defaultPreprocessing(imagenet224)).toBe('imagenet-eval');
    const grey28 = parseAnyConfig({ image_size: 28, patch_size: 7, channels: 1, dim: 8, depth: 1, heads: 1, dim_head: 8, num_classes: 10 });
    const colour32 = parseAnyConfig({ image_size: 32, patch_size: 8, channels: 3, dim: 8, depth: 1, heads: 1, dim_head: 8, num_classes: 10 });
    expect(defaultPreprocessing(grey28)).toBe('squash');
    expect(defaultPreprocessing(colour32)).toBe('squash');
    expect(describePreprocessing('imagenet-eval', imagenet224)).toMatch(/shorter side resized to 256.*224×224 crop.*0\.485/);
    expect(describePreprocessing('squash', colour32)).toMatch(/resized to 32×32/);
  });

  it('preprocessImage follows the choice: a 224 model crops the centre rather than squashing', () => {
    // A 448×224 image, left half black, right half white: squashing keeps both halves,
    // the evaluation transform keeps the centre 224×224 of a 512×256 resize.
    const width = 448;
    const height = 224;
    const data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      const v = i % width < width / 2 ? 0 : 255;
      data.set([v, v, v, 255], i * 4);
    }
    const image = { width, height, data };
    const evalInput = preprocessImage(image, imagenet224);
    const squashInput = preprocessImage(image, imagenet224, 'squash');
    const pixel = (t: Float32Array, x: number) => t[100 * 224 + x] * 0.229 + 0.485; // channel 0, row 100, back to [0, 1]
    expect(pixel(squashInput, 10)).toBeCloseTo(0, 5);
    expect(pixel(evalInput, 10)).toBeCloseTo(0, 5);
    // Column 60 of the crop is column 204 of the 512-wide resize (black half); 160 is 304 (white half).
    expect(pixel(evalInput, 160)).toBeCloseTo(1, 5);
    expect(pixel(squashInput, 60)).toBeCloseTo(0, 5);
    expect(pixel(evalInput, 60)).toBeCloseTo(0, 5);
  });
});
