/**
 * The analysis's row products (src/analysis/rowProducts.ts): the SIMD WebAssembly kernel and
 * the JavaScript loop against a plain float64 triple loop, over shapes off every block size
 * (rows, dim and inner not multiples of 2 or 4, N = 197 and 785, dh = 48), and the committed
 * bytes against the .wat they come from.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { productEngine, rowsTimesRows, type ProductEngine } from '../../src/analysis/rowProducts.ts';
import { ROW_PRODUCTS_WASM_BASE64 } from '../../src/analysis/rowProducts.wasm.ts';
import { assembleRowProducts } from '../../scripts/wasmAssembly.mjs';
import { seededRandom } from '../helpers/randomModel.ts';

function naive(a: Float32Array, rows: number, dim: number, b: Float32Array, inner: number): Float64Array {
  const out = new Float64Array(rows * inner);
  for (let r = 0; r < rows; r++) for (let j = 0; j < inner; j++) for (let i = 0; i < dim; i++) out[r * inner + j] += a[r * dim + i] * b[j * dim + i];
  return out;
}

function randomMatrix(values: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return new Float32Array(values).map(() => 2 * random() - 1);
}

const SHAPES: [rows: number, dim: number, inner: number][] = [
  [1, 1, 1],
  [2, 2, 4],
  [3, 5, 7],
  [5, 3, 2],
  [50, 96, 96],
  [197, 48, 197],
  [197, 385, 63],
  [785, 96, 384],
];

describe.each<ProductEngine>(['wasm', 'js'])('rowsTimesRows (%s)', (engine) => {
  it.each(SHAPES)('A [%i, %i] · B [%i, ·]ᵀ matches the triple loop', (rows, dim, inner) => {
    const a = randomMatrix(rows * dim, rows + dim);
    const b = randomMatrix(inner * dim, inner + 7 * dim);
    const expected = naive(a, rows, dim, b, inner);
    const got = rowsTimesRows(a, rows, dim, b, inner, engine);
    expect(got).toHaveLength(rows * inner);
    // Another order of the same float64 sum: a few ulps of the sum of |terms| (≤ dim here).
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
    expect(worst).toBeLessThanOrEqual(dim * 1e-15);
  });

  it('refuses operands whose sizes disagree', () => {
    expect(() => rowsTimesRows(new Float32Array(6), 2, 4, new Float32Array(8), 2, engine)).toThrow(RangeError);
    expect(() => rowsTimesRows(new Float32Array(8), 2, 4, new Float32Array(7), 2, engine)).toThrow(RangeError);
  });
});

describe('the WebAssembly kernel', () => {
  it('runs in Node as in the browsers: a missing kernel would only show as a slower analysis', () => {
    expect(productEngine()).toBe('wasm');
  });

  it('grows its memory for a larger product after a smaller one, and leaves no trace of the larger in the next', () => {
    const big = rowsTimesRows(randomMatrix(785 * 384, 1), 785, 384, randomMatrix(384 * 384, 2), 384);
    expect(big.every(Number.isFinite)).toBe(true);
    const a = randomMatrix(3 * 5, 3);
    const b = randomMatrix(7 * 5, 4);
    const small = rowsTimesRows(a, 3, 5, b, 7);
    const reference = naive(a, 3, 5, b, 7);
    small.forEach((v, i) => expect(v).toBeCloseTo(reference[i], 13)); // the padding was zeroed again, not left from the big product
  });

  it('is the assembly of src/analysis/rowProducts.wat (npm run build:wasm writes it)', async () => {
    const wat = readFileSync(new URL('../../src/analysis/rowProducts.wat', import.meta.url), 'utf8');
    expect(Buffer.from(await assembleRowProducts(wat)).toString('base64')).toBe(ROW_PRODUCTS_WASM_BASE64);
  });
});
