/**
 * Shared machinery of the parser fuzz tests (test/unit/fuzz*.test.ts):
 * the seed and the number of cases (scaled by `npm run fuzz`), byte-level
 * mutations of valid files, and a harness that runs one parser call and
 * checks the three properties every parser must keep on hostile input:
 *   1. it returns, or throws one of its own typed errors (nothing else);
 *   2. it uses under a second of CPU time (and does not hang);
 *   3. it never asks for a typed array or ArrayBuffer much larger than the
 *      file it was given (a length field cannot make it allocate gigabytes).
 * Heap growth over a whole property run is checked separately (`heapGrowth`).
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';

/** Fixed by default so every run tries the same cases; CRATE_FUZZ_SEED picks another. */
export const FUZZ_SEED = Number(process.env.CRATE_FUZZ_SEED ?? 0x5eed_c4a7);

/** Cases per parser: 2,000 in `npm test`, CRATE_FUZZ_RUNS (100,000 under `npm run fuzz`) otherwise. */
export const CASES_PER_PARSER = Math.max(1, Number(process.env.CRATE_FUZZ_RUNS ?? 2000));

/** A share of a parser's cases for one generator (the shares of a parser sum to 1). */
export function runsFor(share: number): number {
  return Math.max(1, Math.round(CASES_PER_PARSER * share));
}

/**
 * Most CPU time one case may use. CPU time (process.cpuUsage), not wall time:
 * on a machine shared with other work a 90 ms case can take 30 s of wall time
 * (measured here), and the property is about the work a file can cause.
 */
export const CASE_LIMIT_MS = 1000;
/** Wall time after which a case counts as hung, whatever the load. */
export const CASE_HANG_MS = 120_000;

/**
 * fc.assert parameters: seeded, and no shrinking (a failure can be a case that
 * takes seconds; shrinking would rerun it hundreds of times). The failure
 * still names the seed and the path that reproduce it.
 */
export function fuzzParams<T>(numRuns: number, seedOffset: number): fc.Parameters<T> {
  return { numRuns, seed: FUZZ_SEED + seedOffset, endOnFailure: true };
}

/** Wraps fc.assert so the failure names the seed and how to reproduce it. */
export async function fuzz<T>(property: fc.IAsyncPropertyWithHooks<T> | fc.IPropertyWithHooks<T>, numRuns: number, seedOffset: number): Promise<void> {
  const params = fuzzParams<T>(numRuns, seedOffset);
  try {
    await fc.assert(property as fc.IAsyncProperty<T>, params);
  } catch (error) {
    const message = `fuzz failure (seed ${params.seed}; rerun with CRATE_FUZZ_SEED=${FUZZ_SEED}): ${(error as Error).message}`;
    throw new Error(message, { cause: error });
  }
}

// ---------------------------------------------------------------- mutations

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'zero'; at: number; length: number }
  | { kind: 'huge'; at: number; width: 2 | 4 | 8; value: bigint }
  | { kind: 'varint'; at: number; value: bigint }
  | { kind: 'duplicate'; at: number; length: number; to: number };

/** Values a corrupted length or count field tends to hold. */
export const HUGE_VALUES: bigint[] = [
  0n, 1n, 0x7fn, 0xffn, 0x7fffn, 0xffffn, 0x7fff_ffffn, 0x8000_0000n, 0xffff_fffen, 0xffff_ffffn, 0x1_0000_0000n,
  2n ** 31n - 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
];

/** Offsets are fractions of the file length, so one generator serves files of every size. */
const where = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

