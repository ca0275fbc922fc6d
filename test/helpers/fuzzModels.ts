/**
 * Structured hostile models for the fuzz tests: configs with absurd values
 * (depth 1e6, dim 0, a patch size that does not divide the image, labels
 * that are not strings…) over a small valid base, and the official tensors
 * for a config when it is small enough to build.
 */
import fc from 'fast-check';
import { officialTensorShapes } from '../../src/engine/model.ts';
import { parseConfig } from '../../src/engine/config.ts';
import type { Tensor } from '../../src/engine/tensor.ts';

/** A small valid config (the grey17 fixture's). */
export const BASE_CONFIG: Record<string, unknown> = {
  arch: 'crate', image_size: 28, patch_size: 7, channels: 1, dim: 8, depth: 2, heads: 2, dim_head: 4, num_classes: 3,
  eta: 0.1, lambda: 0.1, pool: 'cls', labels: ['a', 'b', 'c'], mean: [0.5], std: [0.25],
};

/** Values that have no business in a config field. */
const ABSURD: unknown[] = [
  0, -1, 1.5, 1e6, 1e9, 2 ** 31, 2 ** 53, 1e308, -0, Number.MAX_SAFE_INTEGER, '8', 'NaN', 'Infinity', null, true, [], [8], {}, { valueOf: 8 }, '', '__proto__',
];

const HOSTILE_LABELS: unknown[] = [
  ['<img src=x onerror=alert(1)>', '<script>alert(1)</script>', '"><svg onload=alert(1)>'],
  ['a', 'b'],
  ['a', 'b', 'c', 'd'],
  [1, 2, 3],
  'abc',
  ['\u0000', '\u202e', 'x'.repeat(100_000)],
  null,
];

const FIELDS = ['arch', 'image_size', 'patch_size', 'channels', 'dim', 'depth', 'heads', 'dim_head', 'num_classes', 'eta', 'lambda', 'pool', 'labels', 'mean', 'std'];

/** Specific absurd configs the brief names, always among the cases, with what their refusal must say. */
export const NAMED_ABSURD_CONFIGS: [string, Record<string, unknown>, RegExp][] = [
  ['depth 1e6', { ...BASE_CONFIG, depth: 1e6 }, /config\.depth must be an integer in \[1, 256\], got 1000000/],
  ['dim 0', { ...BASE_CONFIG, dim: 0 }, /config\.dim must be an integer in \[1, 8192\], got 0/],
  ['patch size 5 does not divide 28', { ...BASE_CONFIG, patch_size: 5 }, /patch_size 5 does not divide the image size 28×28/],
  ['image [28, 30] with patch 7', { ...BASE_CONFIG, image_size: [28, 30] }, /patch_size 7 does not divide the image size 28×30/],
  ['heads 1e9', { ...BASE_CONFIG, heads: 1e9 }, /config\.heads must be an integer/],
  ['std 0', { ...BASE_CONFIG, std: [0] }, /config\.std must not contain 0/],
  ['eta NaN (as a string)', { ...BASE_CONFIG, eta: 'NaN' }, /config\.eta must be a finite number, got "NaN"/],
  ['65,537 tokens', { ...BASE_CONFIG, image_size: 4096, patch_size: 16, dim: 8 }, /65537 tokens; at most 16385/],
  ['wrong label count', { ...BASE_CONFIG, labels: ['a'] }, /config\.labels must be 3 strings/],
  ['not an object', [1, 2, 3] as unknown as Record<string, unknown>, /config must be a JSON object/],
];

