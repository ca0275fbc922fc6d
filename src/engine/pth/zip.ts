/**
 * A zip reader for `torch.save` archives: the central directory (ZIP64 when
 * present), stored entries as zero-copy views, deflated entries through the
 * platform's DecompressionStream. Every offset and length is untrusted and
 * checked against the file before it is used; CRC-32s are verified.
 */
import { crc32Update } from '../../bytes/crc32.ts';
import { PthError } from './errors.ts';
import type { ByteSource } from './byteSource.ts';
import type { Slicer } from './slicer.ts';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's data (after its local header) in the file. */
  dataOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
/** One entry may not unpack to more than this (no typed array can hold more anyway). */
const MAX_ENTRY_BYTES = 2 ** 31;
const MAX_ENTRIES = 1_000_000;
/** Deflate cannot expand data by more than 1032:1 (RFC 1951's longest match per shortest code); a header claiming more is forged. */
const MAX_DEFLATE_RATIO = 1032;
/** Work between two time checks while hashing or copying. */
const CHUNK = 1 << 18;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function u64(view: DataView, at: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new PthError(`zip: ${what} ${value} is out of range`);
  return Number(value);
}

/** A byte range the directory reader needs next (absolute offsets, already checked against the file size). */
interface ByteRange {
  offset: number;
  length: number;
}

const viewOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The end record's offset, searched in `tail` (the file's last bytes, from `tailStart`). */
function findEnd(tail: DataView, tailStart: number, size: number): number {
  const lowest = Math.max(0, size - 22 - 0xffff);
  for (let at = size - 22; at >= lowest; at--) {
    const local = at - tailStart;
    if (tail.getUint32(local, true) === SIG_END && at + 22 + tail.getUint16(local + 20, true) <= size) return at;
  }
  throw new PthError('not a zip archive (no end-of-central-directory record); torch.save writes zip files since PyTorch 1.6');
}

/**
 * The central directory, read by asking for byte ranges (yield a range, receive
 * its bytes): the file's last 64 KiB, the ZIP64 end record when there is one,
 * the directory itself, then each entry's 30-byte local header. Bytes in memory
 * and a Blob read by slices (byteSource.ts) drive the same checks, so a file
 * never needs to be whole in memory for its directory to be read.
 */
function* directorySteps(size: number): Generator<ByteRange, Map<string, ZipEntry>, Uint8Array> {
  if (size < 22) throw new PthError(`file is ${size} bytes, too short to be a zip archive`);
  const tailStart = Math.max(0, size - 22 - 0xffff - 20);
  const tail = viewOf(yield { offset: tailStart, length: size - tailStart });
  const end = findEnd(tail, tailStart, size);
  const endLocal = end - tailStart;
  let count = tail.getUint16(endLocal + 10, true);
  let cdSize = tail.getUint32(endLocal + 12, true);
  let cdOffset = tail.getUint32(endLocal + 16, true);
  if (tail.getUint16(endLocal + 4, true) !== 0 || tail.getUint16(endLocal + 6, true) !== 0) {
    if (count !== 0xffff) throw new PthError('zip: multi-disk archives are not supported');
  }
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = end - 20;
    if (locator < 0 || tail.getUint32(locator - tailStart, true) !== SIG_LOCATOR64) {
      throw new PthError('zip: the end record needs ZIP64 values, but there is no ZIP64 locator');
    }
    const end64 = u64(tail, locator - tailStart + 8, 'ZIP64 end record offset');
    if (end64 + 56 > locator) throw new PthError(`zip: no ZIP64 end record at offset ${end64}`);
    const record = viewOf(yield { offset: end64, length: 56 });
    if (record.getUint32(0, true) !== SIG_END64) throw new PthError(`zip: no ZIP64 end record at offset ${end64}`);
    count = u64(record, 32, 'entry count');
    cdSize = u64(record, 40, 'central directory size');
    cdOffset = u64(record, 48, 'central directory offset');
  }
  if (cdOffset + cdSize > end) {
    throw new PthError(`zip: central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end record at ${end}`);
  }
  if (count > MAX_ENTRIES || count * 46 > cdSize) throw new PthError(`zip: ${count} entries cannot fit a ${cdSize}-byte central directory`);

  const directory = yield { offset: cdOffset, length: cdSize };
  const view = viewOf(directory);
  const entries = new Map<string, ZipEntry>();
  // Offsets below are within the directory record.
  let at = 0;
  const cdEnd = cdSize;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdEnd || view.getUint32(at, true) !== SIG_CENTRAL) throw new PthError(`zip: central directory entry ${i} is damaged`);
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc32 = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let entrySize = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localOffset = view.getUint32(at + 42, true);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > cdEnd) throw new PthError(`zip: central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = utf8.decode(directory.subarray(at + 46, at + 46 + nameLength));
    } catch {
      throw new PthError(`zip: entry ${i} has a name that is not UTF-8`);
    }
    // ZIP64 extra field: the 8-byte values present are those whose 32-bit field is saturated, in this order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = view.getUint16(extra, true);
      const length = view.getUint16(extra + 2, true);
      if (extra + 4 + length > extraEnd) throw new PthError(`zip: entry "${name}" has a damaged extra field`);
      if (id === 0x0001) {
        let field = extra + 4;
        const take = (what: string): number => {
          if (field + 8 > extra + 4 + length) throw new PthError(`zip: entry "${name}": ZIP64 field lacks the ${what}`);
          const value = u64(view, field, what);
          field += 8;
          return value;
        };
        if (entrySize === 0xffffffff) entrySize = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localOffset === 0xffffffff) localOffset = take('local header offset');
      }
      extra += 4 + length;
    }
    if (flags & 1) throw new PthError(`zip: entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) throw new PthError(`zip: entry "${name}" uses compression method ${method} (only stored and deflate are read)`);
    if (method === 0 && compressedSize !== entrySize) throw new PthError(`zip: stored entry "${name}" has sizes ${compressedSize} and ${entrySize}`);
    if (entrySize > MAX_ENTRY_BYTES) throw new PthError(`zip: entry "${name}" is ${entrySize} bytes, over the ${MAX_ENTRY_BYTES}-byte limit`);
    if (method === 8 && entrySize > compressedSize * MAX_DEFLATE_RATIO + 64) {
      throw new PthError(`zip: deflated entry "${name}" claims ${entrySize} bytes from ${compressedSize} compressed bytes, more than deflate can produce`);
    }
    if (localOffset + 30 > size) throw new PthError(`zip: entry "${name}" has no local header at offset ${localOffset}`);
    const local = viewOf(yield { offset: localOffset, length: 30 });
    if (local.getUint32(0, true) !== SIG_LOCAL) throw new PthError(`zip: entry "${name}" has no local header at offset ${localOffset}`);
    const dataOffset = localOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
    if (dataOffset + compressedSize > size) {
      throw new PthError(`zip: entry "${name}" (${compressedSize} bytes at offset ${dataOffset}) runs past the end of the ${size}-byte file`);
    }
    if (entries.has(name)) throw new PthError(`zip: entry "${name}" appears twice`);
    entries.set(name, { name, method, crc32, compressedSize, size: entrySize, dataOffset });
    at = next;
  }
  return entries;
}

