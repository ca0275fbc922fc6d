/**
 * Autotuning: on the first run of a model shape on an adapter, time each
 * kernel's candidate variants within a budget and keep the fastest; the
 * choice is cached under the adapter's identity and the shape, so it is never
 * reused on another adapter. Pure logic: the clock, the timing of one
 * variant and the store are passed in (src/engine/gpu/tuneKernels.ts times
 * on the GPU; the tests pass a fake timer).
 */
import { candidateVariants, DEFAULT_VARIANTS, parseVariants, TUNABLE_KERNELS, type KernelVariants, type TunableKernel } from './variants.ts';

export interface TuningStore {
  get(key: string): string | null | undefined;
  set(key: string, value: string): void;
  delete(key: string): void;
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
  /** Why tuning fell back to the default, when it did. */
  error?: string;
}

export interface TuneOptions {
  features: { has(name: string): boolean };
  /** Milliseconds of one run of `variant` of `kernel` (after its warm-up); may throw. */
  time(kernel: TunableKernel, variant: string): Promise<number>;
  /** The clock the budget is measured with. */
  now(): number;
  budgetMs: number;
  /**
   * Timed runs per candidate while the budget lasts (at least one). The
   * fastest is kept: on a shared machine other work only ever adds time, so
   * the minimum is the steadiest estimate of what the variant costs.
   */
  repeats?: number;
  onProgress?: (note: string) => void;
}

/**
 * Times every candidate, the default first so a kernel always has a measured
 * choice, and stops starting new measurements when the budget is spent (the
 * default of each kernel is still timed once, so a slow adapter overruns the
 * budget by one run per kernel). A
 * variant whose timing throws is dropped; ties keep the earlier candidate.
 */
export async function tune(options: TuneOptions): Promise<TuningResult> {
  const start = options.now();
  const repeats = options.repeats ?? 3;
  const variants = { ...DEFAULT_VARIANTS };
  const timings: TuningResult['timings'] = {};
  const kernels = Object.keys(TUNABLE_KERNELS) as TunableKernel[];
  for (const kernel of kernels) {
    const defaultName = DEFAULT_VARIANTS[kernel];
    const names = candidateVariants(kernel, options.features);
    const ordered = [defaultName, ...names.filter((n) => n !== defaultName)];
    const measured: Record<string, number> = {};
    for (const name of ordered) {
      if (name !== defaultName && options.now() - start > options.budgetMs) break;
      options.onProgress?.(`tuning ${kernel}: timing ${name}`);
      try {
        // At least one timed run; more (up to `repeats`) while the budget lasts.
        const runs: number[] = [await options.time(kernel, name)];
        while (runs.length < repeats && options.now() - start <= options.budgetMs) runs.push(await options.time(kernel, name));
        measured[name] = Math.min(...runs);
      } catch {
        // A variant that fails here is never chosen; the others still compete.
      }
    }
    timings[kernel] = measured;
    let best: string | undefined;
    for (const name of ordered) if (name in measured && (best === undefined || measured[name] < measured[best])) best = name;
    // Nothing measured is a failed tuning, not a choice: it must not be cached.
    if (best === undefined) throw new Error(`no variant of ${kernel} could be timed on this adapter`);
    (variants as Record<TunableKernel, string>)[kernel] = best;
  }
  return { variants, source: 'tuned', timings };
}

export interface ChooseOptions extends TuneOptions {
  store: TuningStore;
  key: string;
  /** Ignore (and replace) a cached choice: the "retune" control. */
  force?: boolean;
}

/** The cached choice for this adapter and shape, else a fresh tuning (then cached); the default when tuning fails. */
export async function chooseVariants(options: ChooseOptions): Promise<TuningResult> {
  if (!options.force) {
    const raw = options.store.get(options.key);
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
      options.store.delete(options.key); // unreadable, or names a variant this build or adapter lacks
    }
  }
  try {
    const result = await tune(options);
    options.store.set(options.key, JSON.stringify(result.variants));
    return result;
  } catch (error) {
    return { variants: { ...DEFAULT_VARIANTS }, source: 'fallback', timings: {}, error: (error as Error)?.message ?? String(error) };
  }
}
