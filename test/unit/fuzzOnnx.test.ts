/**
 * Fuzzing the ONNX reader (readOnnx, modelFromOnnx): random bytes, random
 * protobuf field streams, the exported fixtures and the shipped digits model
 * with random byte mutations (varint lengths set to huge values among them),
 * well-framed files with one initializer or metadata entry made hostile, and
 * absurd configs. Every case must load or be refused with an OnnxError,
 * ModelError or ConfigError, in under a second, without asking for an array
 * larger than twice the file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readOnnx } from '../../src/engine/onnx/onnxFile.ts';
import { modelFromOnnx } from '../../src/engine/onnx/onnxModel.ts';
import { CASES_PER_PARSER, fuzz, heapGrowth, HUGE_VALUES, isNamedError, mutate, mutationsArb, runCase, runsFor, Tally } from '../helpers/fuzz.ts';
import { f32Bytes, varint64, writeOnnx, type OnnxTensorSpec } from '../helpers/fuzzFiles.ts';
import { hostileConfigTextArb, NAMED_ABSURD_CONFIGS, NON_FINITE, tensorsFor } from '../helpers/fuzzModels.ts';

const ROOT = join(import.meta.dirname, '../..');
const FILES = ['fixtures/grey17.onnx', 'fixtures/colour50.onnx', 'fixtures/wide31.onnx', 'public/models/digits/model.onnx'].map((path) => ({ name: path, bytes: new Uint8Array(readFileSync(join(ROOT, path))) }));
const allowed = isNamedError('OnnxError', 'ModelError', 'ConfigError');
const tally = new Tally();

async function check(bytes: Uint8Array, what: string): Promise<void> {
  tally.cases++;
  const rules = { allowed, allocationLimit: 2 * bytes.length + 65536, describe: `${what} (${bytes.length} bytes)` };
  tally.add(
    await runCase(() => {
      const file = readOnnx(bytes);
      for (const [name, t] of file.tensors) {
        if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`initializer ${name}: ${t.data.length} values for shape [${t.shape}]`);
      }
    }, rules),
  );
  tally.add(await runCase(() => modelFromOnnx(bytes), rules));
}

/** The grey17 export as a spec: every initializer as raw float32, its metadata as written. */
const base = readOnnx(FILES[0].bytes);
const BASE_TENSORS: OnnxTensorSpec[] = [...base.tensors].map(([name, t]) => ({ name, dims: t.shape, dataType: 1, raw: f32Bytes(t.data) }));
const BASE_METADATA: [string, string][] = Object.entries(base.metadata);

const HOSTILE_DIMS: (number | bigint)[] = [0, -1, -(2n ** 63n), 2n ** 63n - 1n, 2 ** 28, 2 ** 28 + 1, 2 ** 31, 2 ** 53, 2n ** 53n + 1n, 1, 3, 48, ...HUGE_VALUES];

const tensorEditArb = fc.oneof(
  fc.record({ kind: fc.constant('dims' as const), dims: fc.array(fc.constantFrom(...HOSTILE_DIMS), { maxLength: 8 }) }),
  fc.record({ kind: fc.constant('manyDims' as const), count: fc.integer({ min: 9, max: 5000 }) }),
  fc.record({ kind: fc.constant('dataType' as const), dataType: fc.integer({ min: -2, max: 40 }) }),
  fc.record({ kind: fc.constant('rawLength' as const), delta: fc.integer({ min: -64, max: 64 }) }),
  fc.record({ kind: fc.constant('floats' as const), delta: fc.integer({ min: -3, max: 3 }), doubles: fc.boolean() }),
  fc.record({ kind: fc.constant('external' as const) }),
  fc.record({ kind: fc.constant('duplicate' as const) }),
  fc.record({ kind: fc.constant('drop' as const) }),
  fc.record({ kind: fc.constant('rename' as const), name: fc.constantFrom('', '__proto__', 'constructor', 'cls_token', 'mlp_head.1.bias', 'x'.repeat(10_000)) }),
  fc.record({ kind: fc.constant('unpacked' as const) }),
  fc.record({ kind: fc.constant('nonFinite' as const), value: fc.constantFrom(...NON_FINITE), at: fc.nat() }),
);