/** Reads the central directory of a zip in memory; returns entries by name. */
export function readZipDirectory(bytes: Uint8Array): Map<string, ZipEntry> {
  const steps = directorySteps(bytes.byteLength);
  let step = steps.next();
  while (!step.done) step = steps.next(bytes.subarray(step.value.offset, step.value.offset + step.value.length));
  return step.value;
}

/** As readZipDirectory, from a source read by ranges (a Blob): only the directory's own bytes are read. */
export async function readZipDirectoryFrom(source: ByteSource): Promise<Map<string, ZipEntry>> {
  const steps = directorySteps(source.size);
  let step = steps.next();
  while (!step.done) step = steps.next(await source.read(step.value.offset, step.value.length));
  return step.value;
}

async function inflate(data: Uint8Array, entry: ZipEntry, slicer: Slicer): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') throw new PthError(`zip: entry "${entry.name}" is deflated and this platform has no DecompressionStream`);
  // The declared size is a claim: the buffer grows with the data actually inflated (doubling,
  // never past the claim), so a forged size costs nothing before it is caught.
  let out = new Uint8Array(Math.min(entry.size, Math.max(1 << 16, 4 * data.byteLength)));
  let filled = 0;
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.byteLength > entry.size) {
        await reader.cancel();
        throw new PthError(`zip: entry "${entry.name}" inflates to more than its declared ${entry.size} bytes`);
      }
      if (filled + value.byteLength > out.byteLength) {
        const grown = new Uint8Array(Math.min(entry.size, Math.max(2 * out.byteLength, filled + value.byteLength)));
        grown.set(out.subarray(0, filled));
        out = grown;
      }
      out.set(value, filled);
      filled += value.byteLength;
      await slicer.maybeYield();
    }
  } catch (error) {
    if (error instanceof PthError) throw error;
    throw new PthError(`zip: entry "${entry.name}" is not valid deflate data`);
  }
  if (filled !== entry.size) throw new PthError(`zip: entry "${entry.name}" inflates to ${filled} bytes, not its declared ${entry.size}`);
  return out.byteLength === filled ? out : out.subarray(0, filled);
}

/**
 * The entry's bytes: for stored entries a view into the file's bytes in memory,
 * or a fresh buffer of just this record when the source is a Blob; a new array
 * for deflated ones. The CRC-32 is checked in chunks, yielding between them.
 */
export async function readZipEntry(
  source: ByteSource,
  entry: ZipEntry,
  slicer: Slicer,
  onBytes?: (n: number) => void,
): Promise<Uint8Array> {
  const raw = await source.read(entry.dataOffset, entry.compressedSize);
  const data = entry.method === 0 ? raw : await inflate(raw, entry, slicer);
  let crc = 0;
  for (let at = 0; at < data.byteLength; at += CHUNK) {
    const chunk = data.subarray(at, Math.min(at + CHUNK, data.byteLength));
    crc = crc32Update(crc, chunk);
    onBytes?.(chunk.byteLength);
    await slicer.maybeYield();
  }
  if (crc !== entry.crc32) throw new PthError(`zip: entry "${entry.name}" is corrupt (CRC-32 mismatch)`);
  return data;
}
