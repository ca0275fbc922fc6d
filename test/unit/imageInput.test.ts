import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { MAX_SOURCE_SIDE, describeBytes, fitWithin, sizeProblem, sniffImage } from '../../src/image/checks.ts';
import { clampCrop, cropZoom, defaultCrop, moveCrop, zoomCrop, type Crop } from '../../src/image/crop.ts';
import { layoutDigit } from '../../src/image/digitLayout.ts';
import { greyToRgba, invertImage, looksInverted, lumaOf } from '../../src/image/pixels.ts';
import { cropAndResize } from '../../src/image/resample.ts';
import type { RgbaImage } from '../../src/engine/preprocess.ts';

function png(width: number, height: number, colorType = 6): Uint8Array {
  const image = new PNG({ width, height, colorType: colorType as 6 });
  image.data.fill(200);
  return new Uint8Array(PNG.sync.write(image, { colorType: colorType as 6 }));
}

/**
 * A GIF with `frames` frames of 2×2 pixels, LZW-coded "uncompressed" (a clear
 * code every two pixels keeps every code 3 bits wide).
 */
function gif(frames: number): Uint8Array {
  const bytes: number[] = [...'GIF89a'].map((c) => c.charCodeAt(0));
  bytes.push(2, 0, 2, 0, 0xf1, 0, 0); // 2×2, global table of 4 colours
  bytes.push(0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0);
  for (let f = 0; f < frames; f++) {
    bytes.push(0x21, 0xf9, 4, 0, 10, 0, 0, 0); // graphic control: 0.1 s delay
    bytes.push(0x2c, 0, 0, 0, 0, 2, 0, 2, 0, 0); // image descriptor, no local table
    bytes.push(2); // LZW minimum code size
    const codes = [4, f % 4, 1, 4, 2, 3, 5]; // clear, p, p, clear, p, p, end
    let bits = 0;
    let n = 0;
    const data: number[] = [];
    for (const code of codes) {
      bits |= code << n;
      n += 3;
      while (n >= 8) {
        data.push(bits & 0xff);
        bits >>= 8;
        n -= 8;
      }
    }
    if (n > 0) data.push(bits & 0xff);
    bytes.push(data.length, ...data, 0);
  }
  bytes.push(0x3b);
  return new Uint8Array(bytes);
}

function bmp(width: number, height: number): Uint8Array {
  const b = new Uint8Array(54);
  b.set([0x42, 0x4d]);
  new DataView(b.buffer).setInt32(18, width, true);
  new DataView(b.buffer).setInt32(22, -height, true); // top-down rows: a negative height
  return b;
}

function solid(width: number, height: number, rgba: [number, number, number, number]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(rgba, i);
  return { width, height, data };
}

describe('sniffImage', () => {
  it('reads format and size from real PNG, JPEG, GIF and BMP headers', () => {
    expect(sniffImage(png(37, 11))).toEqual({ format: 'png', width: 37, height: 11 });
    expect(sniffImage(png(5, 3, 4))).toEqual({ format: 'png', width: 5, height: 3 }); // grey + alpha
    const jpg = jpeg.encode({ width: 19, height: 23, data: Buffer.alloc(19 * 23 * 4, 128) }, 80).data;
    expect(sniffImage(new Uint8Array(jpg))).toEqual({ format: 'jpeg', width: 19, height: 23 });
    expect(sniffImage(gif(1))).toEqual({ format: 'gif', width: 2, height: 2, animated: false });
    expect(sniffImage(gif(3))).toEqual({ format: 'gif', width: 2, height: 2, animated: true });
    expect(sniffImage(bmp(640, 480))).toEqual({ format: 'bmp', width: 640, height: 480 });
  });

  it('reads WebP sizes from the VP8X extended header', () => {
    const b = new Uint8Array(30);
    b.set([...'RIFF'].map((c) => c.charCodeAt(0)));
    b.set([...'WEBPVP8X'].map((c) => c.charCodeAt(0)), 8);
    b[20] = 0x02; // animation flag
    b.set([0x3f, 0x01, 0x00], 24); // width − 1 = 319
    b.set([0xef, 0x00, 0x00], 27); // height − 1 = 239
    expect(sniffImage(b)).toEqual({ format: 'webp', width: 320, height: 240, animated: true });
  });

  it('a JPEG whose header is cut before the frame header has a format but no size', () => {
    const jpg = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(256, 9) }, 80).data);
    expect(sniffImage(jpg.subarray(0, 4))).toEqual({ format: 'jpeg' });
  });

  it('refuses what is not an image, and never throws on arbitrary bytes', () => {
    expect(sniffImage(new TextEncoder().encode('hello, this is text'))).toBeUndefined();
    expect(sniffImage(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]))).toBeUndefined();
    expect(sniffImage(new Uint8Array())).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom([], [0xff, 0xd8, 0xff], [...'GIF89a'].map((c) => c.charCodeAt(0))), (tail, head) => {
        const b = new Uint8Array([...head, ...tail]);
        const sniffed = sniffImage(b);
        if (head.length) expect(sniffed?.format).toBeDefined();
      }),
    );
  });

  it('describes common non-images in words', () => {
    expect(describeBytes(new Uint8Array())).toBe('empty');
    expect(describeBytes(new Uint8Array([0x50, 0x4b, 3, 4]))).toBe('a ZIP archive');
    expect(describeBytes(new TextEncoder().encode('<svg xmlns="…"></svg>'))).toMatch(/SVG/);
    expect(describeBytes(new TextEncoder().encode('plain words'))).toMatch(/not a PNG/);
  });
});

