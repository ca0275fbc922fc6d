/**
 * openModelBlob (src/models/modelFile.ts): a `.pth` read from a Blob by random
 * access (issue 16, "Big files"). It must give the same model as the bytes in
 * memory, refuse every hostile file with the same message as openModelBytes,
 * never read the file whole, count progress in bytes read, and stop on abort.
 */
import { openAsBlob } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openModelBlob, openModelBytes } from '../../src/models/modelFile.ts';
import { archive, manyItemsPickle } from '../helpers/fuzzFiles.ts';
import { deflateBombCheckpoint, stridedSpanCheckpoint } from '../helpers/hostilePth.ts';

const ROOT = join(import.meta.dirname, '../..');
const checkpoint = (name: string) => join(ROOT, 'fixtures/checkpoints', name);
const MiB = 1 << 20;

/** A Blob that records every range read from it (slice then arrayBuffer), and whole reads. */
class RecordingBlob extends Blob {
  readonly reads: [number, number][] = [];
  override slice(start = 0, end = this.size, type?: string): Blob {
    this.reads.push([start, Math.min(end, this.size)]);
    return super.slice(start, end, type);
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    this.reads.push([0, this.size]);
    return super.arrayBuffer();
  }
}

const recording = (bytes: Uint8Array) => new RecordingBlob([bytes as Uint8Array<ArrayBuffer>]);

async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!outcome) throw new Error('expected a refusal');
  return outcome;
}

describe('openModelBlob on valid checkpoints', () => {
  it.each(['tiny_bare_f32.pth', 'tiny_state_dict_f32.pth', 'tiny_deflate.pth', 'tiny_zip64.pth', 'tiny_strided_f32.pth', 'tiny_f16.pth'])(
    '%s from a file-backed Blob gives the model openModelBytes gives',
    async (file) => {
      const bytes = new Uint8Array(readFileSync(checkpoint(file)));
      const fromBytes = await openModelBytes(file, bytes, { heads: 2 });
      const fromBlob = await openModelBlob(file, await openAsBlob(checkpoint(file)), { heads: 2 });
      expect(fromBlob.format).toBe('pth');
      expect(fromBlob.bytes).toBe(bytes.byteLength);
      expect(fromBlob.notes).toEqual(fromBytes.notes);
      expect(fromBlob.model.config).toEqual(fromBytes.model.config);
      expect(fromBlob.model.weights).toEqual(fromBytes.model.weights);
    },
  );

  it('an α checkpoint reads tensor by tensor: no read spans the file, and every byte is read at most about once', async () => {
    const bytes = new Uint8Array(readFileSync(join(ROOT, 'fixtures/alpha/alpha_r4.pth')));
    const blob = recording(bytes);
    const progress: [number, number][] = [];
    const opened = await openModelBlob('alpha_r4.pth', blob, { heads: 2, onProgress: (done, total) => progress.push([done, total]) });
    expect(opened.model.config.arch).toBe('crate-alpha');
    const lengths = blob.reads.map(([a, b]) => b - a);
    const read = lengths.reduce((a, b) => a + b, 0);
    // The largest read is one storage record (D, d × r·d floats) or the tail the end-record search needs, never the file.
    const { dim, ratio } = opened.model.config as { dim: number; ratio: number };
    expect(Math.max(...lengths)).toBeLessThanOrEqual(Math.max(22 + 0xffff + 20, dim * ratio * dim * 4));
    expect(blob.reads.some(([a, b]) => a === 0 && b === bytes.byteLength)).toBe(false);
    // The tail overlaps the records it covers; nothing else is read twice.
    expect(read).toBeLessThan(bytes.byteLength + 70_000);
    // Progress: bytes read of the file's size, never decreasing, ending at the size.
    expect(progress.every(([, total]) => total === bytes.byteLength)).toBe(true);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
    expect(progress.at(-1)).toEqual([bytes.byteLength, bytes.byteLength]);
    expect(progress.length).toBeGreaterThan(10);
  });

  it('an aborted signal stops the read with an AbortError, not a checkpoint error', async () => {
    const bytes = new Uint8Array(readFileSync(join(ROOT, 'fixtures/alpha/alpha_r4.pth')));
    const controller = new AbortController();
    let reads = 0;
    const error = await failure(
      openModelBlob('alpha_r4.pth', recording(bytes), {
        heads: 2,
        signal: controller.signal,
        onProgress: () => {
          if (++reads === 5) controller.abort();
        },
      }),
    );
    expect(error.name).toBe('AbortError');
  });

  it('a non-zip model (ONNX) is read whole and opened as openModelBytes opens it', async () => {
    const bytes = new Uint8Array(readFileSync(join(ROOT, 'fixtures/alpha/alpha_r4.onnx')));
    const fromBlob = await openModelBlob('alpha_r4.onnx', recording(bytes));
    const fromBytes = await openModelBytes('alpha_r4.onnx', bytes);
    expect(fromBlob.format).toBe('onnx');
    expect(fromBlob.model.config).toEqual(fromBytes.model.config);
  });
});

/** Every hostile file, through both paths: the same one-line refusal. */
const HOSTILE: [string, () => Uint8Array][] = [
  ...['evil_os_system.pth', 'evil_eval.pth', 'evil_reduce.pth', 'evil_stack_global.pth', 'evil_load_from_bytes.pth', 'truncated.pth', 'zeros.pth', 'short_storage.pth'].map(
    (name): [string, () => Uint8Array] => [name, () => new Uint8Array(readFileSync(checkpoint(name)))],
  ),
  ['deflate bomb, 1 storage of 256 MiB', () => deflateBombCheckpoint(1, 256 * MiB)],
  ['deflate bomb, 4 storages', () => deflateBombCheckpoint(4, 256 * MiB)],
  ['deflate bomb in the zip record only', () => deflateBombCheckpoint(1, 256 * MiB, true)],
  ['strided view over a 256 MiB storage', () => stridedSpanCheckpoint(256 * MiB)],
  ['3 million items under one opcode', () => archive(manyItemsPickle('frozenset', 3_000_000))],
];

describe('openModelBlob refuses what openModelBytes refuses', () => {
  it.each(HOSTILE)('%s', async (_, build) => {
    const bytes = build();
    const before = process.memoryUsage().arrayBuffers;
    const viaBlob = await failure(openModelBlob('hostile.pth', recording(bytes), { heads: 2 }));
    expect(process.memoryUsage().arrayBuffers - before, 'held after the refusal').toBeLessThan(32 * MiB);
    const viaBytes = await failure(openModelBytes('hostile.pth', bytes, { heads: 2 }));
    expect(viaBlob.message).toBe(viaBytes.message);
    expect(viaBlob.message).toMatch(/^hostile\.pth /);
  });
});
