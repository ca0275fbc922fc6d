/**
 * Whether every buffer an engine is about to create fits the adapter (issue 16,
 * "Big files"): WebGPU refuses a buffer over `maxBufferSize`, and a binding over
 * `maxStorageBufferBindingSize`, only later, as a validation error on some kernel.
 * Checked before anything is uploaded, naming the tensor and the limit, so the
 * app can say which tensor does not fit and run the CPU path instead.
 */
import type { CrateAlphaModel } from '../alphaModel.ts';
import { EngineError } from './engine.ts';
import { roundUp4 } from './uploadWeights.ts';

export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface PlannedBuffer {
  /** What the buffer holds, as the message names it ("layer 3 D"). */
  name: string;
  bytes: number;
  /** Bound as a storage buffer (the binding limit applies too); false for a readback buffer. */
  storage: boolean;
}

/** An EngineError, so callers that fall back from the WGSL engine to the CPU path do so here too. */
export class BufferLimitError extends EngineError {
  override name = 'BufferLimitError';
}

/** "16.8 MB": decimal megabytes, one decimal, as the limits are usually quoted; exact bytes follow in the message. */
export function megabytes(bytes: number): string {
  return `${Number((bytes / 1e6).toFixed(1))} MB`;
}

/**
 * Throws a BufferLimitError for the first buffer over a limit, e.g. "layer 3 D
 * (16.8 MB, 16777216 bytes) exceeds this adapter's maxStorageBufferBindingSize
 * (8.4 MB, 8388608 bytes)". Where both limits are exceeded the smaller is named.
 */
export function checkBufferLimits(buffers: Iterable<PlannedBuffer>, limits: BufferLimits): void {
  for (const { name, bytes, storage } of buffers) {
    const applicable: [string, number][] = [['maxBufferSize', limits.maxBufferSize]];
    if (storage) applicable.push(['maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize]);
    const exceeded = applicable.filter(([, limit]) => bytes > limit).sort((x, y) => x[1] - y[1]);
    if (exceeded.length > 0) {
      const [limitName, limit] = exceeded[0];
      throw new BufferLimitError(`${name} (${megabytes(bytes)}, ${bytes} bytes) exceeds this adapter's ${limitName} (${megabytes(limit)}, ${limit} bytes)`);
    }
  }
}

/** Every buffer the CRATE-α engine (alphaEngine.ts) creates, weights and activations, with the plan that keeps every layer's outputs. */
export function alphaPlannedBuffers(model: CrateAlphaModel): PlannedBuffer[] {
  const { config, shape } = model;
  const N = shape.tokens;
  const d = config.dim;
  const wide = config.ratio * d;
  const inner = shape.innerDim;
  const f32 = (name: string, floats: number, storage = true): PlannedBuffer => ({ name, bytes: 4 * floats, storage });
  const out: PlannedBuffer[] = [
    f32('conv1.weight', d * roundUp4(shape.patchDim)),
    f32('pos_embedding', N * d),
    f32('mlp_head.1.weight', config.num_classes * d),
    f32('the patches', (N - 1) * roundUp4(shape.patchDim)),
    f32('the MSSA activations W and O', N * inner),
    f32('the sparse code activations (tokens × r·d)', N * wide),
    f32('the attention of one layer (heads × tokens²)', config.heads * N * N),
    f32('the logits readback', config.num_classes, false),
  ];
  for (let l = 0; l < config.depth; l++) {
    out.push(
      f32(`layer ${l} qkv.weight`, inner * d),
      f32(`layer ${l} to_out.0.weight`, d * inner),
      f32(`layer ${l} D`, d * wide),
      f32(`layer ${l} Dᵀ`, wide * d),
      f32(`layer ${l} D1`, d * wide),
    );
  }
  return out;
}