/** A config: the base with one to four fields replaced by absurd (or deleted) values. */
export const hostileConfigArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(fc.constantFrom(...ABSURD), fc.constant(undefined), fc.double(), fc.integer())), { minLength: 1, maxLength: 4 }).map((edits) => {
    const config: Record<string, unknown> = { ...BASE_CONFIG };
    for (const [field, value] of edits) {
      if (value === undefined) delete config[field];
      else config[field] = field === 'labels' ? value : value;
    }
    return config;
  }) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_LABELS).map((labels) => ({ ...BASE_CONFIG, labels })) },
  { weight: 1, arbitrary: fc.constantFrom(...NAMED_ABSURD_CONFIGS.map(([, c]) => c)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** JSON text for a config; a few cases are not JSON at all. */
export const hostileConfigTextArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 9, arbitrary: hostileConfigArb.map((c) => JSON.stringify(c) ?? 'undefined') },
  { weight: 1, arbitrary: fc.constantFrom('{', '', 'null', '[', '{"depth": 1e999}', '{"__proto__": {"depth": 2}}', '['.repeat(100_000), `${'['.repeat(100_000)}${']'.repeat(100_000)}`) },
);

/** Largest model the fuzz tests build weights for (elements). */
const MAX_BUILT_ELEMENTS = 50_000;

/**
 * The official tensors for a config, filled with small deterministic values,
 * or undefined when the config is invalid or too large to build (the file is
 * then written without weights, which must be refused as a missing tensor).
 */
export function tensorsFor(config: unknown): Map<string, Tensor> | undefined {
  let parsed;
  try {
    parsed = parseConfig(config);
  } catch {
    return undefined;
  }
  const shapes = officialTensorShapes(parsed);
  let total = 0;
  for (const [, shape] of shapes) total += shape.reduce((a, b) => a * b, 1);
  if (total > MAX_BUILT_ELEMENTS) return undefined;
  const tensors = new Map<string, Tensor>();
  let seed = 1;
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[i] = (seed / 2 ** 32 - 0.5) * 0.2;
    }
    tensors.set(name, { shape, data });
  }
  return tensors;
}

/** Values that must never load as weights. */
export const NON_FINITE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

/** Shapes that cost no (or few) bytes but claim absurd sizes: a zero dimension makes any other free. */
export const HOSTILE_SHAPES: number[][] = [
  [2 ** 31 - 1, 0], [0, 2 ** 31 - 1], [0], [], [1], [7], [1, 0, 8], [1, 1, 0], [1e9, 0], [0, 1e9], [1, 2 ** 16], [3, 3, 3, 3], [2 ** 53 - 1, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1],
];

const EXTRA_NAMES = ['transformer.layers.999999.0.norm.weight', 'transformer.layers.2.1.fn.weight', 'decoder.0.weight', 'mask_token', 'transformer.layers.0.1.fn.D', 'module.cls_token', 'unexpected', '__proto__'];

function filled(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: new Float32Array(n).fill(0.01) };
}

/**
 * State dicts named as the official one (for BASE_CONFIG) with some shapes
 * replaced by hostile ones and some names added or dropped, for the paths
 * that infer a config from shapes (bare safetensors, .pth). Generated as
 * [name, shape] lists (short counterexamples); `stateDict` fills them.
 */
export const hostileShapesArb: fc.Arbitrary<[string, number[]][]> = fc
  .record({
    replace: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...HOSTILE_SHAPES)), { maxLength: 3 }),
    drop: fc.array(fc.nat(), { maxLength: 2 }),
    extra: fc.array(fc.tuple(fc.constantFrom(...EXTRA_NAMES), fc.constantFrom(...HOSTILE_SHAPES)), { maxLength: 2 }),
  })
  .map(({ replace, drop, extra }) => {
    const entries = officialTensorShapes(parseConfig(BASE_CONFIG)).map(([name, shape]): [string, number[]] => [name, shape]);
    for (const [i, shape] of replace) entries[i % entries.length][1] = shape;
    for (const i of drop) entries.splice(i % entries.length, 1);
    for (const [name, shape] of extra) entries.push([name, shape]);
    return entries;
  });

export function stateDict(shapes: [string, number[]][]): Map<string, Tensor> {
  return new Map(shapes.map(([name, shape]) => [name, filled(shape)]));
}
