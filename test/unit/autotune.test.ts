// The autotuner with a fake clock and fake timings: it must choose
// deterministically, respect its budget, survive failing variants, and cache
// per adapter and shape.
import { describe, expect, it } from 'vitest';
import { adapterKey, chooseVariants, indexedDbTuningStore, localStorageTuningStore, MemoryTuningStore, selectTuningStore, tune, tuningKey, type TuneOptions } from '../../src/kernels/autotune.ts';
import { ATTENTION_VARIANTS } from '../../src/kernels/attention.ts';
import { MATMUL_VARIANTS } from '../../src/kernels/matmul.ts';
import { BASELINE_VARIANTS, candidateVariants, DEFAULT_VARIANTS, TUNABLE_KERNELS, type TunableKernel } from '../../src/kernels/variants.ts';
import { relativeDeviation } from '../../src/engine/gpu/tuneKernels.ts';

const NO_FEATURES = { has: () => false };
const SHAPE = { tokens: 197, dim: 384, heads: 6, dimHead: 64 };

/** A fake GPU: fixed milliseconds per variant, and a clock that advances by exactly what was "run". */
function fakeTimer(ms: Record<string, number>, failing: string[] = []) {
  let clock = 0;
  const calls: string[] = [];
  const options: Pick<TuneOptions, 'time' | 'now' | 'features'> = {
    features: NO_FEATURES,
    now: () => clock,
    time: async (kernel: TunableKernel, variant: string) => {
      calls.push(`${kernel}/${variant}`);
      if (failing.includes(`${kernel}/${variant}`)) throw new Error('pipeline rejected');
      const t = ms[`${kernel}/${variant}`] ?? 100;
      clock += t;
      return t;
    },
  };
  return { options, calls };
}

describe('tune', () => {
  it('chooses the fastest variant of each kernel', async () => {
    const { options } = fakeTimer({ 'matmul/4x4': 40, 'matmul/4x8': 30, 'matmul/8x4': 12, 'matmul/8x8': 20, 'attention/pairs': 90, 'attention/blocked': 25, 'qkvNorm/fused': 7 });
    const result = await tune({ ...options, budgetMs: 10_000 });
    expect(result.variants).toEqual({ matmul: '8x4', attention: 'blocked', qkvNorm: 'fused' });
    expect(result.timings.matmul).toEqual({ ...Object.fromEntries(candidateVariants('matmul', NO_FEATURES).map((v) => [v, 100])), '4x4': 40, '4x8': 30, '8x4': 12, '8x8': 20 });
  });

  it('keeps the earlier candidate (the default first) on a tie, so equal timings choose the same every time', async () => {
    const { options } = fakeTimer({});
    const result = await tune({ ...options, budgetMs: 10_000 });
    expect(result.variants).toEqual(DEFAULT_VARIANTS);
  });

  it('gives each kernel an equal share of what is left, and says what the budget cut', async () => {
    const defaultMatmul = `matmul/${DEFAULT_VARIANTS.matmul}`;
    const defaultAttention = `attention/${DEFAULT_VARIANTS.attention}`;
    // Budget 900 ms, three kernels: matmul's share is 300 ms, which its default's first run (400 ms) overruns.
    const { options, calls } = fakeTimer({ [defaultMatmul]: 400, 'matmul/4x4': 10, [defaultAttention]: 200 });
    const result = await tune({ ...options, budgetMs: 900, repeats: 3 });
    expect(calls.filter((c) => c.startsWith('matmul/'))).toEqual([defaultMatmul]);
    // attention then has (900 − 400) / 2 = 250 ms: its default (200 ms) and one more candidate (100 ms), once each.
    expect(calls.filter((c) => c.startsWith('attention/'))).toEqual([defaultAttention, `attention/${candidateVariants('attention', NO_FEATURES).find((v) => v !== DEFAULT_VARIANTS.attention)}`]);
    // 700 ms are gone, qkvNorm has 200 ms: its default and the other variant once each (100 ms each).
    expect(calls.filter((c) => c.startsWith('qkvNorm/'))).toHaveLength(2);
    expect(result.variants.matmul).toBe(DEFAULT_VARIANTS.matmul);
    expect(result.note).toMatch(/^the 900 ms tuning budget was spent: /);
    expect(result.note).toContain(`matmul: 1 of ${candidateVariants('matmul', NO_FEATURES).length} variants timed`);
    expect(result.note).toContain('qkvNorm: fewer than 3 runs per variant');
  });

  it('keeps a kernel\'s default untimed when the budget is gone before its turn', async () => {
    const { options, calls } = fakeTimer({ [`matmul/${DEFAULT_VARIANTS.matmul}`]: 5000 });
    const result = await tune({ ...options, budgetMs: 1000 });
    expect(calls).toEqual([`matmul/${DEFAULT_VARIANTS.matmul}`]);
    expect(result.variants).toEqual(DEFAULT_VARIANTS);
    expect(result.timings.attention).toEqual({});
    expect(result.note).toContain(`attention kept its default (${DEFAULT_VARIANTS.attention}) untimed`);
    expect(result.note).toContain(`qkvNorm kept its default (${DEFAULT_VARIANTS.qkvNorm}) untimed`);
  });

  it('reports progress as a growing fraction of the budget', async () => {
    const { options } = fakeTimer({});
    const fractions: number[] = [];
    await tune({ ...options, budgetMs: 10_000, onProgress: (_note, fraction) => fractions.push(fraction ?? NaN) });
    expect(fractions.length).toBeGreaterThan(3);
    for (const f of fractions) expect(f).toBeGreaterThanOrEqual(0), expect(f).toBeLessThanOrEqual(1);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1] - 1e-12);
  });

  it('drops a variant whose timing fails and keeps the others in the race', async () => {
    const { options } = fakeTimer({ 'matmul/4x8': 1, 'attention/pairs': 1 }, ['matmul/4x8']);
    const result = await tune({ ...options, budgetMs: 10_000 });
    expect(result.variants).toEqual({ ...DEFAULT_VARIANTS, attention: 'pairs' });
    expect(result.timings.matmul).not.toHaveProperty('4x8');
  });

  it('only times variants whose required features the adapter has', async () => {
    const all = (Object.keys(TUNABLE_KERNELS) as TunableKernel[]).flatMap((kernel) => Object.keys(TUNABLE_KERNELS[kernel]).map((v) => `${kernel}/${v}`));
    const { options, calls } = fakeTimer({});
    await tune({ ...options, budgetMs: 10_000 });
    expect(new Set(calls)).toEqual(new Set(all.filter((v) => v !== 'matmul/8x8-f16' && v !== 'matmul/splitK-subgroup')));
    expect(calls).toContain('matmul/splitK');
    const withFeatures = fakeTimer({});
    await tune({ ...withFeatures.options, features: new Set(['shader-f16', 'subgroups']), budgetMs: 10_000 });
    expect(new Set(withFeatures.calls)).toEqual(new Set(all));
  });
});

