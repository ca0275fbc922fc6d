import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { modelFromSafetensors, type CrateModel } from '../../src/engine/model.ts';
import { readSafetensors } from '../../src/engine/safetensors.ts';
import type { Tensor } from '../../src/engine/tensor.ts';

export const FIXTURE_DIR = join(import.meta.dirname, '../../fixtures');

/** Fixture names, from the files PyTorch wrote (tools/make_fixtures.py). */
export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.model.safetensors'))
    .map((f) => f.replace('.model.safetensors', ''))
    .sort();
}

export interface Fixture {
  name: string;
  model: CrateModel;
  golden: Map<string, Tensor>;
  inputs: number;
}

export function loadFixture(name: string): Fixture {
  const model = modelFromSafetensors(readFileSync(join(FIXTURE_DIR, `${name}.model.safetensors`)));
  const golden = readSafetensors(readFileSync(join(FIXTURE_DIR, `${name}.golden.safetensors`))).tensors;
  const inputs = [...golden.keys()].filter((k) => /^input\.\d+$/.test(k)).length;
  return { name, model, golden, inputs };
}

export function goldenTensor(fixture: Fixture, key: string): Float32Array {
  const t = fixture.golden.get(key);
  if (!t) throw new Error(`fixture ${fixture.name} has no tensor ${key}`);
  return t.data;
}

export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

/** max |a − b|; NaN anywhere makes it Infinity so comparisons fail loudly. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    if (!(diff <= m)) m = Number.isNaN(diff) ? Infinity : diff;
  }
  return m;
}

/** Error relative to the tensor's largest magnitude, the measure the issues set tolerances in. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return maxAbsDiff(actual, expected) / Math.max(maxAbs(expected), 1e-30);
}

/** Engine capture names and the golden fixtures' names for the same tensors. */
export const GOLDEN_CAPTURES = [
  ['z', 'z'],
  ['w', 'w'],
  ['attention', 'attention'],
  ['zHalf', 'z_half'],
  ['zNext', 'z_next'],
] as const;
