/** The uncompressed PNG encoder (src/viz/png.ts) decodes, with pngjs, to exactly the pixels it was given. */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { base64, encodeRgbaPng } from '../../src/viz/png.ts';

function pixels(width: number, height: number): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return data;
}

describe('encodeRgbaPng', () => {
  // 1×1; odd sizes; one whose raw data spans several 64 KB stored blocks (364² RGBA, a 28 px digit at 13×).
  for (const [width, height] of [[1, 1], [28, 28], [33, 7], [364, 364]] as const) {
    it(`${width}×${height} round-trips through a real PNG decoder`, () => {
      const data = pixels(width, height);
      const decoded = PNG.sync.read(Buffer.from(encodeRgbaPng(width, height, data)));
      expect([decoded.width, decoded.height]).toEqual([width, height]);
      expect(Buffer.compare(decoded.data, Buffer.from(data))).toBe(0);
    });
  }

  it('refuses pixel data of the wrong length', () => {
    expect(() => encodeRgbaPng(2, 2, new Uint8Array(15))).toThrow(/expected 16 RGBA bytes/);
  });

  it('base64 takes the browser\'s own Uint8Array.prototype.toBase64 where there is one', () => {
    const bytes = Object.assign(new Uint8Array([1, 2, 3]), { toBase64: () => 'native' });
    expect(base64(bytes)).toBe('native');
  });

  it('base64 matches Node for data longer than one slice', () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
    expect(base64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
  });
});