describe('tune checks each candidate\'s output against the default\'s', () => {
  const FEATURES = new Set(['shader-f16', 'subgroups']);
  /** Every matmul candidate is fastest in turn; `deviations` says how far each strays from the default. */
  const checked = (deviations: Record<string, number | Error>) => {
    const { options } = fakeTimer({ 'matmul/8x8-f16': 1, 'matmul/splitK-subgroup': 2, 'matmul/splitK': 3 });
    const asked: string[] = [];
    const deviation = async (kernel: TunableKernel, variant: string) => {
      asked.push(`${kernel}/${variant}`);
      const value = deviations[`${kernel}/${variant}`] ?? 1e-7;
      if (value instanceof Error) throw value;
      return value;
    };
    return { options: { ...options, features: FEATURES, deviation, budgetMs: 10_000 }, asked };
  };

  it('records every candidate\'s deviation (the default is the reference, 0) and never asks it of the default', async () => {
    const { options, asked } = checked({ 'matmul/8x8-f16': 3e-3 });
    const result = await tune(options);
    expect(result.deviations?.matmul?.[DEFAULT_VARIANTS.matmul]).toBe(0);
    expect(result.deviations?.matmul?.['8x8-f16']).toBe(3e-3);
    expect(result.deviations?.matmul?.['4x4']).toBe(1e-7);
    expect(asked).not.toContain(`matmul/${DEFAULT_VARIANTS.matmul}`);
    // 3e-3 is within the f16 variant's declared tolerance, and it is the fastest.
    expect(MATMUL_VARIANTS['8x8-f16'].tolerance).toBeGreaterThan(3e-3);
    expect(result.variants.matmul).toBe('8x8-f16');
    expect(result.note).toBeUndefined();
  });

  it('drops a candidate beyond its tolerance, however fast, and says so', async () => {
    // 3e-3 would pass for f16 but not for an f32 variant (1e-4).
    const { options } = checked({ 'matmul/8x8-f16': 0.5, 'matmul/splitK-subgroup': 3e-3 });
    const result = await tune(options);
    expect(result.variants.matmul).toBe('splitK');
    expect(result.timings.matmul).not.toHaveProperty('8x8-f16');
    expect(result.timings.matmul).not.toHaveProperty('splitK-subgroup');
    expect(result.note).toContain("matmul 8x8-f16 dropped: its output deviates 5.0e-1 from 8x8's");
    expect(result.note).toContain('matmul splitK-subgroup dropped: its output deviates 3.0e-3');
  });

  it('drops a candidate whose output is NaN or cannot be read back', async () => {
    const { options } = checked({ 'matmul/8x8-f16': NaN, 'matmul/splitK-subgroup': new Error('device lost') });
    const result = await tune(options);
    expect(result.variants.matmul).toBe('splitK');
    expect(result.note).toMatch(/8x8-f16 dropped: its output deviates NaN/);
    expect(result.note).toContain('splitK-subgroup dropped: its output could not be checked (device lost)');
  });
});

