/**
 * Fuzzing the PyTorch checkpoint loader (openPth + load, readPth,
 * modelFromPth) at the archive level; test/unit/pthSafety.test.ts fuzzes the
 * pickle VM on its own. Generators: random bytes (bare, and as data.pkl in a
 * valid zip), the checkpoint fixtures with random byte mutations, the
 * fixtures re-zipped around a mutated data.pkl with correct CRCs (so the
 * mutation reaches the pickle instead of the CRC check), zip size/offset
 * fields set to huge values, hand-made state dicts with hostile views,
 * dtypes, storages and deflate claims, deflate bombs (storages and records of
 * zeros far larger than their tensors) and strided views spread over a huge
 * storage (issue 20, defects 5 and 6), and pickles with millions of items
 * under one opcode (defect 7). Every case must load or be refused
 * with a PthError that is a deliberate check (no wrapped crash as its
 * cause), a ModelError or a ConfigError; in under a second; without asking
 * for an array larger than twice what the file can hold.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { modelFromPth, openPth, readPth } from '../../src/engine/pth/index.ts';
import { CASES_PER_PARSER, fuzz, heapGrowth, HUGE_VALUES, isNamedError, mutate, mutationsArb, runCase, runsFor, Tally, type CaseRules } from '../helpers/fuzz.ts';
import { archive, deflatedZeros, f32Bytes, manyItemsPickle, P, statePickle, unzip, zip, zipLengthFields, type DeflatedRecord, type TensorSpec, type ZipInput } from '../helpers/fuzzFiles.ts';
import { BASE_CONFIG, hostileShapesArb, HOSTILE_SHAPES } from '../helpers/fuzzModels.ts';
import { parseConfig } from '../../src/engine/config.ts';
import { officialTensorShapes } from '../../src/engine/model.ts';
import { STORAGE_SLACK_BYTES, STORAGE_SLACK_FACTOR } from '../../src/engine/pth/storageBounds.ts';

const DIR = join(import.meta.dirname, '../../fixtures/checkpoints');
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.pth'))
  .sort()
  .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(DIR, name))) }));
/** The well-formed ones, unpacked once, to re-zip around a mutated pickle. */
const UNPACKED = FIXTURES.filter((f) => f.name.startsWith('tiny_')).map((f) => ({ name: f.name, entries: unzip(f.bytes) }));

const typed = isNamedError('PthError', 'ModelError', 'ConfigError');
/** A PthError carrying a `cause` is the reader wrapping an exception it did not anticipate: a bug. */
const allowed = (error: unknown) => typed(error) && (error as Error).cause === undefined;
const tally = new Tally();

/** Deflate expands at most 1032:1; a file with deflated records may legitimately allocate that much more. */
function allocationLimit(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let deflated = false;
  for (let at = 0; at + 12 <= bytes.length && !deflated; at++) {
    if (view.getUint32(at, true) === 0x02014b50 && view.getUint16(at + 10, true) !== 0) deflated = true;
  }
  return 2 * bytes.length * (deflated ? 1032 : 1) + 262_144 + 65_536; // + the float16 lookup table
}

async function check(bytes: Uint8Array, what: string, limit = allocationLimit(bytes)): Promise<void> {
  tally.cases++;
  const rules: CaseRules = { allowed, allocationLimit: limit, describe: `${what} (${bytes.length} bytes)` };
  tally.add(
    await runCase(async () => {
      const { checkpoint, tensors } = await readPth(bytes, { sliceMs: 1000 });
      for (const [name, t] of tensors) {
        if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
        if (!checkpoint.tensors.has(name)) throw new Error(`tensor ${name} loaded but not listed`);
      }
    }, rules),
  );
  tally.add(await runCase(() => modelFromPth(bytes, { heads: 2, sliceMs: 1000 }), rules));
  // Without heads, the loader proposes them from the shapes (the path a forged width could stall).
  tally.add(await runCase(() => modelFromPth(bytes, { sliceMs: 1000 }), rules));
}

