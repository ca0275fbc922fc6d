/**
 * The official PCA procedure (docs/MEASUREMENTS.md §2, PCA of features;
 * src/analysis/pca.ts officialPca) and its hole filling, on constructed
 * tokens whose foreground is known.
 */
import { describe, expect, it } from 'vitest';
import { fillHoles, officialPca } from '../../src/analysis/pca.ts';

const grid = { height: 5, width: 5 };
const cells = 25;
const inner = 6;

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** W [1 + cells, inner]: object patches far out along e0 with variety along e1..e3, background near 0. */
function tokens(object: (c: number) => boolean, seed: number): Float64Array {
  const next = random(seed);
  const w = new Float64Array((1 + cells) * inner);
  for (let c = 0; c < cells; c++) {
    const row = (c + 1) * inner;
    const inside = object(c);
    w[row] = inside ? 10 + 0.1 * next() : 0.1 * next();
    for (let i = 1; i < 4; i++) w[row + i] = inside ? 3 * (next() - 0.5) * i : 0.05 * next();
    for (let i = 4; i < inner; i++) w[row + i] = 0.01 * next();
  }
  return w;
}

const square = (c: number) => {
  const y = Math.floor(c / 5);
  const x = c % 5;
  return y >= 1 && y <= 3 && x >= 1 && x <= 3;
};

describe('fillHoles', () => {
  it('fills a hole enclosed by the mask and nothing connected to the border', () => {
    const ring = Uint8Array.from({ length: cells }, (_, c) => (square(c) && c !== 12 ? 1 : 0));
    expect(Array.from(fillHoles(ring, grid))).toEqual(Array.from({ length: cells }, (_, c) => (square(c) ? 1 : 0)));
    const notch = Uint8Array.from({ length: cells }, (_, c) => (square(c) && c !== 12 && c !== 11 ? 1 : 0));
    // 10 is on the border and background; 11 and 12 reach it, so the centre is a notch, not a hole.
    expect(fillHoles(notch, grid)[12]).toBe(0);
  });
});

describe('officialPca', () => {
  it('splits the object from the background, fills its hole, and colours only the foreground', () => {
    // Image 0: the square with a hole at its centre (the centre looks like background); image 1: the full square.
    const holed = (c: number) => square(c) && c !== 12;
    const result = officialPca([tokens(holed, 1), tokens(square, 2)], 1 + cells, inner, grid);
    expect(result.images).toHaveLength(2);
    for (const image of result.images) {
      expect(Array.from(image.foreground)).toEqual(Array.from({ length: cells }, (_, c) => (square(c) ? 1 : 0)));
      for (let c = 0; c < cells; c++) {
        for (let j = 0; j < 3; j++) {
          const v = image.rgb[3 * c + j];
          if (!square(c)) expect(v).toBe(0);
          else expect(v).toBeGreaterThanOrEqual(0), expect(v).toBeLessThanOrEqual(1);
        }
      }
    }
    expect(result.foregroundBeforeFill).toBe(17);
    expect(result.foregroundCount).toBe(18);
    // Components 2–4 of the refit: each colour spans [0, 1] over the foreground, and they explain most of its variance.
    for (let j = 0; j < 3; j++) {
      const values = result.images.flatMap((im) => Array.from({ length: cells }, (_, c) => im.rgb[3 * c + j]).filter((_, c) => square(c)));
      expect(Math.min(...values)).toBeCloseTo(0, 12);
      expect(Math.max(...values)).toBeCloseTo(1, 12);
    }
    expect(result.explained.length).toBe(3);
    expect(result.explained.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-12);
  });

  it('refuses shapes that do not fit', () => {
    expect(() => officialPca([], 1 + cells, inner, grid)).toThrow(/no images/);
    expect(() => officialPca([new Float64Array(3)], 1 + cells, inner, grid)).toThrow(/image 0/);
  });
});
