/**
 * Test-only writers for the three model containers, so fuzz and safety tests
 * can build well-formed files and then break exactly one thing in them: a
 * pickle writer and a zip writer (torch.save's layout, stored or deflated,
 * with every header field overridable), and a minimal ONNX ModelProto writer.
 */
import { constants, crc32 as zlibCrc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { crc32Update } from '../../src/bytes/crc32.ts';
import { readZipDirectory } from '../../src/engine/pth/zip.ts';

const enc = new TextEncoder();

// ---------------------------------------------------------------- pickle

export type Bytes = number[];
export const u16 = (n: number): Bytes => [n & 0xff, (n >>> 8) & 0xff];
export const u32 = (n: number): Bytes => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** Pickle opcodes, as torch.save (protocol 2) writes them. */
export const P = {
  proto: [0x80, 2],
  stop: [0x2e],
  mark: [0x28],
  tuple: [0x74],
  emptyDict: [0x7d],
  emptyTuple: [0x29],
  reduce: [0x52],
  setitems: [0x75],
  setitem: [0x73],
  persid: [0x51],
  newfalse: [0x89],
  emptyList: [0x5d],
  emptySet: [0x8f],
  appends: [0x65],
  additems: [0x90],
  frozenset: [0x91],
  list: [0x6c],
  none: [0x4e],
  str: (s: string): Bytes => {
    const b = [...enc.encode(s)];
    return [0x58, ...u32(b.length), ...b];
  },
  int: (n: number): Bytes => [0x4a, ...u32(n)],
  global: (module: string, name: string): Bytes => [0x63, ...enc.encode(`${module}\n${name}\n`)],
  ints: (values: number[]): Bytes => [0x28, ...values.flatMap((v) => P.int(v)), 0x74],
};

export interface TensorSpec {
  name: string;
  key?: string;
  storageType?: string;
  numel: number;
  offset?: number;
  size: number[];
  stride: number[];
}

/** The pickle torch.save writes for a bare state dict of these tensors. */
export function statePickle(tensors: TensorSpec[]): Uint8Array {
  const out: Bytes = [...P.proto, ...P.emptyDict, ...P.mark];
  for (const t of tensors) {
    out.push(...P.str(t.name), ...P.global('torch._utils', '_rebuild_tensor_v2'), ...P.mark);
    out.push(...P.mark, ...P.str('storage'), ...P.global('torch', t.storageType ?? 'FloatStorage'), ...P.str(t.key ?? '0'), ...P.str('cpu'), ...P.int(t.numel), ...P.tuple, ...P.persid);
    out.push(...P.int(t.offset ?? 0), ...P.ints(t.size), ...P.ints(t.stride), ...P.newfalse);
    out.push(...P.global('collections', 'OrderedDict'), ...P.emptyTuple, ...P.reduce, ...P.tuple, ...P.reduce);
  }
  out.push(...P.setitems, ...P.stop);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- zip

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Deflate the record (method 8) instead of storing it. */
  deflate?: boolean;
  /** Header values written instead of the true ones (to claim sizes the data does not have). */
  claim?: { size?: number; compressedSize?: number; crc32?: number };
  /** An already deflated record (method 8) of `size` bytes: `data` is ignored (see `deflatedZeros`). */
  deflated?: DeflatedRecord;
}

export interface DeflatedRecord {
  body: Uint8Array;
  size: number;
  crc32: number;
}

const ZERO_CHUNK = 1 << 20;

/**
 * A raw deflate stream of `size` zero bytes, built without holding them: one
 * MiB of zeros deflated once with a sync flush (so it ends on a byte boundary
 * and refers to nothing before it), repeated, then a final empty block. About
 * 1 KB per MiB: the deflate bombs of issue 20 (a 2 MB file, a 2 GiB storage).
 */
export function deflatedZeros(size: number): DeflatedRecord {
  const chunk = new Uint8Array(ZERO_CHUNK);
  const whole = new Uint8Array(deflateRawSync(chunk, { level: 9, finishFlush: constants.Z_SYNC_FLUSH }));
  const tailSize = size % ZERO_CHUNK;
  const tail = new Uint8Array(deflateRawSync(chunk.subarray(0, tailSize), { level: 9, finishFlush: constants.Z_SYNC_FLUSH }));
  const parts: Uint8Array[] = [];
  let crc = 0;
  for (let n = 0; n < Math.floor(size / ZERO_CHUNK); n++) {
    parts.push(whole);
    crc = zlibCrc32(chunk, crc);
  }
  if (tailSize) {
    parts.push(tail);
    crc = zlibCrc32(chunk.subarray(0, tailSize), crc);
  }
  parts.push(Uint8Array.from([0x03, 0x00])); // a final, empty, fixed-Huffman block
  return { body: concat(parts), size, crc32: crc >>> 0 };
}

/**
 * A pickle that builds one container from `items` values (None) under a MARK:
 * 'additems' (EMPTY_SET, MARK, …, ADDITEMS), 'frozenset', 'list' (MARK, …, LIST)
 * or 'appends' (EMPTY_LIST, MARK, …, APPENDS). The probe of issue 20 used 3 M.
 */
export function manyItemsPickle(op: 'additems' | 'frozenset' | 'list' | 'appends', items: number): Uint8Array {
  const head = op === 'additems' ? [...P.proto, ...P.emptySet, ...P.mark] : op === 'appends' ? [...P.proto, ...P.emptyList, ...P.mark] : [...P.proto, ...P.mark];
  const close = { additems: P.additems, frozenset: P.frozenset, list: P.list, appends: P.appends }[op];
  const out = new Uint8Array(head.length + items + close.length + 1);
  out.set(head);
  out.fill(P.none[0], head.length, head.length + items);
  out.set([...close, ...P.stop], head.length + items);
  return out;
}

/** A zip laid out as torch.save writes it (no alignment padding), stored or deflated per entry. */
export function zip(entries: ZipInput[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Bytes[] = [];
  let offset = 0;
  for (const entry of entries) {
    const n = [...enc.encode(entry.name)];
    const body = entry.deflated?.body ?? (entry.deflate ? new Uint8Array(deflateRawSync(entry.data)) : entry.data);
    const method = entry.deflate || entry.deflated ? 8 : 0;
    const crc = entry.claim?.crc32 ?? entry.deflated?.crc32 ?? crc32Update(0, entry.data);
    const size = entry.claim?.size ?? entry.deflated?.size ?? entry.data.length;
    const csize = entry.claim?.compressedSize ?? body.length;
    const local = Uint8Array.from([...u32(0x04034b50), 20, 0, 0, 0, ...u16(method), 0, 0, 0, 0, ...u32(crc), ...u32(csize), ...u32(size), ...u16(n.length), 0, 0, ...n]);
    central.push([...u32(0x02014b50), 20, 0, 20, 0, 0, 0, ...u16(method), 0, 0, 0, 0, ...u32(crc), ...u32(csize), ...u32(size), ...u16(n.length), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...u32(offset), ...n]);
    parts.push(local, body);
    offset += local.length + body.length;
  }
  const cd = Uint8Array.from(central.flat());
  const end = Uint8Array.from([...u32(0x06054b50), 0, 0, 0, 0, ...u16(entries.length), ...u16(entries.length), ...u32(cd.length), ...u32(offset), 0, 0]);
  return concat([...parts, cd, end]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A torch.save archive around a pickle and its storages (`archive/data/<key>`). */
export function archive(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  return zip([
    { name: 'archive/data.pkl', data: pkl },
    ...Object.entries(storages).map(([k, v]) => ({ name: `archive/data/${k}`, data: v })),
    { name: 'archive/version', data: enc.encode('3\n') },
  ]);
}

/** The records of a (well-formed) zip, decompressed, in directory order. */
export function unzip(bytes: Uint8Array): { name: string; data: Uint8Array; deflated: boolean }[] {
  return [...readZipDirectory(bytes).values()].map((e) => {
    const raw = bytes.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    return { name: e.name, data: e.method === 8 ? new Uint8Array(inflateRawSync(raw)) : raw.slice(), deflated: e.method === 8 };
  });
}

/** Offsets of the size and offset fields a zip's readers trust: per central entry, per local header, and in the end record. */
export function zipLengthFields(bytes: Uint8Array): { at: number; width: 2 | 4 }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: { at: number; width: 2 | 4 }[] = [];
  let end = -1;
  for (let at = bytes.length - 22; at >= 0; at--) {
    if (view.getUint32(at, true) === 0x06054b50) {
      end = at;
      break;
    }
  }
  if (end < 0) return fields;
  fields.push({ at: end + 8, width: 2 }, { at: end + 10, width: 2 }, { at: end + 12, width: 4 }, { at: end + 16, width: 4 });
  for (let at = 0; at + 46 <= end; at++) {
    const sig = view.getUint32(at, true);
    if (sig === 0x02014b50) {
      fields.push({ at: at + 20, width: 4 }, { at: at + 24, width: 4 }, { at: at + 28, width: 2 }, { at: at + 30, width: 2 }, { at: at + 32, width: 2 }, { at: at + 42, width: 4 });
    } else if (sig === 0x04034b50) {
      fields.push({ at: at + 18, width: 4 }, { at: at + 22, width: 4 }, { at: at + 26, width: 2 }, { at: at + 28, width: 2 });
    }
  }
  return fields;
}

// ---------------------------------------------------------------- ONNX

/** A protobuf varint of a 64-bit two's-complement value (exact for bigints and negatives). */
export function varint64(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? byte | 0x80 : byte);
  } while (v);
  return out;
}

/** Protobuf fields: a varint field, a length-delimited field. */
export const pbVarint = (id: number, value: number | bigint): Uint8Array => Uint8Array.from([...varint64((id << 3) | 0), ...varint64(value)]);
export const pbBytes = (id: number, body: Uint8Array): Uint8Array => concat([Uint8Array.from([...varint64((id << 3) | 2), ...varint64(body.length)]), body]);
export const pbString = (id: number, text: string): Uint8Array => pbBytes(id, enc.encode(text));

export interface OnnxTensorSpec {
  name: string;
  dims: (number | bigint)[];
  /** TensorProto.DataType: 1 float, 10 float16, 11 double, 16 bfloat16, 7 int64… */
  dataType: number;
  raw?: Uint8Array;
  floats?: number[];
  doubles?: number[];
  /** data_location = EXTERNAL. */
  external?: boolean;
  /** Write dims unpacked (one varint field each) instead of packed. */
  unpackedDims?: boolean;
}

export interface OnnxSpec {
  tensors: OnnxTensorSpec[];
  metadata?: [string, string][];
  inputs?: string[];
  outputs?: string[];
}

export function writeOnnxTensor(t: OnnxTensorSpec): Uint8Array {
  const parts: Uint8Array[] = [];
  if (t.unpackedDims) for (const d of t.dims) parts.push(pbVarint(1, d));
  else if (t.dims.length) parts.push(pbBytes(1, Uint8Array.from(t.dims.flatMap(varint64))));
  parts.push(pbVarint(2, t.dataType));
  if (t.floats) parts.push(pbBytes(4, new Uint8Array(Float32Array.from(t.floats).buffer)));
  parts.push(pbString(8, t.name));
  if (t.raw) parts.push(pbBytes(9, t.raw));
  if (t.doubles) parts.push(pbBytes(10, new Uint8Array(Float64Array.from(t.doubles).buffer)));
  if (t.external) parts.push(pbVarint(14, 1));
  return concat(parts);
}

/** A ModelProto with a graph of initializers (no nodes: our reader skips them) and metadata_props. */
export function writeOnnx(spec: OnnxSpec): Uint8Array {
  const graph = concat([
    ...spec.tensors.map((t) => pbBytes(5, writeOnnxTensor(t))),
    ...(spec.inputs ?? ['image']).map((name) => pbBytes(11, pbString(1, name))),
    ...(spec.outputs ?? ['logits']).map((name) => pbBytes(12, pbString(1, name))),
  ]);
  return concat([
    pbVarint(1, 8), // ir_version
    pbBytes(7, graph),
    ...(spec.metadata ?? []).map(([key, value]) => pbBytes(14, concat([pbString(1, key), pbString(2, value)]))),
  ]);
}

/** Float32 values as little-endian bytes. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values as ArrayLike<number>).buffer);
}

function readVarint(bytes: Uint8Array, at: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    if (at >= bytes.length) throw new Error('truncated varint');
    const b = bytes[at++];
    value |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [value, at];
    shift += 7n;
  }
}

/** The top-level fields of a protobuf message, as raw byte ranges (varint and length-delimited fields only). */
export function topLevelFields(bytes: Uint8Array): { id: number; start: number; end: number; body?: Uint8Array }[] {
  const fields: { id: number; start: number; end: number; body?: Uint8Array }[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    const [tag, afterTag] = readVarint(bytes, at);
    const id = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) at = readVarint(bytes, afterTag)[1];
    else if (wire === 2) {
      const [length, afterLength] = readVarint(bytes, afterTag);
      at = afterLength + Number(length);
      fields.push({ id, start, end: at, body: bytes.subarray(afterLength, at) });
      continue;
    } else if (wire === 1) at = afterTag + 8;
    else if (wire === 5) at = afterTag + 4;
    else throw new Error(`wire type ${wire} at ${start}`);
    fields.push({ id, start, end: at });
  }
  return fields;
}

/**
 * An ONNX model with `metadata_props[key]` set to `value` (other entries and
 * the graph untouched): e.g. a shipped model whose config carries hostile labels.
 */
export function setOnnxMetadata(bytes: Uint8Array, key: string, value: string): Uint8Array {
  const keep = topLevelFields(bytes).filter((f) => {
    if (f.id !== 14 || !f.body) return true;
    const entry = topLevelFields(f.body).find((e) => e.id === 1);
    return !entry?.body || new TextDecoder().decode(entry.body) !== key;
  });
  return concat([...keep.map((f) => bytes.subarray(f.start, f.end)), pbBytes(14, concat([pbString(1, key), pbString(2, value)]))]);
}