const STORAGE_TYPES = ['FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'ByteStorage', 'BoolStorage', 'QInt8Storage'];
const BYTES: Record<string, number> = { FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8, LongStorage: 8, ByteStorage: 1, BoolStorage: 1, QInt8Storage: 1 };

/** A hand-made state dict: official names, each tensor possibly made hostile, each storage possibly deflated or mis-sized. */
const handMadeArb = fc.record({
  shapes: hostileShapesArb,
  hostile: fc.array(
    fc.record({
      tensor: fc.nat(),
      kind: fc.constantFrom('stride0', 'hugeStride', 'offset', 'numel', 'dtype', 'storageLength', 'sharedStorage', 'claim', 'deflate', 'key', 'bomb', 'recordBomb', 'sparseStride'),
      bombMiB: fc.constantFrom(1, 2, 8, 32),
      value: fc.constantFrom(...HUGE_VALUES.map(Number).filter((n) => n <= 0xffff_ffff)),
      delta: fc.integer({ min: -9, max: 9 }),
      storageType: fc.constantFrom(...STORAGE_TYPES),
      shape: fc.constantFrom(...HOSTILE_SHAPES),
    }),
    { maxLength: 3 },
  ),
});

/** Deflated zeros by size, built once each (the bombs are the same bytes every time). */
const zerosCache = new Map<number, DeflatedRecord>();
function zeros(bytes: number): DeflatedRecord {
  if (!zerosCache.has(bytes)) zerosCache.set(bytes, deflatedZeros(bytes));
  return zerosCache.get(bytes)!;
}

interface HandMade {
  file: Uint8Array;
  /**
   * What a reader may legitimately inflate and decode: the real (non-bomb) storage data, and of
   * each bomb what the storage bound lets through (STORAGE_SLACK_FACTOR × the bytes its tensor
   * views + STORAGE_SLACK_BYTES; the 1 and 2 MiB bombs over large views are within it).
   */
  dataBytes: number;
}

/**
 * What a hand-made file may make the reader allocate: its own bytes, the storage data it
 * really holds (inflated, and decoded to float32 at up to twice its size for 16-bit types),
 * the float16 lookup table. Unlike `allocationLimit`, no allowance for deflate's 1032:1:
 * the bombs' zeros must never be inflated.
 */
const handMadeLimit = ({ file, dataBytes }: HandMade) => 2 * file.length + 4 * dataBytes + 262_144 + 65_536;

function buildHandMade({ shapes, hostile }: typeof handMadeArb extends fc.Arbitrary<infer T> ? T : never): HandMade {
  const specs: (TensorSpec & { bytes: number; claim?: number; deflate?: boolean; bomb?: number })[] = shapes.map(([name, shape], i) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    const stride = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    return { name, key: String(i), numel: Math.min(numel, 0xffff_ffff), size: shape, stride, bytes: 4 * Math.min(numel, 1 << 20) };
  });
  for (const h of hostile) {
    const t = specs[h.tensor % specs.length];
    switch (h.kind) {
      case 'stride0':
        t.size = h.shape.length ? h.shape : [h.value];
        t.stride = t.size.map(() => 0);
        break;
      case 'hugeStride':
        t.stride = t.stride.map(() => h.value);
        break;
      case 'offset':
        t.offset = h.value;
        break;
      case 'numel':
        t.numel = h.value;
        break;
      case 'dtype':
        t.storageType = h.storageType;
        t.bytes = Math.max(0, (t.bytes / 4) * BYTES[h.storageType]);
        break;
      case 'storageLength':
        t.bytes = Math.max(0, t.bytes + h.delta);
        break;
      case 'sharedStorage':
        t.key = '0';
        break;
      case 'claim':
        t.deflate = true;
        t.claim = h.value;
        break;
      case 'deflate':
        t.deflate = true;
        break;
      case 'key':
        t.key = ['../x', '', 'a/b', 'x'.repeat(100), '..'][h.delta & 3];
        break;
      case 'bomb':
        // Defect 5: the pickle declares a storage of zeros far larger than the tensor.
        t.bomb = h.bombMiB << 20;
        t.numel = t.bomb / BYTES[t.storageType ?? 'FloatStorage'];
        break;
      case 'recordBomb':
        // Defect 5: the pickle declares the tensor's size, the zip record is the bomb.
        t.bomb = h.bombMiB << 20;
        break;
      case 'sparseStride': {
        // Defect 6: the view's elements spread over the whole of a large declared storage.
        t.bomb = h.bombMiB << 20;
        t.numel = t.bomb / BYTES[t.storageType ?? 'FloatStorage'];
        const count = t.size.reduce((a, b) => a * b, 1);
        const spread = Math.max(1, Math.floor((t.numel - 1) / Math.max(count - 1, 1)));
        t.stride = t.stride.map((s) => s * spread);
        break;
      }
    }
  }
  const storages = new Map<string, ZipInput>();
  let dataBytes = 0;
  for (const t of specs) {
    if (t.bomb !== undefined) {
      const viewed = t.size.reduce((a, b) => a * b, 1) * BYTES[t.storageType ?? 'FloatStorage'];
      dataBytes += Math.min(t.bomb, STORAGE_SLACK_FACTOR * viewed + STORAGE_SLACK_BYTES);
    }
    if (storages.has(t.key!)) continue;
    if (t.bomb !== undefined) {
      storages.set(t.key!, { name: `archive/data/${t.key}`, data: new Uint8Array(0), deflated: zeros(t.bomb) });
      continue;
    }
    const data = new Uint8Array(t.bytes);
    new Float32Array(data.buffer, 0, data.length >> 2).fill(0.01);
    dataBytes += data.length;
    storages.set(t.key!, { name: `archive/data/${t.key}`, data, deflate: t.deflate, claim: t.claim === undefined ? undefined : { size: t.claim } });
  }
  const file = zip([{ name: 'archive/data.pkl', data: statePickle(specs) }, ...storages.values(), { name: 'archive/version', data: new TextEncoder().encode('3\n') }]);
  return { file, dataBytes };
}

