/**
 * PNG tEXt chunks (PNG spec §11.3.4.3): keyword, a NUL, Latin-1 text. An
 * exported figure carries its caption and provenance in them (issue 19), so
 * a PNG pasted into slides still says where it came from. Pure byte work,
 * unit-tested in Node (test/unit/figureMetadata.test.ts).
 */
import { pngChunk } from './png.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? code : 0x3f; // '?': callers pass text already made Latin-1 (provenance.ts latin1)
  });
}

/** One tEXt chunk: length, "tEXt", keyword NUL text, CRC. */
export function textChunk(keyword: string, text: string): Uint8Array {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new RangeError(`PNG keyword ${JSON.stringify(keyword)} must be 1–79 printable ASCII characters`);
  return pngChunk('tEXt', new Uint8Array([...latin1Bytes(keyword), 0, ...latin1Bytes(text)]));
}

/** The PNG with tEXt chunks inserted right after IHDR (the first chunk); throws on bytes that are not a PNG. */
export function withTextChunks(png: Uint8Array, entries: readonly [keyword: string, text: string][]): Uint8Array {
  if (png.length < 33 || SIGNATURE.some((b, i) => png[i] !== b)) throw new Error('not a PNG file');
  const ihdrLength = new DataView(png.buffer, png.byteOffset).getUint32(8);
  const afterIhdr = 8 + 12 + ihdrLength;
  const chunks = entries.map(([k, t]) => textChunk(k, t));
  const extra = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(png.length + extra);
  out.set(png.subarray(0, afterIhdr));
  let at = afterIhdr;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  out.set(png.subarray(afterIhdr), at);
  return out;
}

/** Every tEXt chunk of a PNG as keyword → text (for tests and for reading an export back). */
export function readTextChunks(png: Uint8Array): Record<string, string> {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Record<string, string> = {};
  for (let at = 8; at + 12 <= png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    if (type === 'tEXt') {
      const data = png.subarray(at + 8, at + 8 + length);
      const nul = data.indexOf(0);
      out[String.fromCharCode(...data.subarray(0, nul))] = Array.from(data.subarray(nul + 1), (b) => String.fromCharCode(b)).join('');
    }
    at += 12 + length;
  }
  return out;
}
