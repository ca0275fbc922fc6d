/**
 * Storage bytes → Float32Array for one tensor: float32 copied, float16 and
 * bfloat16 upcast, float64 rounded; strided views (any offset and strides
 * that stay inside the storage) gathered into row-major order, reading only
 * the elements the view names. Works in chunks and yields between them.
 */
import { halfToFloat } from '../tensor.ts';
import { PthError } from './errors.ts';
import type { Slicer } from './slicer.ts';
import { DTYPE_BYTES, type TensorRef } from './torchPickle.ts';

/** Elements converted between two time checks (~1 ms of work or less). */
const CHUNK_ELEMENTS = 1 << 16;

let halfTable: Float32Array | undefined;
function halfLookup(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  return halfTable;
}

/**
 * Decodes `count` elements of a storage, starting at element `first` and `step`
 * elements apart, into `out` at `outAt`. Reads only those elements: a strided
 * view over a huge storage costs its own size, not the storage's.
 */
function convert(bytes: Uint8Array, dtype: TensorRef['dtype'], first: number, count: number, step: number, out: Float32Array, outAt: number): void {
  const size = DTYPE_BYTES[dtype];
  const stepBytes = step * size;
  let j = first * size;
  switch (dtype) {
    case 'float32': {
      if (step === 1) {
        new Uint8Array(out.buffer, out.byteOffset + outAt * 4, count * 4).set(bytes.subarray(j, j + count * 4));
        break;
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++, j += stepBytes) out[outAt + i] = view.getFloat32(j, true);
      break;
    }
    case 'float16': {
      const table = halfLookup();
      for (let i = 0; i < count; i++, j += stepBytes) out[outAt + i] = table[bytes[j] | (bytes[j + 1] << 8)];
      break;
    }
    case 'bfloat16': {
      const bits = new Uint32Array(out.buffer, out.byteOffset + outAt * 4, count);
      for (let i = 0; i < count; i++, j += stepBytes) bits[i] = ((bytes[j] | (bytes[j + 1] << 8)) << 16) >>> 0;
      break;
    }
    case 'float64': {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++, j += stepBytes) out[outAt + i] = view.getFloat64(j, true);
      break;
    }
    default:
      throw new PthError(`tensors of type ${dtype} are not weights (only float32, float16, bfloat16 and float64 are read)`);
  }
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/**
 * The tensor's values in row-major order. `storageBytes` is the whole
 * `data/<key>` record; the view was bounds-checked when it was built, and is
 * checked again here against the bytes actually present.
 */
export async function decodeTensor(ref: TensorRef, storageBytes: Uint8Array, slicer: Slicer, onElements?: (n: number) => void): Promise<Float32Array> {
  const size = DTYPE_BYTES[ref.dtype];
  const numel = ref.numel;
  if (numel === 0) return new Float32Array(0);
  const available = Math.floor(storageBytes.byteLength / size);
  let last = ref.offset;
  for (let i = 0; i < ref.shape.length; i++) last += (ref.shape[i] - 1) * ref.stride[i];
  if (last >= available) throw new PthError(`tensor reaches element ${last} of storage "${ref.storage.key}", which holds ${available}`);
  // A view with more elements than its storage repeats them (a stride of 0, or overlapping strides):
  // torch.expand does that, no weight does, and decoding one would turn a few bytes into gigabytes.
  if (numel > available) {
    throw new PthError(
      `a tensor of size [${ref.shape}] with stride [${ref.stride}] has ${numel} elements but storage "${ref.storage.key}" holds only ${available}: a broadcast (stride 0) or overlapping view is not a weight`,
    );
  }
  const out = new Float32Array(numel);

  if (isContiguous(ref.shape, ref.stride)) {
    for (let at = 0; at < numel; at += CHUNK_ELEMENTS) {
      const count = Math.min(CHUNK_ELEMENTS, numel - at);
      convert(storageBytes, ref.dtype, ref.offset + at, count, 1, out, at);
      onElements?.(count);
      await slicer.maybeYield();
    }
    return out;
  }

  // Strided: gather row by row straight from the storage bytes (work in proportion to the
  // tensor, not to the span of storage it strides over).
  const dims = ref.shape.length;
  const inner = ref.shape[dims - 1];
  const innerStride = ref.stride[dims - 1];
  const rows = numel / inner;
  const index = new Array<number>(Math.max(dims - 1, 0)).fill(0);
  let base = ref.offset;
  let done = 0;
  for (let row = 0; row < rows; row++) {
    for (let at = 0; at < inner; at += CHUNK_ELEMENTS) {
      const count = Math.min(CHUNK_ELEMENTS, inner - at);
      convert(storageBytes, ref.dtype, base + at * innerStride, count, innerStride, out, row * inner + at);
      done += count;
      if (done >= CHUNK_ELEMENTS) {
        onElements?.(done);
        done = 0;
        await slicer.maybeYield();
      }
    }
    // Odometer over the outer dimensions.
    for (let d = dims - 2; d >= 0; d--) {
      index[d]++;
      base += ref.stride[d];
      if (index[d] < ref.shape[d]) break;
      base -= ref.stride[d] * ref.shape[d];
      index[d] = 0;
    }
  }
  onElements?.(done);
  return out;
}
