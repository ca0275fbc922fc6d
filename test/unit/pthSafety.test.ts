/**
 * The .pth reader on hand-made and fuzzed input (the pickle VM here; whole
 * archives in fuzzPth.test.ts): nothing but a PthError may
 * come out, every refusal names what is wrong, and the work stays bounded
 * (lengths, memo, nesting, object count).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { modelFromPth, openPth, PthError } from '../../src/engine/pth/index.ts';
import { DEFAULT_LIMITS, unpickle } from '../../src/engine/pth/pickle.ts';
import { torchHooks } from '../../src/engine/pth/torchPickle.ts';
import { archive, P, statePickle, u32, zip } from '../helpers/fuzzFiles.ts';

const DIR = join(import.meta.dirname, '../../fixtures/checkpoints');
const read = (name: string) => new Uint8Array(readFileSync(join(DIR, name)));
const enc = new TextEncoder();

// Pickle and zip writers: test/helpers/fuzzFiles.ts (shared with test/unit/fuzzPth.test.ts).

const floats = (n: number) => new Uint8Array(new Float32Array(n).fill(1.5).buffer);
async function refusal(promise: Promise<unknown>): Promise<PthError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a refusal').toBeInstanceOf(PthError);
  expect((error as PthError).cause, `a deliberate check, not a wrapped crash: ${(error as Error).message}`).toBeUndefined();
  return error as PthError;
}

const noStorage = torchHooks(() => undefined);
const openTensors = async (bytes: Uint8Array) => (await openPth(bytes)).load();

// ---------------------------------------------------------------- tests

describe('hand-made checkpoints', () => {
  it('a well-formed hand-made archive loads (the writers above are right)', async () => {
    const pkl = statePickle([
      { name: 'a', numel: 6, size: [2, 3], stride: [3, 1] },
      { name: 'b', numel: 6, offset: 1, size: [2, 2], stride: [1, 3] },
    ]);
    const tensors = await openTensors(archive(pkl, { '0': new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer) }));
    expect([...tensors.get('a')!.data]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...tensors.get('b')!.data]).toEqual([1, 4, 2, 5]);
  });

  it('refuses a view that reaches past its storage, naming the storage', async () => {
    const pkl = statePickle([{ name: 'a', numel: 4, size: [2, 3], stride: [3, 1] }]);
    const error = await refusal(openTensors(archive(pkl, { '0': floats(4) })));
    expect(error.message).toMatch(/reaches element 5 of storage "0", which holds only 4 float32 elements/);
  });

  it('refuses a view with an offset past the storage', async () => {
    const pkl = statePickle([{ name: 'a', numel: 4, offset: 4, size: [1], stride: [1] }]);
    await refusal(openTensors(archive(pkl, { '0': floats(4) })));
  });

  it('refuses a storage record shorter than its declared size, and a missing one', async () => {
    const pkl = statePickle([{ name: 'a', numel: 8, size: [8], stride: [1] }]);
    expect((await refusal(openTensors(archive(pkl, { '0': floats(7) })))).message).toMatch(/holds 28 bytes, but the checkpoint declares 8 float32 elements \(32 bytes\)/);
    expect((await refusal(openTensors(archive(pkl)))).message).toMatch(/storage "0" has no data record/);
  });

  it('refuses a storage key that is a path, and one storage used as two dtypes', async () => {
    const traversal = statePickle([{ name: 'a', key: '../../etc/passwd', numel: 1, size: [1], stride: [1] }]);
    expect((await refusal(openTensors(archive(traversal)))).message).toMatch(/bad storage key/);
    const twice = statePickle([
      { name: 'a', numel: 2, size: [2], stride: [1] },
      { name: 'b', numel: 4, storageType: 'HalfStorage', size: [2], stride: [1] },
    ]);
    expect((await refusal(openTensors(archive(twice, { '0': floats(2) })))).message).toMatch(/used as both float32 and float16/);
  });

  it('refuses integer tensors as weights but still opens the file', async () => {
    const pkl = statePickle([{ name: 'steps', storageType: 'LongStorage', numel: 1, size: [], stride: [] }]);
    const checkpoint = await openPth(archive(pkl, { '0': new Uint8Array(8) }));
    expect(checkpoint.tensors.get('steps')).toMatchObject({ dtype: 'int64', shape: [] });
    expect((await refusal(checkpoint.load())).message).toMatch(/tensor "steps": tensors of type int64 are not weights/);
  });

  it('refuses a CRC mismatch (a storage byte changed after writing)', async () => {
    const bytes = read('tiny_bare_f32.pth');
    const copy = bytes.slice();
    const dataAt = new TextDecoder('latin1').decode(copy).indexOf('tiny_bare_f32/data/0') + 200;
    copy[dataAt] ^= 0xff;
    const error = await refusal(modelFromPth(copy, { heads: 2 }));
    expect(error.message).toMatch(/is corrupt \(CRC-32 mismatch\)/);
  });

  it('names the legacy format and TorchScript archives', async () => {
    const legacy = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    expect((await refusal(openPth(legacy))).message).toMatch(/legacy torch.save format/);
    const script = zip([{ name: 'm/constants.pkl', data: Uint8Array.from([0x80, 2, 0x29, 0x2e]) }, { name: 'm/code/m.py', data: enc.encode('x') }]);
    expect((await refusal(openPth(script))).message).toMatch(/TorchScript/);
  });

  it('refuses zip records that point outside the file', async () => {
    const good = archive(statePickle([{ name: 'a', numel: 1, size: [1], stride: [1] }]), { '0': floats(1) });
    const view = new DataView(good.buffer);
    const end = good.length - 22;
    const cd = view.getUint32(end + 16, true);
    const bad1 = good.slice();
    new DataView(bad1.buffer).setUint32(cd + 42, 0x7fffff00, true); // local header offset
    expect((await refusal(openPth(bad1))).message).toMatch(/no local header/);
    const bad2 = good.slice();
    new DataView(bad2.buffer).setUint32(cd + 20, 0x7fffff00, true); // compressed size
    new DataView(bad2.buffer).setUint32(cd + 24, 0x7fffff00, true); // size
    expect((await refusal(openPth(bad2))).message).toMatch(/runs past the end/);
    const bad3 = good.slice();
    new DataView(bad3.buffer).setUint16(end + 10, 0xfffe, true); // entry count
    expect((await refusal(openPth(bad3))).message).toMatch(/entries cannot fit/);
    const bad4 = good.slice();
    new DataView(bad4.buffer).setUint32(end + 16, 0xffffffff, true); // directory offset → ZIP64 expected
    expect((await refusal(openPth(bad4))).message).toMatch(/ZIP64/);
  });
});

describe('the pickle VM', () => {
  const run = (bytes: number[] | Uint8Array, limits = DEFAULT_LIMITS) => unpickle(Uint8Array.from(bytes), noStorage, undefined, limits);

  it.each([
    ['GLOBAL', 'os.system', P.global('os', 'system')],
    ['GLOBAL (protocol 2 spelling)', 'builtins.exec', P.global('__builtin__', 'exec')],
    ['STACK_GLOBAL', 'subprocess.Popen', [...P.str('subprocess'), ...P.str('Popen'), 0x93]],
    ['INST', 'os.system', [0x28, 0x69, ...enc.encode('os\nsystem\n')]],
    ['a model class', 'model.crate.CRATE', P.global('model.crate', 'CRATE')],
    ['argparse.Namespace', 'argparse.Namespace', P.global('argparse', 'Namespace')],
    ['numpy scalars', 'numpy.core.multiarray.scalar', P.global('numpy.core.multiarray', 'scalar')],
    ['torch.load itself', 'torch.load', P.global('torch', 'load')],
    ['builtins.getattr', 'builtins.getattr', P.global('builtins', 'getattr')],
  ])('refuses a non-whitelisted global through %s, naming %s', async (_, name, ops) => {
    const error = await refusal(run([...P.proto, ...ops, ...P.stop]));
    expect(error.message).toBe(`refusing checkpoint: it references the global ${name}, which is not on the whitelist`);
  });

  it('refuses calling a storage type, or calling a non-callable', async () => {
    expect((await refusal(run([...P.proto, ...P.global('torch', 'FloatStorage'), ...P.emptyTuple, ...P.reduce, ...P.stop]))).message).toMatch(
      /calls torch.FloatStorage, which may only appear as a storage type/,
    );
    expect((await refusal(run([...P.proto, ...P.str('x'), ...P.emptyTuple, ...P.reduce, ...P.stop]))).message).toMatch(/calls a str, which is not callable/);
  });

  it('reads plain data: ints of every width, floats, strings, bytes, containers, memo', async () => {
    const value = await run([
      ...P.proto, 0x5d, 0x71, 0, 0x28,
      0x4b, 7, 0x4d, 0x34, 0x12, ...P.int(-5), 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, // LONG1 = -2^71
      0x47, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, // BINFLOAT pi
      0x8c, 2, 0x68, 0x69, 0x43, 2, 1, 2, 0x4e, 0x88, 0x89,
      0x68, 0, // BINGET 0: the list itself
      0x65, ...P.stop,
    ]);
    expect(Array.isArray(value)).toBe(true);
    const list = value as unknown[];
    expect(list.slice(0, 4)).toEqual([7, 0x1234, -5, -(2n ** 71n)]);
    expect(list[4]).toBeCloseTo(Math.PI, 15);
    expect(list.slice(5, 10)).toEqual(['hi', Uint8Array.from([1, 2]), null, true, false]);
    expect(list[10]).toBe(list); // a cycle through the memo is fine: nothing walks it recursively
  });

  it.each([
    ['a string length past the end', [...P.proto, 0x58, 0xff, 0xff, 0xff, 0xff, ...P.stop], /runs past the end/],
    ['a BINUNICODE8 length of 2^63', [...P.proto, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80, ...P.stop], /runs past the end/],
    ['a 2 GB LONG4', [...P.proto, 0x8b, 0, 0, 0, 0x7f, ...P.stop], /over the 256-byte limit/],
    ['a memo entry never stored', [...P.proto, 0x6a, 0xff, 0xff, 0xff, 0xff, ...P.stop], /memo entry 4294967295 was never stored/],
    ['no STOP', [...P.proto, ...P.emptyDict], /without a STOP/],
    ['an empty pickle', [], /without a STOP/],
    ['a stack underflow', [...P.proto, 0x86, ...P.stop], /stack underflow/],
    ['SETITEMS on a list', [...P.proto, 0x5d, ...P.mark, ...P.int(1), ...P.int(2), ...P.setitems, ...P.stop], /SETITEM on a list/],
    ['APPENDS on a dict', [...P.proto, ...P.emptyDict, ...P.mark, ...P.int(1), 0x65, ...P.stop], /APPEND on a dict/],
    ['BUILD on a list', [...P.proto, 0x5d, ...P.emptyDict, 0x62, ...P.stop], /BUILD on a list/],
    ['an unhashable key', [...P.proto, ...P.emptyDict, 0x5d, ...P.int(1), ...P.setitem, ...P.stop], /unhashable list/],
    ['protocol 6', [0x80, 6, ...P.stop], /protocol 6/],
    ['EXT1', [...P.proto, 0x82, 1, ...P.stop], /opcode 0x82 is not supported/],
    ['invalid UTF-8', [...P.proto, 0x8c, 1, 0xff, ...P.stop], /not valid UTF-8/],
    ['SETITEMS with no MARK', [...P.proto, ...P.emptyDict, ...P.setitems, ...P.stop], /no MARK/],
  ])('refuses %s', async (_, ops, message) => {
    expect((await refusal(run(ops as number[]))).message).toMatch(message);
  });

  it('bounds deep nesting and object counts', async () => {
    // 200k nested tuples: built iteratively, returned without recursion.
    const nested = new Uint8Array(200_003);
    nested.set([0x80, 2, 0x4e]);
    nested.fill(0x85, 3);
    const deep = await run([...nested, ...P.stop]);
    expect(deep).toBeTruthy();
    // ...and the archive reader only looks two levels down.
    expect((await refusal(openPth(archive(Uint8Array.from([...nested, ...P.stop]))))).message).toMatch(/holds a tuple, not a dict/);

    // 300k MARKs, and memo abuse (one BINGET repeated), hit the push limit, not the heap.
    const limits = { ...DEFAULT_LIMITS, maxPushes: 100_000 };
    expect((await refusal(run(new Uint8Array(300_000).fill(0x28), limits))).message).toMatch(/more than 100000 values/);
    const memoAbuse = [...P.proto, 0x5d, 0x71, 0, ...new Array(200_000).fill([0x68, 0]).flat(), ...P.stop];
    expect((await refusal(run(memoAbuse, limits))).message).toMatch(/more than 100000 values/);
    const memoFlood = [...P.proto, 0x4e, ...Array.from({ length: 2000 }, (_, i) => [0x72, ...u32(i)]).flat(), ...P.stop];
    expect((await refusal(run(memoFlood, { ...DEFAULT_LIMITS, maxMemo: 1000 }))).message).toMatch(/more than 1000 memo entries/);
    // The default limit holds against an 8.4 MB pickle of EMPTY_LIST + APPEND pairs.
    const flood = new Uint8Array(2 + 1 + 2 * 4_200_000 + 1);
    flood.set([0x80, 2, 0x5d]);
    for (let i = 3; i < flood.length - 1; i += 2) flood.set([0x5d, 0x61], i);
    flood[flood.length - 1] = 0x2e;
    const started = performance.now();
    expect((await refusal(run(flood))).message).toMatch(/more than 4000000 values/);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('throws nothing but PthError on random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        try {
          await unpickle(Uint8Array.from([0x80, 2, ...bytes]), noStorage);
        } catch (error) {
          if (!(error instanceof PthError)) throw error;
        }
      }),
      { numRuns: 3000, seed: 8 },
    );
  });

  it('throws nothing but PthError on mutated torch pickles', async () => {
    const pkl = statePickle([
      { name: 'a', numel: 6, size: [2, 3], stride: [3, 1] },
      { name: 'b', numel: 6, offset: 1, size: [2, 2], stride: [1, 3] },
    ]);
    const hooks = torchHooks((key) => (key === '0' ? { name: 'archive/data/0', size: 24 } : undefined));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(pkl.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(pkl.length),
        async (edits, cut) => {
          const bytes = pkl.slice(0, Math.max(cut, pkl.length - 8));
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          try {
            await unpickle(bytes, hooks);
          } catch (error) {
            if (!(error instanceof PthError)) throw error;
          }
        },
      ),
      { numRuns: 3000, seed: 9 },
    );
  });
});

// Whole-archive fuzzing (mutated checkpoints, forged zip fields, hostile views): test/unit/fuzzPth.test.ts.