export const mutationArb: fc.Arbitrary<(length: number) => Mutation> = fc.oneof(
  fc.tuple(where, fc.integer({ min: 0, max: 7 })).map(([w, bit]) => (n: number): Mutation => ({ kind: 'flip', at: Math.floor(w * n), bit })),
  fc.tuple(where, fc.integer({ min: 0, max: 255 })).map(([w, value]) => (n: number): Mutation => ({ kind: 'set', at: Math.floor(w * n), value })),
  where.map((w) => (n: number): Mutation => ({ kind: 'truncate', at: Math.floor(w * n) })),
  fc.tuple(where, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([w, bytes]) => (n: number): Mutation => ({ kind: 'insert', at: Math.floor(w * (n + 1)), bytes })),
  fc.tuple(where, fc.integer({ min: 1, max: 64 })).map(([w, length]) => (n: number): Mutation => ({ kind: 'delete', at: Math.floor(w * n), length })),
  fc.tuple(where, fc.integer({ min: 1, max: 4096 })).map(([w, length]) => (n: number): Mutation => ({ kind: 'zero', at: Math.floor(w * n), length })),
  fc.tuple(where, fc.constantFrom<2 | 4 | 8>(2, 4, 8), fc.constantFrom(...HUGE_VALUES)).map(([w, width, value]) => (n: number): Mutation => ({ kind: 'huge', at: Math.floor(w * n), width, value })),
  fc.tuple(where, fc.constantFrom(...HUGE_VALUES)).map(([w, value]) => (n: number): Mutation => ({ kind: 'varint', at: Math.floor(w * n), value })),
  fc.tuple(where, fc.integer({ min: 1, max: 256 }), where).map(([w, length, t]) => (n: number): Mutation => ({ kind: 'duplicate', at: Math.floor(w * n), length, to: Math.floor(t * n) })),
);

/** One to `max` mutations, resolved against the file as it is when each applies. */
export const mutationsArb = (max = 4) => fc.array(mutationArb, { minLength: 1, maxLength: max });

function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? byte | 0x80 : byte);
  } while (v);
  return out;
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  at = Math.min(at, bytes.length);
  remove = Math.min(remove, bytes.length - at);
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

export function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (bytes.length === 0 && m.kind !== 'insert') return bytes;
  switch (m.kind) {
    case 'flip':
      bytes[m.at] ^= 1 << m.bit;
      return bytes;
    case 'set':
      bytes[m.at] = m.value;
      return bytes;
    case 'truncate':
      return bytes.slice(0, m.at);
    case 'insert':
      return splice(bytes, m.at, 0, m.bytes);
    case 'delete':
      return splice(bytes, m.at, m.length, []);
    case 'zero':
      bytes.fill(0, m.at, Math.min(bytes.length, m.at + m.length));
      return bytes;
    case 'huge': {
      const le: number[] = [];
      for (let i = 0; i < m.width; i++) le.push(Number((m.value >> BigInt(8 * i)) & 0xffn));
      for (let i = 0; i < m.width && m.at + i < bytes.length; i++) bytes[m.at + i] = le[i];
      return bytes;
    }
    case 'varint': {
      // Replace the varint starting at `at` (if one does) with a varint of the huge value.
      let end = m.at;
      while (end < bytes.length && end - m.at < 10 && bytes[end] & 0x80) end++;
      return splice(bytes, m.at, end - m.at + 1, varint(m.value));
    }
    case 'duplicate':
      return splice(bytes, m.to, 0, bytes.slice(m.at, m.at + m.length));
  }
}

/** A mutated copy of `original` (the original is never changed). */
export function mutate(original: Uint8Array, mutations: ((length: number) => Mutation)[]): Uint8Array {
  let bytes: Uint8Array = original.slice();
  for (const make of mutations) bytes = applyMutation(bytes, make(Math.max(bytes.length, 1)));
  return bytes;
}

// ---------------------------------------------------------------- allocation guard

const GUARDED = ['ArrayBuffer', 'SharedArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Uint8ClampedArray'] as const;

let guardActive = false;
let largestRequest = 0;
let installed = false;

/**
 * Replaces the typed-array and ArrayBuffer constructors with proxies that
 * record the largest length requested while a guarded call runs. Modules
 * look these globals up at call time, so the parsers' `new Float32Array(n)`
 * goes through the proxy; nothing else about the constructors changes.
 */
