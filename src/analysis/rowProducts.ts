/**
 * A·Bᵀ in float64, the analysis's costliest step (docs/MEASUREMENTS.md §4): A [rows, dim]
 * and B [inner, dim] row-major, result [rows, inner], every entry the dot product of two
 * contiguous rows (Z·Uᵀ for the coding rates, X·Dᵀ and Z⁺·Dᵀ for the LASSO objective).
 *
 * Two ways, the same sums up to rounding (about 1e-16 relative):
 * - 'wasm': rowProducts.wat with 128-bit SIMD, 2.9× the JavaScript loop in V8 at CRATE-T
 *   size (copies in and out included; docs/MEASUREMENTS.md §4);
 * - 'js': four rows of A meet four rows of B per pass over `dim` (16 sums in registers,
 *   8 loads per 16 multiply-adds), where WebAssembly is missing or refused.
 */
import { ROW_PRODUCTS_WASM_BASE64 } from './rowProducts.wasm.ts';

export type ProductEngine = 'wasm' | 'js';

interface RowProductsKernel {
  memory: WebAssembly.Memory;
  rowsTimesRows(a: number, b: number, c: number, rows: number, inner: number, dim: number): void;
}

/** One instance per thread, made on first use; null where it cannot be (no WebAssembly, no SIMD, a policy that refuses compiling). */
let kernel: RowProductsKernel | null | undefined;

function wasmKernel(): RowProductsKernel | null {
  if (kernel === undefined) {
    try {
      const bytes = Uint8Array.from(atob(ROW_PRODUCTS_WASM_BASE64), (c) => c.charCodeAt(0));
      kernel = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as RowProductsKernel;
    } catch {
      kernel = null;
    }
  }
  return kernel;
}

/** Which way rowsTimesRows takes here. */
export function productEngine(): ProductEngine {
  return wasmKernel() ? 'wasm' : 'js';
}

export function rowsTimesRows(a: ArrayLike<number>, rows: number, dim: number, b: ArrayLike<number>, inner: number, engine: ProductEngine = productEngine()): Float64Array {
  if (a.length !== rows * dim) throw new RangeError(`A has ${a.length} values, expected ${rows}×${dim}`);
  if (b.length !== inner * dim) throw new RangeError(`B has ${b.length} values, expected ${inner}×${dim}`);
  const wasm = engine === 'wasm' ? wasmKernel() : null;
  if (engine === 'wasm' && !wasm) throw new Error('the WebAssembly row products are not available here');
  return wasm ? wasmRowProducts(wasm, a, rows, dim, b, inner) : jsRowProducts(a, rows, dim, b, inner);
}

/**
 * The Gram of a column block X [rows, cols] of a wider row-major matrix (`stride` values per
 * row, from `offset`): XᵀX [cols, cols] on the column side, XXᵀ [rows, rows] on the row side,
 * each as a row product of a contiguous copy with itself.
 */
export function gram(x: ArrayLike<number>, rows: number, cols: number, side: 'columns' | 'rows', stride = cols, offset = 0): Float64Array {
  if (side === 'columns') {
    const transposed = new Float64Array(cols * rows);
    for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) transposed[i * rows + r] = x[offset + r * stride + i];
    return rowsTimesRows(transposed, cols, rows, transposed, cols);
  }
  const block = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) block[r * cols + i] = x[offset + r * stride + i];
  return rowsTimesRows(block, rows, cols, block, rows);
}

/** Copies A and B into the kernel's memory as float64, padded with zeros to its block sizes (rowProducts.wat), and C out. */
function wasmRowProducts(wasm: RowProductsKernel, a: ArrayLike<number>, rows: number, dim: number, b: ArrayLike<number>, inner: number): Float64Array {
  const paddedDim = dim + (dim % 2);
  const paddedRows = rows + (rows % 2);
  const paddedInner = Math.ceil(inner / 4) * 4;
  const aValues = paddedRows * paddedDim;
  const bValues = paddedInner * paddedDim;
  const bytes = 8 * (aValues + bValues + paddedRows * paddedInner);
  const missing = bytes - wasm.memory.buffer.byteLength;
  if (missing > 0) wasm.memory.grow(Math.ceil(missing / 65536));
  const memory = new Float64Array(wasm.memory.buffer); // after grow: the old buffer is detached
  memory.fill(0, 0, aValues + bValues);
  for (let r = 0; r < rows; r++) for (let i = 0; i < dim; i++) memory[r * paddedDim + i] = a[r * dim + i];
  for (let r = 0; r < inner; r++) for (let i = 0; i < dim; i++) memory[aValues + r * paddedDim + i] = b[r * dim + i];
  const c = aValues + bValues;
  wasm.rowsTimesRows(0, 8 * aValues, 8 * c, paddedRows, paddedInner, paddedDim);
  const out = new Float64Array(rows * inner);
  for (let r = 0; r < rows; r++) out.set(memory.subarray(c + r * paddedInner, c + r * paddedInner + inner), r * inner);
  return out;
}

function jsRowProducts(a: ArrayLike<number>, rows: number, dim: number, b: ArrayLike<number>, inner: number): Float64Array {
  const aa = Float64Array.from(a);
  const bb = Float64Array.from(b);
  const out = new Float64Array(rows * inner);
  const dot = (row: number, column: number) => {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += aa[row * dim + i] * bb[column * dim + i];
    return sum;
  };
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const a0 = r * dim;
    const a1 = a0 + dim;
    const a2 = a1 + dim;
    const a3 = a2 + dim;
    let j = 0;
    for (; j + 4 <= inner; j += 4) {
      const b0 = j * dim;
      const b1 = b0 + dim;
      const b2 = b1 + dim;
      const b3 = b2 + dim;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0; // prettier-ignore
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0; // prettier-ignore
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0; // prettier-ignore
      for (let i = 0; i < dim; i++) {
        const u0 = bb[b0 + i];
        const u1 = bb[b1 + i];
        const u2 = bb[b2 + i];
        const u3 = bb[b3 + i];
        let x = aa[a0 + i];
        s00 += x * u0; s01 += x * u1; s02 += x * u2; s03 += x * u3; // prettier-ignore
        x = aa[a1 + i];
        s10 += x * u0; s11 += x * u1; s12 += x * u2; s13 += x * u3; // prettier-ignore
        x = aa[a2 + i];
        s20 += x * u0; s21 += x * u1; s22 += x * u2; s23 += x * u3; // prettier-ignore
        x = aa[a3 + i];
        s30 += x * u0; s31 += x * u1; s32 += x * u2; s33 += x * u3; // prettier-ignore
      }
      const o0 = r * inner + j;
      const o1 = o0 + inner;
      const o2 = o1 + inner;
      const o3 = o2 + inner;
      out[o0] = s00; out[o0 + 1] = s01; out[o0 + 2] = s02; out[o0 + 3] = s03; // prettier-ignore
      out[o1] = s10; out[o1 + 1] = s11; out[o1 + 2] = s12; out[o1 + 3] = s13; // prettier-ignore
      out[o2] = s20; out[o2 + 1] = s21; out[o2 + 2] = s22; out[o2 + 3] = s23; // prettier-ignore
      out[o3] = s30; out[o3 + 1] = s31; out[o3 + 2] = s32; out[o3 + 3] = s33; // prettier-ignore
    }
    for (; j < inner; j++) for (let q = 0; q < 4; q++) out[(r + q) * inner + j] = dot(r + q, j);
  }
  for (; r < rows; r++) for (let j = 0; j < inner; j++) out[r * inner + j] = dot(r, j);
  return out;
}