describe('chooseVariants', () => {
  it('tunes once per adapter and shape, then reuses the cached choice', async () => {
    const store = new MemoryTuningStore();
    const key = tuningKey('vendor/arch/device', SHAPE);
    const first = fakeTimer({ 'matmul/4x4': 1, 'attention/pairs': 1, 'qkvNorm/fused': 1 });
    expect(await chooseVariants({ ...first.options, budgetMs: 10_000, store, key })).toMatchObject({ source: 'tuned', variants: BASELINE_VARIANTS });
    const second = fakeTimer({});
    expect(await chooseVariants({ ...second.options, budgetMs: 10_000, store, key })).toMatchObject({ source: 'cached', variants: BASELINE_VARIANTS });
    expect(second.calls).toEqual([]);
  });

  it('cacheOnly (the app\'s first image): a cached choice, else the default untimed and uncached', async () => {
    const store = new MemoryTuningStore();
    const key = tuningKey('vendor/arch/device', SHAPE);
    const cold = fakeTimer({});
    expect(await chooseVariants({ ...cold.options, budgetMs: 10_000, store, key, cacheOnly: true })).toMatchObject({ source: 'default', variants: DEFAULT_VARIANTS });
    expect(cold.calls).toEqual([]);
    expect(await store.get(key)).toBeUndefined();
    await chooseVariants({ ...fakeTimer({ 'matmul/4x4': 1, 'attention/pairs': 1, 'qkvNorm/fused': 1 }).options, budgetMs: 10_000, store, key });
    const warm = fakeTimer({});
    expect(await chooseVariants({ ...warm.options, budgetMs: 10_000, store, key, cacheOnly: true })).toMatchObject({ source: 'cached', variants: BASELINE_VARIANTS });
    expect(warm.calls).toEqual([]);
  });

  it('never reuses a choice across adapters: the key includes the adapter', async () => {
    const a = tuningKey(adapterKey({ vendor: 'google', architecture: 'swiftshader', device: 'subzero' }), SHAPE);
    const b = tuningKey(adapterKey({ vendor: 'nvidia', architecture: 'hopper', device: 'h200' }), SHAPE);
    expect(a).not.toBe(b);
    expect(a).toContain('swiftshader');
    const store = new MemoryTuningStore();
    await chooseVariants({ ...fakeTimer({ 'matmul/4x4': 1 }).options, budgetMs: 10_000, store, key: a });
    const other = fakeTimer({});
    const result = await chooseVariants({ ...other.options, budgetMs: 10_000, store, key: b });
    expect(result.source).toBe('tuned');
    expect(other.calls.length).toBeGreaterThan(0);
  });

  it('the key also changes with the shape', () => {
    expect(tuningKey('x', SHAPE)).not.toBe(tuningKey('x', { ...SHAPE, dim: 768, heads: 12 }));
  });

  it('retunes when forced, replacing the cached choice', async () => {
    const store = new MemoryTuningStore();
    const key = tuningKey('x', SHAPE);
    await chooseVariants({ ...fakeTimer({ 'matmul/4x4': 1 }).options, budgetMs: 10_000, store, key });
    const result = await chooseVariants({ ...fakeTimer({ 'matmul/8x4': 1 }).options, budgetMs: 10_000, store, key, force: true });
    expect(result.variants.matmul).toBe('8x4');
    expect(JSON.parse(store.get(key)!).matmul).toBe('8x4');
  });

  it('discards a cached entry naming an unknown variant, and tunes again', async () => {
    const store = new MemoryTuningStore();
    const key = tuningKey('x', SHAPE);
    store.set(key, JSON.stringify({ ...DEFAULT_VARIANTS, matmul: '16x16' }));
    const result = await chooseVariants({ ...fakeTimer({}).options, budgetMs: 10_000, store, key });
    expect(result.source).toBe('tuned');
    store.set(key, 'not json');
    expect((await chooseVariants({ ...fakeTimer({}).options, budgetMs: 10_000, store, key })).source).toBe('tuned');
  });

  it('falls back to the safe default when tuning itself fails', async () => {
    const store = new MemoryTuningStore();
    const result = await chooseVariants({
      features: NO_FEATURES,
      time: async () => 1,
      now: () => {
        throw new Error('clock broke');
      },
      budgetMs: 1000,
      store,
      key: 'k',
    });
    expect(result).toMatchObject({ source: 'fallback', variants: DEFAULT_VARIANTS, error: 'clock broke' });
    expect(store.get('k')).toBeUndefined();
  });

  it('falls back, and caches nothing, when no variant of a kernel can be timed', async () => {
    const store = new MemoryTuningStore();
    const failing = Object.keys(ATTENTION_VARIANTS).map((v) => `attention/${v}`);
    const result = await chooseVariants({ ...fakeTimer({}, failing).options, budgetMs: 10_000, store, key: 'k' });
    expect(result).toMatchObject({ source: 'fallback', variants: DEFAULT_VARIANTS });
    expect(result.error).toMatch(/no variant of attention could be timed/);
    expect(store.get('k')).toBeUndefined();
  });

  it('a localStorage that throws only loses the cache', async () => {
    const hostile = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
      removeItem: () => {
        throw new Error('denied');
      },
    };
    const result = await chooseVariants({ ...fakeTimer({}).options, budgetMs: 10_000, store: localStorageTuningStore(hostile), key: 'k' });
    expect(result.source).toBe('tuned');
  });
});

