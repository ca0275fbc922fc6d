import { bfloatToFloat, halfToFloat, sizeOf, type Tensor } from './tensor.ts';

/**
 * Reader for the safetensors container (https://huggingface.co/docs/safetensors):
 * an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
 * Every field of the header is untrusted; each check names what is wrong.
 */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  /** `__metadata__`: string → string, as the format defines. */
  metadata: Record<string, string>;
}

const BYTES_PER_ELEMENT: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
/**
 * A header larger than this is refused before it is decoded. The format's own
 * reader allows 100 MB, but JSON.parse of that blocks the page for seconds
 * (issue 20 #4: an 87 MB header froze it for 5.5 s). A CRATE header is a few
 * tens of KB: under a thousand tensors of ~100 bytes each, plus a config whose
 * labels (100,000 classes at most, config.ts) fit in a few MB.
 */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/**
 * More tensors than this are refused, counted before the header is parsed. A
 * CRATE-L checkpoint has a few hundred. Reading a header of this many takes
 * ~50 ms; 100,000 took 0.4 s and the probe's 1.3 million 5.3 s (Node 20).
 */
export const MAX_TENSORS = 10_000;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function parseEntry(name: string, value: unknown): HeaderEntry {
  if (typeof value !== 'object' || value === null) throw new SafetensorsError(`tensor "${name}": header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new SafetensorsError(`tensor "${name}": dtype missing`);
  if (!(dtype in BYTES_PER_ELEMENT)) {
    throw new SafetensorsError(`tensor "${name}": dtype ${dtype} is not supported (F32, F16, BF16, F64 are)`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`tensor "${name}": shape must be a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new SafetensorsError(`tensor "${name}": data_offsets must be two increasing non-negative integers`);
  }
  return { dtype, shape, data_offsets: offsets as [number, number] };
}

function decode(entry: HeaderEntry, bytes: Uint8Array): Float32Array {
  const count = sizeOf(entry.shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (entry.dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bfloatToFloat(view.getUint16(2 * i, true));
      break;
  }
  return out;
}

const DATA_OFFSETS_KEY = new TextEncoder().encode('"data_offsets"');

/** How many times `needle` occurs in `haystack` (non-overlapping), in one linear pass. */
function countOccurrences(haystack: Uint8Array, needle: Uint8Array): number {
  let count = 0;
  const first = needle[0];
  for (let at = haystack.indexOf(first); at !== -1 && at <= haystack.length - needle.length; at = haystack.indexOf(first, at + 1)) {
    let match = true;
    for (let k = 1; k < needle.length && match; k++) match = haystack[at + k] === needle[k];
    if (match) {
      count++;
      at += needle.length - 1;
    }
  }
  return count;
}

export function readSafetensors(file: Uint8Array): SafetensorsFile {
  if (file.byteLength < 8) throw new SafetensorsError(`file is ${file.byteLength} bytes, too short for a safetensors header`);
  const headerLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > file.byteLength - 8) {
    throw new SafetensorsError(`header length ${headerLength} runs past the end of the ${file.byteLength}-byte file`);
  }
  if (headerLength > MAX_HEADER_BYTES) throw new SafetensorsError(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const headerBytes = file.subarray(8, 8 + headerLength);
  // An upper bound on the tensor count in one pass over the bytes, before JSON.parse builds them all.
  const declared = countOccurrences(headerBytes, DATA_OFFSETS_KEY);
  if (declared > MAX_TENSORS) throw new SafetensorsError(`the header declares ${declared} tensors; at most ${MAX_TENSORS} are supported`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new SafetensorsError(`header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError('header is not a JSON object');
  }

  const data = file.subarray(8 + headerLength);
  const metadata: Record<string, string> = {};
  const entries: [string, HeaderEntry][] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null) throw new SafetensorsError('__metadata__ is not an object');
      for (const [key, text] of Object.entries(value)) {
        if (typeof text !== 'string') throw new SafetensorsError(`__metadata__.${key} is not a string`);
        metadata[key] = text;
      }
      continue;
    }
    entries.push([name, parseEntry(name, value)]);
  }
  // Escaped keys ("data\u005foffsets") slip past the byte count above; this count is exact.
  if (entries.length > MAX_TENSORS) throw new SafetensorsError(`the header declares ${entries.length} tensors; at most ${MAX_TENSORS} are supported`);

  // Offsets must tile the data without overlap (the format requires it, and an
  // overlap would let one byte range masquerade as two tensors). A zero-size
  // tensor owns no bytes, so it overlaps nothing wherever it sits within the
  // data (the reference library accepts one at an offset another tensor
  // starts at, issue 20 #8); it is only checked to lie within bounds.
  const byStart = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let end = 0;
  for (const [name, entry] of byStart) {
    const [begin, stop] = entry.data_offsets;
    if (stop > data.byteLength) {
      throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${stop}] run past the ${data.byteLength} data bytes`);
    }
    if (begin < end && stop > begin) throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${stop}] overlap the previous tensor`);
    const expected = sizeOf(entry.shape) * BYTES_PER_ELEMENT[entry.dtype];
    if (stop - begin !== expected) {
      throw new SafetensorsError(
        `tensor "${name}": ${stop - begin} bytes stored, but ${entry.dtype}[${entry.shape}] needs ${expected}`,
      );
    }
    end = Math.max(end, stop);
  }

  const tensors = new Map<string, Tensor>();
  for (const [name, entry] of entries) {
    const [begin, stop] = entry.data_offsets;
    tensors.set(name, { shape: entry.shape, data: decode(entry, data.subarray(begin, stop)) });
  }
  return { tensors, metadata };
}

/** Writes F32 safetensors; used by tests and the Node CLI to emit fixtures and captures. */
export function writeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data starts 8-byte aligned, as the format recommends.
  const headerBytes = new Uint8Array(Math.ceil(json.byteLength / 8) * 8).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.byteLength;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), cursor);
    cursor += t.data.byteLength;
  }
  return out;
}
