import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelFromSafetensors, ModelError } from '../../src/engine/model.ts';
import { MAX_HEADER_BYTES, MAX_TENSORS, readSafetensors, SafetensorsError, writeSafetensors } from '../../src/engine/safetensors.ts';
import { FIXTURE_DIR } from '../helpers/fixtures.ts';

function fileWithHeader(header: unknown, dataBytes = 0, declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors reader', () => {
  it('round-trips what it writes', () => {
    const tensors = new Map([
      ['a', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['b', { shape: [1], data: Float32Array.from([-7.5]) }],
    ]);
    const back = readSafetensors(writeSafetensors(tensors, { config: '{"x":"é"}' }));
    expect(back.metadata.config).toBe('{"x":"é"}');
    expect([...back.tensors.get('a')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.get('b')!.shape).toEqual([1]);
  });

  it('upcasts F16 and BF16', () => {
    const file = fileWithHeader({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] } }, 6);
    const view = new DataView(file.buffer);
    const dataStart = file.length - 6;
    view.setUint16(dataStart, 0x3c00, true); // 1.0
    view.setUint16(dataStart + 2, 0xc000, true); // -2.0
    view.setUint16(dataStart + 4, 0x4049, true); // bf16 3.140625
    const { tensors } = readSafetensors(file);
    expect([...tensors.get('h')!.data]).toEqual([1, -2]);
    expect(tensors.get('b')!.data[0]).toBeCloseTo(3.140625, 6);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['a file shorter than the length prefix', new Uint8Array(5), /too short/],
    ['a header length beyond the file', fileWithHeader({}, 0, 1000), /runs past the end/],
    ['bad JSON', fileWithHeader('{"a": [1,'), /not valid JSON/],
    ['a JSON array header', fileWithHeader([1, 2]), /not a JSON object/],
    ['an unsupported dtype', fileWithHeader({ t: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), /dtype I64 is not supported/],
    ['offsets past the data', fileWithHeader({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /run past the 8 data bytes/],
    [
      'overlapping offsets',
      fileWithHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
      /overlap/,
    ],
    ['a size that disagrees with the shape', fileWithHeader({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /needs 12/],
    ['negative shapes', fileWithHeader({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /non-negative integers/],
  ];
  it.each(cases)('rejects %s with a clear error', (_, file, message) => {
    expect(() => readSafetensors(file)).toThrowError(SafetensorsError);
    expect(() => readSafetensors(file)).toThrowError(message);
  });

  it('names a missing tensor of a model', () => {
    const bytes = readFileSync(join(FIXTURE_DIR, 'grey17.model.safetensors'));
    const { tensors, metadata } = readSafetensors(bytes);
    tensors.delete('transformer.layers.1.1.fn.weight');
    expect(() => modelFromSafetensors(writeSafetensors(tensors, metadata))).toThrowError(ModelError);
    expect(() => modelFromSafetensors(writeSafetensors(tensors, metadata))).toThrowError(/missing tensor "transformer.layers.1.1.fn.weight"/);
  });

  it('names a mis-shaped tensor of a model', () => {
    const { tensors, metadata } = readSafetensors(readFileSync(join(FIXTURE_DIR, 'grey17.model.safetensors')));
    tensors.set('mlp_head.1.bias', { shape: [3], data: new Float32Array(3) });
    expect(() => modelFromSafetensors(writeSafetensors(tensors, metadata))).toThrowError(/"mlp_head.1.bias" has shape \[3\], expected \[10\]/);
  });
});

describe('zero-size tensors (issue 20 #8)', () => {
  const a = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  it.each([
    ['at the offset another tensor starts at, listed after it', { a, z: { dtype: 'F32', shape: [0], data_offsets: [0, 0] } }],
    ['at the offset another tensor starts at, listed before it', { z: { dtype: 'F32', shape: [0, 3], data_offsets: [0, 0] }, a }],
    ['inside another tensor', { a, z: { dtype: 'F16', shape: [5, 0], data_offsets: [4, 4] } }],
    ['at the end of the data', { a, z: { dtype: 'F32', shape: [0], data_offsets: [8, 8] } }],
  ])('are accepted %s (as the reference library does)', (_, header) => {
    const { tensors } = readSafetensors(fileWithHeader(header, 8));
    expect(tensors.get('z')!.data.length).toBe(0);
    expect(tensors.get('a')!.data.length).toBe(2);
  });

  it('are still refused outside the data', () => {
    expect(() => readSafetensors(fileWithHeader({ a, z: { dtype: 'F32', shape: [0], data_offsets: [12, 12] } }, 8))).toThrowError(/run past the 8 data bytes/);
  });

  it('do not hide an overlap between two tensors that own bytes', () => {
    const header = { a, z: { dtype: 'F32', shape: [0], data_offsets: [0, 0] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
    expect(() => readSafetensors(fileWithHeader(header, 8))).toThrowError(/"b".*overlap/);
  });
});

describe('header bounds (issue 20 #4: an 87 MB header of 1.3 M empty tensors froze the page for 5.5 s)', () => {
  /** A header of `count` zero-size tensors, as the probe built it. */
  function emptyTensors(count: number, pad = 0): Uint8Array {
    const parts = ['{'];
    for (let i = 0; i < count; i++) parts.push(`"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},`);
    parts.push(`"__metadata__":{"pad":"${'x'.repeat(pad)}"}}`);
    return fileWithHeader(parts.join(''));
  }

  it('refuses more than MAX_TENSORS tensors early, naming the count', () => {
    const file = emptyTensors(MAX_TENSORS + 1);
    expect(file.length).toBeLessThan(MAX_HEADER_BYTES);
    const start = performance.now();
    expect(() => readSafetensors(file)).toThrowError(new RegExp(`declares ${MAX_TENSORS + 1} tensors; at most ${MAX_TENSORS}`));
    // One byte scan, no JSON.parse: generous for a shared CI core.
    expect(performance.now() - start).toBeLessThan(250);
  });

  it('counts tensors whose key is escaped too', () => {
    const body = Array.from({ length: MAX_TENSORS + 1 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data\\u005foffsets":[0,0]}`).join(',');
    expect(() => readSafetensors(fileWithHeader(`{${body}}`))).toThrowError(new RegExp(`at most ${MAX_TENSORS} are supported`));
  });

  it('refuses a header over MAX_HEADER_BYTES before decoding it', () => {
    const file = emptyTensors(1, MAX_HEADER_BYTES);
    expect(() => readSafetensors(file)).toThrowError(new RegExp(`over the ${MAX_HEADER_BYTES}-byte limit`));
  });

  it('still reads a header just under both limits', () => {
    const { tensors } = readSafetensors(emptyTensors(MAX_TENSORS, 1 << 20));
    expect(tensors.size).toBe(MAX_TENSORS);
  });
});