describe('tune on a noisy machine', () => {
  it('keeps the fastest of the repeats, since contention only adds time', async () => {
    // 4x4 is the faster variant but two of its runs were slowed down by other work (a median would choose 8x8).
    const sequences: Record<string, number[]> = { 'matmul/4x4': [10, 90, 95], 'matmul/8x8': [30, 31, 32] };
    let clock = 0;
    const result = await tune({
      features: { has: () => false },
      now: () => clock,
      budgetMs: 10_000,
      time: async (kernel, variant) => {
        const t = sequences[`${kernel}/${variant}`]?.shift() ?? 100;
        clock += t;
        return t;
      },
    });
    expect(result.timings.matmul?.['4x4']).toBe(10);
    expect(result.variants.matmul).toBe('4x4');
  });
});

describe('candidateVariants', () => {
  it('offers a variant only where the adapter has every feature it requires (f16, subgroups)', () => {
    const plain = TUNABLE_KERNELS.matmul['8x8'];
    const registry = {
      ...TUNABLE_KERNELS,
      matmul: { plain, f16: { ...plain, requires: ['shader-f16'] }, both: { ...plain, requires: ['shader-f16', 'subgroups'] } },
    };
    const has = (...names: string[]) => ({ has: (name: string) => names.includes(name) });
    expect(candidateVariants('matmul', has(), registry)).toEqual(['plain']);
    expect(candidateVariants('matmul', has('subgroups'), registry)).toEqual(['plain']);
    expect(candidateVariants('matmul', has('shader-f16'), registry)).toEqual(['plain', 'f16']);
    expect(candidateVariants('matmul', has('shader-f16', 'subgroups'), registry)).toEqual(['plain', 'f16', 'both']);
  });
});

/**
 * Just enough of IndexedDB for the store: open (with an upgrade the first
 * time), one object store, get/put/delete in transactions that complete on a
 * later task, as the real ones do. `failOpen` makes open report an error.
 */
function fakeIndexedDb(failOpen = false) {
  const databases = new Map<string, Map<string, Map<unknown, unknown>>>();
  const later = (f: () => void) => setTimeout(f, 0);
  const opened: string[] = [];
  const factory = {
    open(name: string) {
      opened.push(name);
      const request: Record<string, unknown> & { result?: unknown } = {};
      later(() => {
        if (failOpen) return (request.onerror as () => void)?.();
        const isNew = !databases.has(name);
        const stores = databases.get(name) ?? new Map<string, Map<unknown, unknown>>();
        databases.set(name, stores);
        request.result = {
          objectStoreNames: { contains: (store: string) => stores.has(store) },
          createObjectStore: (store: string) => stores.set(store, new Map()),
          transaction: (store: string) => {
            const map = stores.get(store);
            if (!map) throw new Error(`NotFoundError: ${store}`);
            const transaction: Record<string, unknown> = {};
            const finish = () => later(() => (transaction.oncomplete as () => void)?.());
            transaction.objectStore = () => ({
              get: (key: unknown) => (finish(), { result: map.get(key) }),
              put: (value: unknown, key: unknown) => (map.set(key, value), finish(), {}),
              delete: (key: unknown) => (map.delete(key), finish(), {}),
            });
            return transaction;
          },
        };
        if (isNew) (request.onupgradeneeded as () => void)?.();
        (request.onsuccess as () => void)?.();
      });
      return request;
    },
  };
  return { factory: factory as unknown as Pick<IDBFactory, 'open'>, databases, opened };
}

