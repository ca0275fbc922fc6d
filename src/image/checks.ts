/**
 * The checks on an image file the user brings (upload, drop, paste), before any decoder sees
 * it: the format and declared size from the header, the limits, and one-line reasons. Pure,
 * unit-tested (test/unit/imageInput.test.ts).
 *
 * Files are untrusted: a wrong type, a zero or absurd size, a corrupt body or
 * an animation must end in an ImageInputError with a one-line message, never
 * in an exception that blanks the view or a decode that exhausts memory.
 */

export class ImageInputError extends Error {
  override name = 'ImageInputError';
}

/** Larger files are refused before they are read (a 12,000² JPEG photo is ~40 MB). */
export const MAX_IMAGE_FILE_BYTES = 100 * 1024 * 1024;
/** Longest side of a decoded image; larger ones are downscaled while decoding (createImageBitmap's resize). */
export const MAX_DECODED_SIDE = 2048;
/** Largest side a header may declare; beyond it the file is refused unread (PNG allows 2³¹ − 1). */
export const MAX_SOURCE_SIDE = 65_535;

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';

export interface SniffedImage {
  format: ImageFormat;
  /** From the header; undefined where the header could not be read that far. */
  width?: number;
  height?: number;
  /** GIF with more than one image block: only the first frame is used. */
  animated?: boolean;
}

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u24le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const u32be = (b: Uint8Array, i: number) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
const i32le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((v, i) => bytes[at + i] === v);
}

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** JPEG: walk the marker segments to the first SOFn (baseline, progressive, …), which holds the size. */
function jpegSize(b: Uint8Array): { width?: number; height?: number } {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return {};
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RSTn, SOI, EOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      i += 2;
      continue;
    }
    const length = u16be(b, i + 2);
    if (length < 2) return {};
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 9 > b.length) return {};
      return { height: u16be(b, i + 5), width: u16be(b, i + 7) };
    }
    if (marker === 0xda) return {}; // start of scan before any frame header: malformed
    i += 2 + length;
  }
  return {};
}

/** GIF: more than one image descriptor means an animation (or a multi-frame still); we use the first. */
function gifFrames(b: Uint8Array): number {
  let i = 13;
  const flags = b[10];
  if (flags & 0x80) i += 3 * (1 << ((flags & 7) + 1)); // global colour table
  let frames = 0;
  while (i < b.length) {
    const block = b[i];
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      i += 2; // extension introducer + label, then sub-blocks
    } else if (block === 0x2c) {
      frames++;
      if (frames > 1) return frames;
      if (i + 10 > b.length) break;
      const local = b[i + 9];
      i += 10;
      if (local & 0x80) i += 3 * (1 << ((local & 7) + 1));
      i += 1; // LZW minimum code size
    } else {
      break; // garbage: the decoder will say so
    }
    while (i < b.length && b[i] !== 0) i += b[i] + 1; // data sub-blocks
    i++; // block terminator
  }
  return frames;
}

/**
 * The format and declared size from the first bytes, or undefined when the
 * bytes are not an image format the app accepts. Only the header is trusted
 * to be a header: the decoder still has the last word.
 */
export function sniffImage(b: Uint8Array): SniffedImage | undefined {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return b.length >= 24 && startsWith(b, ascii('IHDR'), 12) ? { format: 'png', width: u32be(b, 16), height: u32be(b, 20) } : { format: 'png' };
  }
  if (startsWith(b, [0xff, 0xd8, 0xff])) return { format: 'jpeg', ...jpegSize(b) };
  if (startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a'))) {
    if (b.length < 13) return { format: 'gif' };
    return { format: 'gif', width: u16le(b, 6), height: u16le(b, 8), animated: gifFrames(b) > 1 };
  }
  if (startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8)) {
    const chunk = String.fromCharCode(...b.subarray(12, 16));
    if (chunk === 'VP8 ' && b.length >= 30) return { format: 'webp', width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
    if (chunk === 'VP8L' && b.length >= 25) {
      const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X' && b.length >= 30) return { format: 'webp', width: u24le(b, 24) + 1, height: u24le(b, 27) + 1, animated: (b[20] & 0x02) !== 0 };
    return { format: 'webp' };
  }
  if (startsWith(b, ascii('BM')) && b.length >= 26) return { format: 'bmp', width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) };
  return undefined;
}

/** What a file's first bytes say it is, for a notice about a file that is not an image. */
export function describeBytes(b: Uint8Array): string {
  if (b.length === 0) return 'empty';
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive';
  if (startsWith(b, ascii('%PDF'))) return 'a PDF';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(0, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'an SVG drawing (vector images are not supported)';
  if (head.startsWith('<')) return 'a text/HTML file';
  return 'not a PNG, JPEG, GIF, WebP or BMP image';
}

/** Size checks on a sniffed header; a problem is a one-line reason. */
export function sizeProblem(width: number | undefined, height: number | undefined): string | undefined {
  if (width === undefined || height === undefined) return undefined;
  if (width < 1 || height < 1) return `it is ${width}×${height} pixels (zero-sized)`;
  if (width > MAX_SOURCE_SIDE || height > MAX_SOURCE_SIDE) return `it is ${width}×${height} pixels, over the ${MAX_SOURCE_SIDE}-pixel limit per side`;
  return undefined;
}

/** The largest size within maxSide × maxSide with the same aspect ratio (never upscales, never below 1 px). */
export function fitWithin(width: number, height: number, maxSide = MAX_DECODED_SIDE): { width: number; height: number; scale: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)), scale };
}

/** A short, safe name for notices. */
export function fileLabel(name: string | undefined): string {
  const clean = (name ?? '').replace(/[^\p{L}\p{N} ._()+-]/gu, '').slice(0, 60);
  return clean ? `"${clean}"` : 'the image';
}