const metadataEditArb = fc.oneof(
  fc.record({ kind: fc.constant('config' as const), text: hostileConfigTextArb }),
  fc.record({ kind: fc.constant('drop' as const), key: fc.constantFrom('config', 'model_card') }),
  fc.record({ kind: fc.constant('card' as const), text: fc.oneof(fc.string({ maxLength: 50 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? '')) }),
  fc.record({ kind: fc.constant('extra' as const), key: fc.constantFrom('__proto__', 'constructor', 'toString', 'config', ''), value: fc.string({ maxLength: 20 }) }),
);

type TensorEdit = typeof tensorEditArb extends fc.Arbitrary<infer T> ? T : never;
type MetadataEdit = typeof metadataEditArb extends fc.Arbitrary<infer T> ? T : never;

function withTensorEdit(index: number, edit: TensorEdit): OnnxTensorSpec[] {
  const tensors = BASE_TENSORS.map((t) => ({ ...t }));
  const i = index % tensors.length;
  const t = tensors[i];
  switch (edit.kind) {
    case 'dims':
      t.dims = edit.dims;
      break;
    case 'manyDims':
      t.dims = new Array(edit.count).fill(1);
      break;
    case 'dataType':
      t.dataType = edit.dataType;
      break;
    case 'rawLength': {
      const raw = t.raw!;
      const length = Math.max(0, raw.length + edit.delta);
      const next = new Uint8Array(length);
      next.set(raw.subarray(0, length));
      t.raw = next;
      break;
    }
    case 'floats': {
      const values = [...new Float32Array(t.raw!.buffer, t.raw!.byteOffset, t.raw!.length / 4)];
      const adjusted = edit.delta < 0 ? values.slice(0, Math.max(0, values.length + edit.delta)) : [...values, ...new Array(edit.delta).fill(0.5)];
      delete t.raw;
      if (edit.doubles) {
        t.dataType = 11;
        t.doubles = adjusted;
      } else t.floats = adjusted;
      break;
    }
    case 'external':
      t.external = true;
      break;
    case 'duplicate':
      tensors.push({ ...t });
      break;
    case 'drop':
      tensors.splice(i, 1);
      break;
    case 'rename':
      t.name = edit.name;
      break;
    case 'unpacked':
      t.unpackedDims = true;
      break;
    case 'nonFinite': {
      const values = new Float32Array(t.raw!.slice().buffer);
      values[edit.at % values.length] = edit.value;
      t.raw = new Uint8Array(values.buffer);
      break;
    }
  }
  return tensors;
}

function withMetadataEdit(edit: MetadataEdit): [string, string][] {
  const metadata = BASE_METADATA.map(([k, v]): [string, string] => [k, v]);
  switch (edit.kind) {
    case 'config':
      return metadata.map(([k, v]) => [k, k === 'config' ? edit.text : v]);
    case 'drop':
      return metadata.filter(([k]) => k !== edit.key);
    case 'card':
      return metadata.map(([k, v]) => [k, k === 'model_card' ? edit.text : v]);
    case 'extra':
      return [...metadata, [edit.key, edit.value]];
  }
}

/** Random protobuf field streams: valid framing, random field numbers, wire types and payloads. */
const fieldArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.constantFrom(...HUGE_VALUES)).map(([id, v]) => [...varint64(id << 3), ...varint64(v)]),
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.uint8Array({ maxLength: 40 })).map(([id, body]) => [...varint64((id << 3) | 2), ...varint64(body.length), ...body]),
  fc.tuple(fc.integer({ min: 1, max: 20 }), fc.constantFrom(1, 3, 4, 5, 6, 7)).map(([id, wire]) => [...varint64((id << 3) | wire), 0, 0, 0, 0]),
  fc.tuple(fc.constantFrom(...HUGE_VALUES)).map(([length]) => [...varint64((7 << 3) | 2), ...varint64(length)]),
);
const streamArb = fc.array(fieldArb, { maxLength: 12 }).map((fields) => Uint8Array.from(fields.flat()));