describe('size limits', () => {
  it('refuses zero and absurd sizes, accepts 12,000²', () => {
    expect(sizeProblem(0, 10)).toMatch(/zero-sized/);
    expect(sizeProblem(10, 0)).toMatch(/zero-sized/);
    expect(sizeProblem(MAX_SOURCE_SIDE + 1, 10)).toMatch(/limit/);
    expect(sizeProblem(12_000, 12_000)).toBeUndefined();
    expect(sizeProblem(undefined, undefined)).toBeUndefined();
  });

  it('fitWithin keeps the aspect, never upscales and never reaches zero', () => {
    expect(fitWithin(12_000, 12_000, 2048)).toEqual({ width: 2048, height: 2048, scale: 2048 / 12_000 });
    expect(fitWithin(100, 50, 2048)).toEqual({ width: 100, height: 50, scale: 1 });
    expect(fitWithin(100_000, 1, 2048)).toMatchObject({ width: 2048, height: 1 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 1, max: 4096 }), (w, h, max) => {
        const fit = fitWithin(w, h, max);
        expect(Math.max(fit.width, fit.height)).toBeLessThanOrEqual(Math.max(max, 1));
        expect(fit.width).toBeGreaterThanOrEqual(1);
        expect(fit.height).toBeGreaterThanOrEqual(1);
        expect(fit.width).toBeLessThanOrEqual(w);
      }),
    );
  });
});

const cropArb = fc.record({
  x: fc.double({ min: -500, max: 500, noNaN: true }),
  y: fc.double({ min: -500, max: 500, noNaN: true }),
  width: fc.double({ min: 0.5, max: 900, noNaN: true }),
  height: fc.double({ min: 0.5, max: 900, noNaN: true }),
});

function inside(c: Crop, w: number, h: number) {
  const e = 1e-9 * Math.max(w, h);
  expect(c.x).toBeGreaterThanOrEqual(-e);
  expect(c.y).toBeGreaterThanOrEqual(-e);
  expect(c.x + c.width).toBeLessThanOrEqual(w + e);
  expect(c.y + c.height).toBeLessThanOrEqual(h + e);
}

describe('crop rectangle', () => {
  it('defaults to the centred square (or the model aspect)', () => {
    expect(defaultCrop(400, 300)).toEqual({ x: 50, y: 0, width: 300, height: 300 });
    expect(defaultCrop(300, 400)).toEqual({ x: 0, y: 50, width: 300, height: 300 });
    expect(defaultCrop(400, 300, 2)).toEqual({ x: 0, y: 50, width: 400, height: 200 });
  });

  it('clamp, move and zoom keep the crop inside the image with its aspect', () => {
    fc.assert(
      fc.property(cropArb, fc.integer({ min: 1, max: 800 }), fc.integer({ min: 1, max: 800 }), fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), (crop, w, h, d, zoom) => {
        const aspect = crop.width / crop.height;
        for (const c of [clampCrop(crop, w, h), moveCrop(crop, d, -d, w, h), zoomCrop(clampCrop(crop, w, h), zoom, w, h)]) {
          inside(c, w, h);
          expect(c.width / c.height).toBeCloseTo(aspect, 6);
        }
      }),
    );
  });

  it('moving stops at the edge, and zoom and cropZoom are inverses', () => {
    const start = defaultCrop(400, 300);
    expect(moveCrop(start, 1000, 0, 400, 300)).toEqual({ x: 100, y: 0, width: 300, height: 300 });
    expect(moveCrop(start, -1000, 0, 400, 300).x).toBe(0);
    const half = zoomCrop(start, 0.5, 400, 300);
    expect(half).toEqual({ x: 125, y: 75, width: 150, height: 150 }); // about the same centre
    expect(cropZoom(half, 400, 300)).toBeCloseTo(0.5, 12);
    expect(zoomCrop(half, 1, 400, 300)).toEqual(start);
  });
});