function installGuard(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of GUARDED) {
    const original = g[name] as (new (...args: unknown[]) => unknown) & { BYTES_PER_ELEMENT?: number };
    if (typeof original !== 'function') continue;
    const bytesPer = original.BYTES_PER_ELEMENT ?? 1;
    g[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        if (guardActive && typeof args[0] === 'number') largestRequest = Math.max(largestRequest, args[0] * bytesPer);
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
}

export interface CaseResult {
  outcome: 'accepted' | 'refused';
  error?: Error;
  /** Wall time. */
  ms: number;
  /** CPU time of the process while the case ran. */
  cpuMs: number;
  /** Largest single typed-array/ArrayBuffer request, in bytes. */
  largestAllocation: number;
}

export interface CaseRules {
  /** The error types this parser may throw. */
  allowed: (error: unknown) => boolean;
  /** Largest allocation allowed for this input, in bytes. */
  allocationLimit: number;
  /** Used in failure messages. */
  describe: string;
}

/**
 * Runs one parser call under the guard and checks the properties; throws
 * (so fast-check records a counterexample) on any violation.
 */
export async function runCase(call: () => unknown, rules: CaseRules): Promise<CaseResult> {
  installGuard();
  largestRequest = 0;
  guardActive = true;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  } finally {
    guardActive = false;
  }
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const ms = performance.now() - started;
  const largestAllocation = largestRequest;
  if (error !== undefined && !rules.allowed(error)) {
    const e = error as Error;
    throw new Error(`${rules.describe}: threw ${e?.name ?? typeof error} (not a typed parser error): ${e?.message ?? String(error)}`, { cause: error });
  }
  if (cpuMs > CASE_LIMIT_MS) throw new Error(`${rules.describe}: took ${cpuMs.toFixed(0)} ms of CPU (limit ${CASE_LIMIT_MS} ms)`);
  if (ms > CASE_HANG_MS) throw new Error(`${rules.describe}: took ${ms.toFixed(0)} ms of wall time (hang limit ${CASE_HANG_MS} ms)`);
  if (largestAllocation > rules.allocationLimit) {
    throw new Error(`${rules.describe}: asked for a ${largestAllocation}-byte array (limit ${rules.allocationLimit} for this input)${error ? ` before refusing it: ${(error as Error).message}` : ''}`);
  }
  return { outcome: error === undefined ? 'accepted' : 'refused', error: error as Error | undefined, ms, cpuMs, largestAllocation };
}

/** Errors are recognised by class name too, since vitest may load a module twice. */
export function isNamedError(...names: string[]): (error: unknown) => boolean {
  return (error) => error instanceof Error && names.includes(error.name) && error.constructor !== Error;
}

// ---------------------------------------------------------------- heap

let gc: (() => void) | undefined;
function forceGc(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
}

/** JS heap plus ArrayBuffer memory after a full GC, in bytes. */
export function liveBytes(): number {
  forceGc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Live memory growth across `body` (after GC on both sides). */
export async function heapGrowth(body: () => Promise<void> | void): Promise<number> {
  const before = liveBytes();
  await body();
  return liveBytes() - before;
}

/** Tally of outcomes for one property, so a generator that never reaches one side is noticed. */
export class Tally {
  /** Inputs tried (one input may go through several entry points). */
  cases = 0;
  accepted = 0;
  refused = 0;
  largestAllocation = 0;
  slowestMs = 0;
  slowestCpuMs = 0;
  readonly messages = new Map<string, number>();
  add(result: CaseResult): void {
    if (result.outcome === 'accepted') this.accepted++;
    else {
      this.refused++;
      const key = `${result.error!.name}: ${result.error!.message.replace(/\d+/g, 'N').slice(0, 80)}`;
      this.messages.set(key, (this.messages.get(key) ?? 0) + 1);
    }
    this.largestAllocation = Math.max(this.largestAllocation, result.largestAllocation);
    this.slowestMs = Math.max(this.slowestMs, result.ms);
    this.slowestCpuMs = Math.max(this.slowestCpuMs, result.cpuMs);
  }
  get total(): number {
    return this.accepted + this.refused;
  }
  /** How many distinct refusal messages (numbers ignored) were seen: a rough measure of the paths reached. */
  get distinctRefusals(): number {
    return this.messages.size;
  }
  summary(name: string): string {
    return `${name}: ${this.cases} inputs, ${this.total} parser calls: ${this.accepted} accepted, ${this.refused} refused (${this.distinctRefusals} distinct refusals), slowest ${this.slowestCpuMs.toFixed(0)} ms CPU (${this.slowestMs.toFixed(0)} ms wall), largest allocation ${this.largestAllocation} B`;
  }
}