describe('ONNX fuzzing', () => {
  afterAll(() => console.log(tally.summary('onnx')));

  it('the rebuilt base file loads (so the edits below start from a valid model)', () => {
    const { model } = modelFromOnnx(writeOnnx({ tensors: BASE_TENSORS, metadata: BASE_METADATA }));
    expect(model.config.depth).toBe(3);
  });

  it('random bytes, and random protobuf field streams (alone and as the graph)', async () => {
    await fuzz(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 600 }), streamArb, streamArb.map((graph) => Uint8Array.from([...varint64((7 << 3) | 2), ...varint64(graph.length), ...graph]))), async (bytes) => {
        await check(bytes, 'random bytes');
      }),
      runsFor(0.2),
      11,
    );
  });

  it('the exported fixtures and the shipped model with random byte mutations', async () => {
    const before = tally.total;
    await fuzz(
      fc.asyncProperty(fc.integer({ min: 0, max: FILES.length - 1 }), mutationsArb(4), async (which, mutations) => {
        await check(mutate(FILES[which].bytes, mutations), `${FILES[which].name} mutated`);
      }),
      runsFor(0.3),
      12,
    );
    expect(tally.total - before).toBe(2 * runsFor(0.3));
  });

  it('well-framed files with one initializer made hostile (dims, data type, data length, external data, names)', async () => {
    await fuzz(
      fc.asyncProperty(fc.nat(), tensorEditArb, async (index, edit) => {
        await check(writeOnnx({ tensors: withTensorEdit(index, edit), metadata: BASE_METADATA }), `initializer edit ${JSON.stringify(edit, (_, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 200)}`);
      }),
      runsFor(0.25),
      13,
    );
  });

  it('well-framed files with hostile metadata, and absurd configs with weights to match', async () => {
    await fuzz(
      fc.asyncProperty(metadataEditArb, fc.boolean(), async (edit, ownWeights) => {
        const metadata = withMetadataEdit(edit);
        let tensors = BASE_TENSORS;
        if (ownWeights && edit.kind === 'config') {
          let config: unknown;
          try {
            config = JSON.parse(edit.text);
          } catch {
            config = undefined;
          }
          tensors = [...(tensorsFor(config) ?? new Map())].map(([name, t]) => ({ name, dims: t.shape, dataType: 1, raw: f32Bytes(t.data) }));
        }
        await check(writeOnnx({ tensors, metadata }), `metadata edit ${JSON.stringify(edit).slice(0, 200)}`);
      }),
      runsFor(0.2),
      14,
    );
  });

  it('refuses the named absurd configs, and NaN/Inf weights naming the tensor', () => {
    for (const [what, config, message] of NAMED_ABSURD_CONFIGS) {
      const bytes = writeOnnx({ tensors: BASE_TENSORS, metadata: [['config', JSON.stringify(config)]] });
      expect(() => modelFromOnnx(bytes), what).toThrow(message);
    }
    for (const value of NON_FINITE) {
      const tensors = withTensorEdit(3, { kind: 'nonFinite', value, at: 5 });
      expect(() => modelFromOnnx(writeOnnx({ tensors, metadata: BASE_METADATA })), String(value)).toThrow(
        new RegExp(`tensor "${BASE_TENSORS[3].name.replace(/\./g, '\\.')}" holds ${String(value).replace('+', '\\+')} at element 5`),
      );
    }
  });

  it('refuses a forged 2^28-element initializer without allocating for it (a bug this fuzzing found)', async () => {
    const tensors = [{ name: 'x', dims: [2 ** 28], dataType: 1, raw: new Uint8Array(4) }];
    const bytes = writeOnnx({ tensors });
    const result = await runCase(() => readOnnx(bytes), { allowed, allocationLimit: 1024, describe: 'forged dims' });
    expect(result.error?.message).toMatch(/4 raw bytes, but \[268435456\] needs 1073741824/);
  });

  it('keeps live memory bounded over a run of mutated files', async () => {
    const runs = runsFor(0.05);
    const growth = await heapGrowth(() =>
      fuzz(
        fc.asyncProperty(fc.integer({ min: 0, max: FILES.length - 1 }), mutationsArb(2), async (which, mutations) => {
          await check(mutate(FILES[which].bytes, mutations), 'memory run');
        }),
        runs,
        15,
      ),
    );
    console.log(`onnx: live memory grew ${(growth / 1e6).toFixed(2)} MB over ${runs} mutated files`);
    expect(growth).toBeLessThan(32e6);
  });

  it('ran the budgeted number of cases and reached both outcomes and many distinct refusals', () => {
    expect(tally.cases).toBeGreaterThanOrEqual(CASES_PER_PARSER);
    expect(tally.total).toBe(2 * tally.cases);
    expect(tally.accepted).toBeGreaterThan(0);
    expect(tally.distinctRefusals).toBeGreaterThan(15);
  });
});
