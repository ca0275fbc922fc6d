/**
 * Fuzzing the safetensors reader (readSafetensors, modelFromSafetensors):
 * random bytes, random JSON headers, the fixtures with random byte mutations,
 * the fixtures with one header field made hostile (re-serialised so the rest
 * stays valid), and absurd configs. Every case must load or be refused with
 * a SafetensorsError, ModelError or ConfigError, in under a second, without
 * asking for an array larger than twice the file. CASES_PER_PARSER cases in
 * all (2,000 in `npm test`; `npm run fuzz` runs 100,000).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { modelFromSafetensorsAuto } from '../../src/engine/inferConfig.ts';
import { modelFromSafetensors } from '../../src/engine/model.ts';
import { readSafetensors, writeSafetensors } from '../../src/engine/safetensors.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { CASES_PER_PARSER, fuzz, heapGrowth, HUGE_VALUES, isNamedError, mutate, mutationsArb, runCase, runsFor, Tally } from '../helpers/fuzz.ts';
import { hostileConfigTextArb, hostileShapesArb, NAMED_ABSURD_CONFIGS, NON_FINITE, stateDict, tensorsFor } from '../helpers/fuzzModels.ts';

const DIR = join(import.meta.dirname, '../../fixtures');
const FIXTURES = ['grey17.model', 'colour50.model', 'wide31.model', 'grey17.golden'].map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(DIR, `${name}.safetensors`))) }));
const allowed = isNamedError('SafetensorsError', 'ModelError', 'ConfigError');
const tally = new Tally();

/** Runs both entry points on one input under the fuzz rules. */
async function check(bytes: Uint8Array, what: string): Promise<void> {
  tally.cases++;
  const rules = { allowed, allocationLimit: 2 * bytes.length + 65536, describe: `${what} (${bytes.length} bytes)` };
  const read = await runCase(() => {
    const file = readSafetensors(bytes);
    for (const [name, t] of file.tensors) {
      if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
    }
  }, rules);
  tally.add(read);
  const model = await runCase(() => {
    const m = modelFromSafetensors(bytes);
    for (const layer of m.weights.layers) for (const v of layer.dictionary) if (!Number.isFinite(v)) throw new Error('a non-finite weight was loaded');
  }, rules);
  tally.add(model);
  // What the app calls for a .safetensors file: the config from the metadata, or inferred from the shapes.
  tally.add(await runCase(() => modelFromSafetensorsAuto(bytes, {}), rules));
}

/** The safetensors layout: 8-byte length, JSON header, data. */
function split(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))), data: bytes.subarray(8 + length) };
}

function join8(headerText: string, data: Uint8Array, claimedLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, claimedLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const HOSTILE_NUMBERS: unknown[] = [-1, 1.5, 1e308, 2 ** 53, 2 ** 64, -0, 'x', null, [], {}, true, ...HUGE_VALUES.map(Number)];

/** One header field of a fixture made hostile, the rest left valid. */
const headerEditArb = fc.record({
  fixture: fc.integer({ min: 0, max: FIXTURES.length - 1 }),
  tensor: fc.nat(),
  edit: fc.oneof(
    fc.record({ field: fc.constant('shape'), value: fc.oneof(fc.array(fc.constantFrom(...HOSTILE_NUMBERS), { maxLength: 6 }), fc.constantFrom(...HOSTILE_NUMBERS), fc.array(fc.nat(), { maxLength: 40 })) }),
    fc.record({ field: fc.constant('data_offsets'), value: fc.oneof(fc.tuple(fc.constantFrom(...HOSTILE_NUMBERS), fc.constantFrom(...HOSTILE_NUMBERS)), fc.tuple(fc.nat(), fc.nat()), fc.array(fc.nat(), { maxLength: 3 })) }),
    fc.record({ field: fc.constant('dtype'), value: fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'U8', 'f32', '', 7, null) }),
    fc.record({ field: fc.constant('delete'), value: fc.constant(null) }),
    fc.record({ field: fc.constant('rename'), value: fc.constantFrom('__proto__', '__metadata__', 'constructor', '', 'cls_token', 'x'.repeat(1000)) }),
    fc.record({ field: fc.constant('metadata'), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostileConfigTextArb.map((config) => ({ config }))) }),
    fc.record({ field: fc.constant('headerLength'), value: fc.constantFrom(...HUGE_VALUES) }),
  ),
});