describe('cropAndResize', () => {
  it('is the identity for the whole image at its own size', () => {
    const data = new Uint8ClampedArray(3 * 2 * 4).map((_, i) => (i * 37) % 256);
    const image = { width: 3, height: 2, data };
    expect(cropAndResize(image, { x: 0, y: 0, width: 3, height: 2 }, 3, 2).data).toEqual(data);
  });

  it('averages the covered area (a 2× box filter on a checkerboard gives grey)', () => {
    const data = new Uint8ClampedArray(4 * 4 * 4);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) data.set((x + y) % 2 ? [255, 255, 255, 255] : [0, 0, 0, 255], (y * 4 + x) * 4);
    const out = cropAndResize({ width: 4, height: 4, data }, { x: 0, y: 0, width: 4, height: 4 }, 2, 2);
    for (let i = 0; i < 4; i++) expect([...out.data.subarray(4 * i, 4 * i + 4)]).toEqual([128, 128, 128, 255]);
  });

  it('takes the crop, not the whole image', () => {
    const data = new Uint8ClampedArray(4 * 2 * 4);
    for (let x = 0; x < 4; x++) for (let y = 0; y < 2; y++) data.set(x < 2 ? [10, 20, 30, 255] : [200, 100, 50, 255], (y * 4 + x) * 4);
    const right = cropAndResize({ width: 4, height: 2, data }, { x: 2, y: 0, width: 2, height: 2 }, 1, 1);
    expect([...right.data]).toEqual([200, 100, 50, 255]);
  });

  it('keeps the mean of a random image under any downscale (fractional edges weighted)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (w, h, out, seed) => {
        let s = seed;
        const data = new Uint8ClampedArray(w * h * 4).map(() => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24) & 0xff);
        const o = Math.min(out, w, h);
        // Square crop of side min(w, h) so no output pixel is stretched differently.
        const side = Math.min(w, h);
        const image = { width: w, height: h, data };
        const result = cropAndResize(image, { x: 0, y: 0, width: side, height: side }, o, o);
        const crop = cropAndResize(image, { x: 0, y: 0, width: side, height: side }, side, side);
        const mean = (d: ArrayLike<number>) => Array.from(d).reduce((a, b, i) => (i % 4 === 0 ? a + b : a), 0) / (d.length / 4);
        expect(Math.abs(mean(result.data) - mean(crop.data))).toBeLessThanOrEqual(0.5 + 1e-9); // rounding only
      }),
    );
  });

  it('refuses an empty image', () => {
    expect(() => cropAndResize({ width: 0, height: 0, data: new Uint8Array() }, { x: 0, y: 0, width: 1, height: 1 }, 1, 1)).toThrow(/at least one pixel/);
  });
});

describe('grey, alpha and inversion', () => {
  it('luma composites onto black as the model does; inversion makes a transparent background black', () => {
    expect([...lumaOf(solid(1, 1, [255, 255, 255, 0]))]).toEqual([0]);
    expect(lumaOf(solid(1, 1, [255, 255, 255, 255]))[0]).toBeCloseTo(255, 9);
    const ink = solid(2, 1, [0, 0, 0, 0]);
    ink.data.set([0, 0, 0, 255], 4); // one black ink pixel on a transparent background
    expect([...invertImage(ink).data]).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
    expect(looksInverted(solid(4, 4, [250, 250, 250, 255]))).toBe(true);
    expect(looksInverted(solid(4, 4, [5, 5, 5, 255]))).toBe(false);
    expect([...greyToRgba([300, -4], 2, 1).data]).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });
});

describe('layoutDigit', () => {
  it('finds nothing on a black canvas', () => {
    expect(layoutDigit(solid(50, 50, [0, 0, 0, 255]), 28, 28)).toBeUndefined();
  });

  it('scales the stroke box to 20/28 and centres its mass, wherever it was drawn', () => {
    const canvas = solid(280, 280, [0, 0, 0, 255]);
    // A 40×100 white bar in the top-left corner.
    for (let y = 10; y < 110; y++) for (let x = 20; x < 60; x++) canvas.data.set([255, 255, 255, 255], (y * 280 + x) * 4);
    const digit = layoutDigit(canvas, 28, 28)!;
    const luma = lumaOf(digit);
    let mass = 0;
    let mx = 0;
    let my = 0;
    let top = 28;
    let bottom = -1;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = luma[y * 28 + x];
        mass += v;
        mx += v * (x + 0.5);
        my += v * (y + 0.5);
        if (v > 0) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
        }
      }
    }
    expect(bottom - top + 1).toBe(20); // the longer side
    expect(Math.abs(mx / mass - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(my / mass - 14)).toBeLessThanOrEqual(0.5);
  });
});