describe('tuning stores', () => {
  const storage = () => {
    const map = new Map<string, string>();
    return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k), map };
  };

  it('prefers IndexedDB, which a module worker has, then localStorage, then memory', () => {
    expect(selectTuningStore({ indexedDB: fakeIndexedDb().factory, localStorage: storage() }).kind).toBe('indexedDB');
    // A dedicated worker: IndexedDB and no localStorage.
    expect(selectTuningStore({ indexedDB: fakeIndexedDb().factory }).kind).toBe('indexedDB');
    expect(selectTuningStore({ localStorage: storage() }).kind).toBe('localStorage');
    expect(selectTuningStore({}).kind).toBe('memory');
    // Opaque origins throw on reading the properties themselves.
    const hostile = Object.defineProperties({}, {
      indexedDB: { get: () => { throw new Error('SecurityError'); } },
      localStorage: { get: () => { throw new Error('SecurityError'); } },
    });
    expect(selectTuningStore(hostile).kind).toBe('memory');
  });

  it('the IndexedDB store caches a tuned choice under the adapter-and-shape key', async () => {
    const idb = fakeIndexedDb();
    const store = indexedDbTuningStore(idb.factory);
    const key = tuningKey(adapterKey({ vendor: 'google', architecture: 'swiftshader' }), SHAPE);
    const first = await chooseVariants({ ...fakeTimer({ 'matmul/4x4': 1 }).options, budgetMs: 10_000, store, key });
    expect(first.source).toBe('tuned');
    const stored = [...idb.databases.values()].flatMap((stores) => [...stores.values()].flatMap((m) => [...m.entries()]));
    expect(stored).toEqual([[key, JSON.stringify(first.variants)]]);
    expect(key).toContain('swiftshader');
    expect(key).toContain('N=197');
    const second = fakeTimer({});
    expect(await chooseVariants({ ...second.options, budgetMs: 10_000, store, key })).toMatchObject({ source: 'cached', variants: first.variants });
    expect(second.calls).toEqual([]);
    // Another adapter with the same shape is tuned afresh.
    const other = fakeTimer({});
    const otherKey = tuningKey(adapterKey({ vendor: 'nvidia', architecture: 'hopper' }), SHAPE);
    expect((await chooseVariants({ ...other.options, budgetMs: 10_000, store, key: otherKey })).source).toBe('tuned');
    expect(idb.opened).toHaveLength(1); // one connection for the store's life
    await store.delete(key);
    expect(await store.get(key)).toBeUndefined();
  });

  it('an IndexedDB that refuses to open only loses the cache', async () => {
    const store = indexedDbTuningStore(fakeIndexedDb(true).factory);
    const first = await chooseVariants({ ...fakeTimer({}).options, budgetMs: 10_000, store, key: 'k' });
    expect(first.source).toBe('tuned');
    expect(await store.get('k')).toBeUndefined();
    expect((await chooseVariants({ ...fakeTimer({}).options, budgetMs: 10_000, store, key: 'k' })).source).toBe('tuned');
  });

  it('a store whose writes throw keeps the tuned choice', async () => {
    const store = { get: () => undefined, set: () => Promise.reject(new Error('quota')), delete: () => undefined };
    expect((await chooseVariants({ ...fakeTimer({ 'matmul/4x4': 1 }).options, budgetMs: 10_000, store, key: 'k' })).variants.matmul).toBe('4x4');
  });
});

describe('relativeDeviation (the tuner\'s output check)', () => {
  it('is max |Δ| over max |reference|, across every output, and NaN where an output is', () => {
    const reference = [Float32Array.of(1, -4), Float32Array.of(2)];
    expect(relativeDeviation([Float32Array.of(1, -4), Float32Array.of(2)], reference)).toBe(0);
    expect(relativeDeviation([Float32Array.of(1, -4), Float32Array.of(2.4)], reference)).toBeCloseTo(0.1, 6);
    expect(relativeDeviation([Float32Array.of(NaN, -4), Float32Array.of(2)], reference)).toBeNaN();
  });
});