/**
 * The many-items property draws from 20 inputs of up to 3 MB that take ~0.3 s each, so it keeps
 * to 40 cases however far `npm run fuzz` scales the rest; the hand-made property gets the remainder
 * of their shared 30 %.
 */
const MANY_ITEMS_RUNS = Math.min(runsFor(0.03), 40);

describe('.pth fuzzing', () => {
  afterAll(() => console.log(tally.summary('pth')));

  it('the hand-made state dict loads when nothing is made hostile (so the edits start from a valid model)', async () => {
    const shapes = officialTensorShapes(parseConfig(BASE_CONFIG));
    const { model } = await modelFromPth(buildHandMade({ shapes, hostile: [] }).file, { heads: 2 });
    expect(model.config.depth).toBe(2);
  });

  it('random bytes, bare and as the data.pkl of a valid archive', async () => {
    await fuzz(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (bytes, wrapped) => {
        await check(wrapped ? archive(Uint8Array.from([...P.proto, ...bytes]), { '0': f32Bytes([1, 2, 3, 4]) }) : bytes, 'random bytes');
      }),
      runsFor(0.1),
      21,
    );
  });

  it('the checkpoint fixtures with random byte mutations', async () => {
    await fuzz(
      fc.asyncProperty(fc.integer({ min: 0, max: FIXTURES.length - 1 }), mutationsArb(4), async (which, mutations) => {
        await check(mutate(FIXTURES[which].bytes, mutations), `${FIXTURES[which].name} mutated`);
      }),
      runsFor(0.2),
      22,
    );
  });

  it('the fixtures re-zipped around a mutated data.pkl (CRCs right, so the pickle is what is tested), stored or deflated', async () => {
    const before = tally.refused;
    await fuzz(
      fc.asyncProperty(fc.integer({ min: 0, max: UNPACKED.length - 1 }), mutationsArb(3), fc.boolean(), async (which, mutations, deflate) => {
        const entries = UNPACKED[which].entries.map((e) => ({ name: e.name, data: e.name.endsWith('data.pkl') ? mutate(e.data, mutations) : e.data, deflate: deflate || e.deflated }));
        await check(zip(entries), `${UNPACKED[which].name} with a mutated pickle`);
      }),
      runsFor(0.25),
      23,
    );
    // The point of re-zipping: the refusals come from the pickle and the tensors, not the CRC check.
    expect([...tally.messages.keys()].some((m) => /pickle|memo|stack|opcode|whitelist|STOP/.test(m))).toBe(true);
    expect(tally.refused).toBeGreaterThan(before);
  });

  it('zip size, count and offset fields set to huge values', async () => {
    const zips = FIXTURES.map((f) => ({ ...f, fields: zipLengthFields(f.bytes) })).filter((f) => f.fields.length > 0);
    expect(zips.length).toBeGreaterThan(10);
    await fuzz(
      fc.asyncProperty(fc.integer({ min: 0, max: zips.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...HUGE_VALUES)), { minLength: 1, maxLength: 3 }), async (which, edits) => {
        const { name, fields } = zips[which];
        const bytes = zips[which].bytes.slice();
        const view = new DataView(bytes.buffer);
        for (const [index, value] of edits) {
          const field = fields[index % fields.length];
          if (field.width === 2) view.setUint16(field.at, Number(value & 0xffffn), true);
          else view.setUint32(field.at, Number(value & 0xffff_ffffn), true);
        }
        await check(bytes, `${name} with forged zip fields`);
      }),
      runsFor(0.15),
      24,
    );
  });

  it('hand-made state dicts with hostile views, dtypes, storages, keys and deflate claims', async () => {
    await fuzz(
      fc.asyncProperty(handMadeArb, async (spec) => {
        const made = buildHandMade(spec);
        await check(made.file, `hand-made ${JSON.stringify(spec.hostile).slice(0, 300)}`, handMadeLimit(made));
      }),
      runsFor(0.3) - MANY_ITEMS_RUNS,
      25,
    );
    // The bombs were generated, and refused for what they are.
    expect([...tally.messages.keys()].some((m) => /declares N bytes, but the tensor viewing it uses only/.test(m))).toBe(true);
  });

  it('millions of items under one pickle opcode, as a bare pickle and as a checkpoint', async () => {
    await fuzz(
      fc.asyncProperty(fc.constantFrom('additems', 'frozenset', 'list', 'appends') as fc.Arbitrary<'additems' | 'frozenset' | 'list' | 'appends'>, fc.constantFrom(1, 1000, 300_000, 1_000_001, 3_000_000), async (op, items) => {
        await check(archive(manyItemsPickle(op, items)), `${op} of ${items} items`);
      }),
      MANY_ITEMS_RUNS,
      27,
    );
  });

  it('refuses, without allocating for them, a broadcast view and a forged deflate size (bugs this fuzzing found)', async () => {
    const broadcast = archive(statePickle([{ name: 'a', numel: 1, size: [1 << 28], stride: [0] }]), { '0': f32Bytes([1]) });
    const r1 = await runCase(() => readPth(broadcast), { allowed, allocationLimit: 65_536, describe: 'broadcast view' });
    expect(r1.error?.message).toMatch(/268435456 elements but storage "0" holds only 1: a broadcast \(stride 0\) or overlapping view is not a weight/);
    const claim = zip([
      { name: 'archive/data.pkl', data: statePickle([{ name: 'a', numel: 4, size: [4], stride: [1] }]) },
      { name: 'archive/data/0', data: f32Bytes([1, 2, 3, 4]), deflate: true, claim: { size: 0x7fff_ffff } },
    ]);
    const r2 = await runCase(() => openPth(claim), { allowed, allocationLimit: 65_536, describe: 'deflate claim' });
    expect(r2.error?.message).toMatch(/claims 2147483647 bytes from \d+ compressed bytes, more than deflate can produce/);
  });

  it('keeps live memory bounded over a run of mutated checkpoints', async () => {
    const runs = runsFor(0.05);
    const growth = await heapGrowth(() =>
      fuzz(
        fc.asyncProperty(fc.integer({ min: 0, max: UNPACKED.length - 1 }), mutationsArb(2), async (which, mutations) => {
          const entries = UNPACKED[which].entries.map((e) => ({ name: e.name, data: e.name.endsWith('data.pkl') ? mutate(e.data, mutations) : e.data }));
          await check(zip(entries), 'memory run');
        }),
        runs,
        26,
      ),
    );
    console.log(`pth: live memory grew ${(growth / 1e6).toFixed(2)} MB over ${runs} mutated checkpoints`);
    expect(growth).toBeLessThan(32e6);
  });

  it('ran the budgeted number of cases and reached both outcomes and many distinct refusals', () => {
    expect(tally.cases).toBeGreaterThanOrEqual(CASES_PER_PARSER);
    expect(tally.total).toBe(3 * tally.cases);
    expect(tally.accepted).toBeGreaterThan(0);
    expect(tally.distinctRefusals).toBeGreaterThan(15);
  });
});