type HeaderEdit = { fixture: number; tensor: number; edit: { field: string; value: unknown } };

function applyHeaderEdit({ fixture, tensor, edit }: HeaderEdit): Uint8Array {
  const { header, data } = split(FIXTURES[fixture].bytes);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = names[tensor % names.length];
  const entry = { ...(header[name] as Record<string, unknown>) };
  let claimed: bigint | undefined;
  switch (edit.field) {
    case 'shape':
    case 'data_offsets':
    case 'dtype':
      entry[edit.field] = edit.value;
      header[name] = entry;
      break;
    case 'delete':
      delete header[name];
      break;
    case 'rename':
      delete header[name];
      Object.defineProperty(header, edit.value as string, { value: entry, enumerable: true, configurable: true, writable: true });
      break;
    case 'metadata':
      header.__metadata__ = edit.value;
      break;
    case 'headerLength':
      claimed = edit.value as bigint;
      break;
  }
  return join8(JSON.stringify(header), data, claimed);
}

describe('safetensors fuzzing', () => {
  afterAll(() => console.log(tally.summary('safetensors')));

  it('random bytes, and random bytes behind a plausible header length', async () => {
    await fuzz(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (bytes, framed) => {
        const input = framed ? join8(new TextDecoder().decode(bytes), new Uint8Array(0)) : bytes;
        await check(input, 'random bytes');
      }),
      runsFor(0.1),
      1,
    );
  });

  it('random JSON headers', async () => {
    await fuzz(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), fc.uint8Array({ maxLength: 64 }), async (header, data) => {
        await check(join8(JSON.stringify(header) ?? '', data), 'random JSON header');
      }),
      runsFor(0.1),
      2,
    );
  });

  it('fixtures with random byte mutations (bit flips, truncation, insertions, deletions, zeroed ranges, huge length fields)', async () => {
    const before = tally.total;
    await fuzz(
      fc.asyncProperty(fc.integer({ min: 0, max: FIXTURES.length - 1 }), mutationsArb(4), async (which, mutations) => {
        await check(mutate(FIXTURES[which].bytes, mutations), `${FIXTURES[which].name} mutated`);
      }),
      runsFor(0.3),
      3,
    );
    expect(tally.total - before).toBe(3 * runsFor(0.3));
  });

  it('fixtures with one header field made hostile', async () => {
    await fuzz(
      fc.asyncProperty(headerEditArb, async (edit) => {
        await check(applyHeaderEdit(edit), `header edit ${JSON.stringify(edit, (_, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 200)}`);
      }),
      runsFor(0.25),
      4,
    );
  });

  it('absurd configs (depth 1e6, dim 0, a patch size that does not divide the image, bad labels…)', async () => {
    await fuzz(
      fc.asyncProperty(hostileConfigTextArb, async (configText) => {
        let config: unknown;
        try {
          config = JSON.parse(configText);
        } catch {
          config = undefined;
        }
        const tensors = tensorsFor(config) ?? new Map<string, Tensor>();
        await check(writeSafetensors(tensors, { config: configText }), `config ${configText.slice(0, 200)}`);
      }),
      runsFor(0.15),
      5,
    );
  });

  it('bare state dicts (no config, so it is inferred) with hostile shapes and names', async () => {
    await fuzz(
      fc.asyncProperty(hostileShapesArb, async (shapes) => {
        await check(writeSafetensors(stateDict(shapes)), 'bare state dict');
      }),
      runsFor(0.1),
      8,
    );
  });

  it('refuses each named absurd config with a ConfigError that says what is wrong', () => {
    for (const [what, config, message] of NAMED_ABSURD_CONFIGS) {
      const bytes = writeSafetensors(tensorsFor(config) ?? new Map(), { config: JSON.stringify(config) });
      expect(() => modelFromSafetensors(bytes), what).toThrow(message);
      expect(() => modelFromSafetensors(bytes), what).toThrow(expect.objectContaining({ name: 'ConfigError' }));
    }
  });

  it('refuses a model with a NaN or infinite weight, naming the tensor (F32 and F16 files)', async () => {
    const { header, data } = split(FIXTURES[0].bytes);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const config = (header.__metadata__ as Record<string, string>).config;
    const tensors = readSafetensors(FIXTURES[0].bytes).tensors;
    expect(data.length).toBeGreaterThan(0);
    await fuzz(
      fc.asyncProperty(fc.constantFrom(...names), fc.nat(), fc.constantFrom(...NON_FINITE), async (name, index, value) => {
        const copy = new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }]));
        const target = copy.get(name)!;
        target.data[index % target.data.length] = value;
        const bytes = writeSafetensors(copy, { config });
        expect(() => modelFromSafetensors(bytes)).toThrow(new RegExp(`tensor "${name.replace(/\./g, '\\.')}" holds ${String(value).replace('+', '\\+')} at element ${index % target.data.length}`));
      }),
      Math.max(50, runsFor(0.02)),
      6,
    );
    // Half precision: 0x7c00 is +Inf, 0x7e00 NaN.
    const f16Header = { __metadata__: { config }, ...Object.fromEntries([...tensors].map(([k, t], i, all) => {
      const start = all.slice(0, i).reduce((n, [, u]) => n + 2 * u.data.length, 0);
      return [k, { dtype: 'F16', shape: t.shape, data_offsets: [start, start + 2 * t.data.length] }];
    })) };
    const total = [...tensors.values()].reduce((n, t) => n + 2 * t.data.length, 0);
    const halves = new Uint16Array(total / 2); // all +0.0
    halves[0] = 0x7e00;
    const bytes = join8(JSON.stringify(f16Header), new Uint8Array(halves.buffer));
    expect(() => modelFromSafetensors(bytes)).toThrow(/tensor "cls_token" holds NaN at element 0/);
  });

  it('accepts zero-size tensors at any offset within the data, and refuses them past it (issue 20 #8)', async () => {
    const { header, data } = split(FIXTURES[0].bytes);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    await fuzz(
      fc.asyncProperty(
        fc.array(fc.record({ offset: fc.nat({ max: data.length + 64 }), dims: fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 3 }).map((d) => [...d, 0]), first: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        async (empties) => {
          const entries: [string, unknown][] = Object.entries(header);
          empties.forEach(({ offset, dims, first }, i) => {
            const entry: [string, unknown] = [`extra.empty${i}`, { dtype: 'F32', shape: dims, data_offsets: [offset, offset] }];
            if (first) entries.unshift(entry);
            else entries.push(entry);
          });
          const bytes = join8(JSON.stringify(Object.fromEntries(entries)), data);
          const outside = empties.find((e) => e.offset > data.length);
          if (outside) {
            expect(() => readSafetensors(bytes)).toThrow(/run past the \d+ data bytes/);
            return;
          }
          const { tensors } = readSafetensors(bytes);
          expect(tensors.size).toBe(names.length + empties.length);
          empties.forEach((_, i) => expect(tensors.get(`extra.empty${i}`)!.data.length).toBe(0));
          // The model's own tensors are untouched by the empty ones beside them.
          expect(modelFromSafetensors(bytes).config).toEqual(modelFromSafetensors(FIXTURES[0].bytes).config);
        },
      ),
      Math.max(50, runsFor(0.02)),
      8,
    );
  });

  it('keeps live memory bounded over a run of mutated fixtures', async () => {
    const runs = runsFor(0.05);
    const growth = await heapGrowth(() =>
      fuzz(
        fc.asyncProperty(fc.integer({ min: 0, max: FIXTURES.length - 1 }), mutationsArb(2), async (which, mutations) => {
          await check(mutate(FIXTURES[which].bytes, mutations), 'memory run');
        }),
        runs,
        7,
      ),
    );
    console.log(`safetensors: live memory grew ${(growth / 1e6).toFixed(2)} MB over ${runs} mutated files`);
    expect(growth).toBeLessThan(32e6);
  });

  it('ran the budgeted number of cases and reached both outcomes and many distinct refusals', () => {
    // Three entry points per input; the NaN property above is counted separately.
    expect(tally.cases).toBeGreaterThanOrEqual(CASES_PER_PARSER);
    expect(tally.total).toBe(3 * tally.cases);
    expect(tally.accepted).toBeGreaterThan(0);
    expect(tally.distinctRefusals).toBeGreaterThan(15);
  });
});
