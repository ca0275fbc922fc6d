/**
 * Autotuning: on the first run of a model shape on an adapter, time each
 * kernel's candidate variants within a budget and keep the fastest; the
 * choice is cached under the adapter's identity and the shape, so it is never
 * reused on another adapter. Pure logic: the clock, the timing of one
 * variant and the store are passed in (src/engine/gpu/tuneKernels.ts times
 * on the GPU; the tests pass a fake timer).
 */
import { F32_TOLERANCE } from './declaration.ts';
import { candidateVariants, DEFAULT_VARIANTS, parseVariants, TUNABLE_KERNELS, type KernelVariants, type TunableKernel } from './variants.ts';

/** Synchronous (memory, localStorage) or asynchronous (IndexedDB): `chooseVariants` awaits either. */
export interface TuningStore {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}

/** Node's store: a map for the life of the process. */
export class MemoryTuningStore implements TuningStore {
  private readonly map = new Map<string, string>();
  get(key: string) {
    return this.map.get(key);
  }
  set(key: string, value: string) {
    this.map.set(key, value);
  }
  delete(key: string) {
    this.map.delete(key);
  }
}

const STORAGE_PREFIX = 'crate-explorer:kernel-variants:';

/** The browser's store: localStorage, which may throw (quota, privacy modes); a failing store only loses the cache. */
export function localStorageTuningStore(storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>): TuningStore {
  const safely = <T>(task: () => T, fallback: T): T => {
    try {
      return task();
    } catch {
      return fallback;
    }
  };
  return {
    get: (key) => safely(() => storage.getItem(STORAGE_PREFIX + key), null),
    set: (key, value) => safely(() => storage.setItem(STORAGE_PREFIX + key, value), undefined),
    delete: (key) => safely(() => storage.removeItem(STORAGE_PREFIX + key), undefined),
  };
}

const IDB_NAME = 'crate-explorer';
const IDB_STORE = 'kernel-variants';

/**
 * The store where the engine runs in a worker, which has IndexedDB but no
 * localStorage. Written against the bare IDB API (a dozen lines, no
 * dependency). Every failure (blocked open, quota, a private mode that
 * refuses IndexedDB) reads as "nothing cached" and a lost write: the cache
 * is an optimisation, never a reason for a run to fail.
 */
export function indexedDbTuningStore(factory: Pick<IDBFactory, 'open'>): TuningStore {
  let database: Promise<IDBDatabase | undefined> | undefined;
  const open = () =>
    (database ??= new Promise<IDBDatabase | undefined>((resolve) => {
      try {
        const request = factory.open(IDB_NAME, 1);
        request.onupgradeneeded = () => {
          if (!request.result.objectStoreNames.contains(IDB_STORE)) request.result.createObjectStore(IDB_STORE);
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => resolve(undefined);
        request.onblocked = () => resolve(undefined);
      } catch {
        resolve(undefined);
      }
    }));
  const transact = async <T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest | undefined, fallback: T): Promise<T> => {
    const db = await open();
    if (!db) return fallback;
    return new Promise<T>((resolve) => {
      try {
        const transaction = db.transaction(IDB_STORE, mode);
        const request = act(transaction.objectStore(IDB_STORE));
        transaction.oncomplete = () => resolve(mode === 'readonly' && request ? ((request.result as T | undefined) ?? fallback) : fallback);
        transaction.onerror = () => resolve(fallback);
        transaction.onabort = () => resolve(fallback);
      } catch {
        resolve(fallback);
      }
    });
  };
  return {
    get: async (key) => {
      const value = await transact<unknown>('readonly', (store) => store.get(key), undefined);
      return typeof value === 'string' ? value : undefined;
    },
    set: (key, value) => transact<void>('readwrite', (store) => store.put(value, key), undefined),
    delete: (key) => transact<void>('readwrite', (store) => store.delete(key), undefined),
  };
}

export type TuningStoreKind = 'indexedDB' | 'localStorage' | 'memory';

/** What a global scope (a page, a module worker, Node) offers to keep the cache in. */
export interface TuningStoreScope {
  indexedDB?: Pick<IDBFactory, 'open'>;
  localStorage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
}

const sharedMemoryStore = new MemoryTuningStore();
let sharedScopeStore: { scope: TuningStoreScope; selected: { kind: TuningStoreKind; store: TuningStore } } | undefined;

/**
 * IndexedDB where the scope has it (pages and module workers alike), else
 * localStorage, else a map for the life of the process (Node). Reading
 * `localStorage` itself can throw (opaque origins), hence the guard.
 */
export function selectTuningStore(scope: TuningStoreScope = globalThis as TuningStoreScope): { kind: TuningStoreKind; store: TuningStore } {
  if (sharedScopeStore?.scope === scope) return sharedScopeStore.selected;
  const selected = pickTuningStore(scope);
  if (scope === (globalThis as TuningStoreScope)) sharedScopeStore = { scope, selected };
  return selected;
}

