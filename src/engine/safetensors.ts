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
/** A header larger than this is refused before it is decoded (the format's own reference reader uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

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

export function readSafetensors(file: Uint8Array): SafetensorsFile {
  if (file.byteLength < 8) throw new SafetensorsError(`file is ${file.byteLength} bytes, too short for a safetensors header`);
  const headerLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > file.byteLength - 8) {
    throw new SafetensorsError(`header length ${headerLength} runs past the end of the ${file.byteLength}-byte file`);
  }
  if (headerLength > MAX_HEADER_BYTES) throw new SafetensorsError(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + headerLength)));
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

  // Offsets must tile the data without overlap (the format requires it, and an
  // overlap would let one byte range masquerade as two tensors).
  const byStart = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let end = 0;
  for (const [name, entry] of byStart) {
    const [begin, stop] = entry.data_offsets;
    if (begin < end) throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${stop}] overlap the previous tensor`);
    if (stop > data.byteLength) {
      throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${stop}] run past the ${data.byteLength} data bytes`);
    }
    const expected = sizeOf(entry.shape) * BYTES_PER_ELEMENT[entry.dtype];
    if (stop - begin !== expected) {
      throw new SafetensorsError(
        `tensor "${name}": ${stop - begin} bytes stored, but ${entry.dtype}[${entry.shape}] needs ${expected}`,
      );
    }
    end = stop;
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
