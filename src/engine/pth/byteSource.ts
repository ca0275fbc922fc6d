/**
 * Where a checkpoint's bytes come from: a Uint8Array already in memory, or a
 * Blob/File read by random access (`blob.slice(a, b).arrayBuffer()`), so a
 * 1 GB `.pth` is read record by record and never held whole (issue 16, "Big
 * files"). Both work in a module worker and in Node 20 (`fs.openAsBlob`).
 */
import { PthError } from './errors.ts';

export interface ByteSource {
  /** Bytes in the file. */
  readonly size: number;
  /** Bytes [offset, offset + length); the caller has checked the range against `size`. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A view into bytes in memory: reads cost nothing and copy nothing. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}

export interface BlobSourceOptions {
  signal?: AbortSignal;
  /** Called after every read with the bytes it returned. */
  onRead?: (bytes: number) => void;
}

/**
 * Reads a Blob by slices. Each read is a fresh ArrayBuffer of exactly the
 * range asked for; nothing is cached, so memory is what the caller keeps.
 * The signal is checked before and after every read (an AbortError).
 */
export function blobSource(blob: Blob, options: BlobSourceOptions = {}): ByteSource {
  return {
    size: blob.size,
    async read(offset, length) {
      options.signal?.throwIfAborted();
      if (offset < 0 || length < 0 || offset + length > blob.size) throw new PthError(`read of ${length} bytes at offset ${offset} runs past the end of the ${blob.size}-byte file`);
      const buffer = await blob.slice(offset, offset + length).arrayBuffer();
      options.signal?.throwIfAborted();
      if (buffer.byteLength !== length) throw new PthError(`the file changed while it was read (${buffer.byteLength} of ${length} bytes at offset ${offset})`);
      options.onRead?.(length);
      return new Uint8Array(buffer);
    },
  };
}