function pickTuningStore(scope: TuningStoreScope): { kind: TuningStoreKind; store: TuningStore } {
  let idb: TuningStoreScope['indexedDB'];
  try {
    idb = scope.indexedDB;
  } catch {
    idb = undefined;
  }
  if (idb && typeof idb.open === 'function') return { kind: 'indexedDB', store: indexedDbTuningStore(idb) };
  let storage: TuningStoreScope['localStorage'];
  try {
    storage = scope.localStorage;
  } catch {
    storage = undefined;
  }
  if (storage) return { kind: 'localStorage', store: localStorageTuningStore(storage) };
  return { kind: 'memory', store: sharedMemoryStore };
}

export interface AdapterIdentity {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

export function adapterKey(info: AdapterIdentity | undefined): string {
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean);
  return parts.length ? parts.join('/') : 'unknown adapter';
}

export interface TuningShape {
  tokens: number;
  dim: number;
  heads: number;
  dimHead: number;
}

export function tuningKey(adapter: string, shape: TuningShape): string {
  return `${adapter}|N=${shape.tokens},d=${shape.dim},heads=${shape.heads},dh=${shape.dimHead}`;
}

/** Where the variants in use came from. */
export type TuningSource = 'default' | 'given' | 'cached' | 'tuned' | 'fallback';

export interface TuningResult {
  variants: KernelVariants;
  source: TuningSource;
  /** Milliseconds per candidate timed, by kernel; empty unless tuned. */
  timings: Partial<Record<TunableKernel, Record<string, number>>>;
  /**
   * Relative deviation of each checked candidate's output from the default
   * variant's on the same operands (max |Δ| ÷ max |default|), by kernel; the
   * default itself is 0. Empty unless tuned with a `deviation` check.
   */
  deviations?: Partial<Record<TunableKernel, Record<string, number>>>;
  /** Why tuning fell back to the default, when it did. */
  error?: string;
  /** What the budget cut short (candidates or repeats not timed), when it did: shown next to the choice. */
  note?: string;
}

export interface TuneOptions {
  features: { has(name: string): boolean };
  /** Milliseconds of one run of `variant` of `kernel` (after its warm-up); may throw. */
  time(kernel: TunableKernel, variant: string): Promise<number>;
  /**
   * Relative deviation of `variant`'s output from the default variant's on the
   * same operands; asked once per candidate other than the default, after its
   * first timing. A candidate beyond its declared tolerance (KernelVariant.tolerance,
   * else F32_TOLERANCE), or whose check throws, is never chosen: it guards
   * against a variant that is wrong on this adapter (an f16 overflow, a subgroup
   * layout WGSL does not promise).
   */
  deviation?(kernel: TunableKernel, variant: string): Promise<number>;
  /** The clock the budget is measured with. */
  now(): number;
  budgetMs: number;
  /**
   * Timed runs per candidate while the budget lasts (at least one). The
   * fastest is kept: on a shared machine other work only ever adds time, so
   * the minimum is the steadiest estimate of what the variant costs.
   */
  repeats?: number;
  /** `fraction` is the share of the budget used so far, 0–1. */
  onProgress?: (note: string, fraction?: number) => void;
}

/**
 * Times the candidates of each kernel within an equal share of what is left
 * of the budget, so that a slow first kernel cannot starve the others: first
 * every candidate once (the default first, so a kernel always has a measured
 * choice), then further repeats round-robin while its share lasts. A kernel
 * whose share is already spent keeps its default untimed, and `note` says
 * which candidates and repeats the budget cut. On an adapter where one run
 * exceeds the whole budget (SwiftShader at CRATE-T size) the overrun is one
 * measurement. A variant whose timing throws, or whose output deviates from
 * the default's beyond its tolerance, is dropped (and the note says so); ties
 * keep the earlier candidate; a kernel none of whose timed candidates ran is
 * a failure.
 */
