/**
 * RGBA pixels as a PNG file with no compression (deflate "stored" blocks).
 *
 * Why not `canvas.toDataURL`: the overlays are upscaled rasters of a few
 * hundred pixels a side, several per view, and a canvas read-back plus a
 * compressing PNG encoder took over a second of main-thread time per first
 * render on a software adapter (`npm run bench` "Responsiveness"; the CPU
 * profile put it all in the encoder). Stored blocks cost a copy and two
 * checksums, and the image is the same pixel for pixel, which the exported
 * figures rely on (exportFigure.ts). A library encoder would compress, the
 * cost this module exists to avoid.
 */
import { crc32 } from '../bytes/crc32.ts';

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the longest run before the sums can overflow 2^32 (zlib's NMAX).
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(i + 5552, bytes.length);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const MAX_STORED = 65535;

/** A zlib stream of stored blocks holding `raw`. */
function zlibStored(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / MAX_STORED));
  const out = new Uint8Array(2 + blocks * 5 + raw.length + 4);
  out[0] = 0x78; // deflate, 32 KB window
  out[1] = 0x01; // no preset dictionary, fastest; (0x78 << 8 | 0x01) % 31 === 0
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * MAX_STORED;
    const length = Math.min(MAX_STORED, raw.length - start);
    out[o++] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE = 00 (stored)
    out[o++] = length & 0xff;
    out[o++] = length >>> 8;
    out[o++] = ~length & 0xff;
    out[o++] = (~length >>> 8) & 0xff;
    out.set(raw.subarray(start, start + length), o);
    o += length;
  }
  new DataView(out.buffer).setUint32(o, adler32(raw));
  return out;
}

/** One PNG chunk: length, four-letter type, data, and the CRC-32 of type and data (PNG spec §5.3). */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** An 8-bit RGBA PNG of `width` × `height` pixels, row-major RGBA in `data`. */
export function encodeRgbaPng(width: number, height: number, data: ArrayLike<number>): Uint8Array {
  if (data.length !== width * height * 4) throw new RangeError(`expected ${width * height * 4} RGBA bytes, got ${data.length}`);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  // compression, filter and interlace methods 0
  const stride = width * 4;
  const raw = new Uint8Array((stride + 1) * height);
  const rows = ArrayBuffer.isView(data) ? (data as Uint8Array) : Uint8Array.from(data);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(rows.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', header), pngChunk('IDAT', zlibStored(raw)), pngChunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/**
 * Base64 of bytes: the browser's own `Uint8Array.prototype.toBase64` where it has one (Chromium
 * since 2025; 16× the fallback on the attention view's 13 overlays of a CRATE-B result, 87 → 5.5 ms), else
 * btoa over slices (String.fromCharCode takes a bounded number of arguments).
 */
export function base64(bytes: Uint8Array): string {
  const native = (bytes as Uint8Array & { toBase64?: () => string }).toBase64;
  if (typeof native === 'function') return native.call(bytes);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