export async function tune(options: TuneOptions): Promise<TuningResult> {
  const start = options.now();
  const elapsed = () => options.now() - start;
  const repeats = Math.max(1, options.repeats ?? 3);
  const variants = { ...DEFAULT_VARIANTS };
  const timings: TuningResult['timings'] = {};
  const deviations: NonNullable<TuningResult['deviations']> = {};
  const cuts: string[] = [];
  const dropped: string[] = [];
  const kernels = Object.keys(TUNABLE_KERNELS) as TunableKernel[];
  for (const [index, kernel] of kernels.entries()) {
    const defaultName = DEFAULT_VARIANTS[kernel];
    const names = candidateVariants(kernel, options.features);
    const ordered = [defaultName, ...names.filter((n) => n !== defaultName)];
    const kernelStart = elapsed();
    const share = (options.budgetMs - kernelStart) / (kernels.length - index);
    const withinShare = () => elapsed() - kernelStart < share;
    const progress = (note: string) => options.onProgress?.(note, Math.min(1, (index + Math.min(1, Math.max(0, (elapsed() - kernelStart) / Math.max(share, 1e-9)))) / kernels.length));
    if (share <= 0) {
      timings[kernel] = {};
      cuts.push(`${kernel} kept its default (${defaultName}) untimed`);
      continue;
    }
    const runs = new Map<string, number[]>();
    let attempted = 0;
    const timeOnce = async (name: string): Promise<number | undefined> => {
      progress(`tuning ${kernel}: timing ${name}`);
      try {
        return await options.time(kernel, name);
      } catch {
        runs.delete(name); // a variant that fails here is never chosen; the others still compete
        return undefined;
      }
    };
    const checked: Record<string, number> = {};
    /** Whether the variant's output agrees with the default's; the default is the reference. */
    const agrees = async (name: string): Promise<boolean> => {
      if (!options.deviation) return true;
      if (name === defaultName) {
        checked[name] = 0;
        return true;
      }
      const tolerance = TUNABLE_KERNELS[kernel][name]?.tolerance ?? F32_TOLERANCE;
      let deviation: number;
      try {
        deviation = await options.deviation(kernel, name);
      } catch (error) {
        dropped.push(`${kernel} ${name} dropped: its output could not be checked (${(error as Error)?.message ?? String(error)})`);
        return false;
      }
      checked[name] = deviation;
      // NaN compares false, so a NaN output is dropped too.
      if (deviation <= tolerance) return true;
      dropped.push(`${kernel} ${name} dropped: its output deviates ${deviation.toExponential(1)} from ${defaultName}'s (tolerance ${tolerance.toExponential(0)})`);
      return false;
    };
    for (const name of ordered) {
      if (attempted > 0 && !withinShare()) break;
      attempted++;
      const ms = await timeOnce(name);
      if (ms !== undefined && (await agrees(name))) runs.set(name, [ms]);
    }
    let fullRepeats = true;
    repeat: for (let round = 1; round < repeats; round++) {
      for (const name of [...runs.keys()]) {
        if (!withinShare()) {
          fullRepeats = false;
          break repeat;
        }
        const ms = await timeOnce(name);
        if (ms !== undefined) runs.get(name)?.push(ms);
      }
    }
    const measured: Record<string, number> = {};
    for (const [name, list] of runs) measured[name] = Math.min(...list);
    timings[kernel] = measured;
    if (options.deviation) deviations[kernel] = checked;
    let best: string | undefined;
    for (const name of ordered) if (name in measured && (best === undefined || measured[name] < measured[best])) best = name;
    // Nothing measured is a failed tuning, not a choice: it must not be cached.
    if (best === undefined) throw new Error(`no variant of ${kernel} could be timed on this adapter`);
    (variants as Record<TunableKernel, string>)[kernel] = best;
    if (attempted < ordered.length) cuts.push(`${kernel}: ${attempted} of ${ordered.length} variants timed`);
    else if (!fullRepeats && repeats > 1) cuts.push(`${kernel}: fewer than ${repeats} runs per variant`);
  }
  const notes = [...(cuts.length ? [`the ${Math.round(options.budgetMs)} ms tuning budget was spent: ${cuts.join('; ')}`] : []), ...dropped];
  const note = notes.length ? notes.join('; ') : undefined;
  return { variants, source: 'tuned', timings, ...(options.deviation ? { deviations } : {}), ...(note ? { note } : {}) };
}

export interface ChooseOptions extends TuneOptions {
  store: TuningStore;
  key: string;
  /** Ignore (and replace) a cached choice: the "retune" control. */
  force?: boolean;
  /** A cached choice or else the default, untimed and not cached: the app's first image, which waits for no timing. */
  cacheOnly?: boolean;
}

/** The cached choice for this adapter and shape, else a fresh tuning (then cached); the default when tuning fails. */
export async function chooseVariants(options: ChooseOptions): Promise<TuningResult> {
  if (!options.force) {
    const raw = await Promise.resolve()
      .then(() => options.store.get(options.key))
      .catch(() => undefined); // an unreadable store is an empty cache
    if (raw) {
      let parsed: KernelVariants | undefined;
      try {
        parsed = parseVariants(JSON.parse(raw));
      } catch {
        parsed = undefined;
      }
      if (parsed && (Object.keys(parsed) as TunableKernel[]).every((k) => candidateVariants(k, options.features).includes(parsed[k]))) {
        return { variants: parsed, source: 'cached', timings: {} };
      }
      await Promise.resolve()
        .then(() => options.store.delete(options.key))
        .catch(() => undefined); // unreadable, or names a variant this build or adapter lacks
    }
  }
  if (options.cacheOnly) return { variants: { ...DEFAULT_VARIANTS }, source: 'default', timings: {} };
  let result: TuningResult;
  try {
    result = await tune(options);
  } catch (error) {
    return { variants: { ...DEFAULT_VARIANTS }, source: 'fallback', timings: {}, error: (error as Error)?.message ?? String(error) };
  }
  try {
    await options.store.set(options.key, JSON.stringify(result.variants));
  } catch {
    // A store that refuses the write only loses the cache; the choice stands.
  }
  return result;
}
