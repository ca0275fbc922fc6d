/**
 * checkBufferLimits (src/engine/gpu/alphaLimits.ts) with fake limits: every
 * buffer against maxBufferSize, storage ones against maxStorageBufferBindingSize
 * too, the message naming the tensor, its size and the limit (issue 16).
 */
import { describe, expect, it } from 'vitest';
import { alphaModelFromTensors, alphaTensorShapes } from '../../src/engine/alphaModel.ts';
import { parseAnyConfig } from '../../src/engine/config.ts';
import { alphaPlannedBuffers, BufferLimitError, checkBufferLimits, megabytes } from '../../src/engine/gpu/alphaLimits.ts';
import { EngineError } from '../../src/engine/gpu/engine.ts';

const MiB = 1 << 20;
const roomy = { maxBufferSize: 4096 * MiB, maxStorageBufferBindingSize: 2048 * MiB };

function alphaModel(dim: number, depth: number, heads: number, patch: number) {
  const config = parseAnyConfig({ arch: 'crate-alpha', ratio: 4, image_size: 224, patch_size: patch, channels: 3, dim, depth, heads, dim_head: dim / heads, num_classes: 1000 });
  if (config.arch !== 'crate-alpha') throw new Error('not CRATE-α');
  // Shapes are all the check reads; the weights stay zero-sized where the model builder allows, else zeros.
  const tensors = new Map(alphaTensorShapes(config).map(([name, shape]) => [name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }] as const));
  return alphaModelFromTensors(config, tensors);
}

describe('checkBufferLimits', () => {
  it('passes buffers within both limits, and a readback buffer over the binding limit', () => {
    expect(() => checkBufferLimits([{ name: 'x', bytes: 2048 * MiB, storage: true }], roomy)).not.toThrow();
    expect(() => checkBufferLimits([{ name: 'readback', bytes: 3000 * MiB, storage: false }], roomy)).not.toThrow();
  });

  it('names the tensor, its size and the binding limit', () => {
    const call = () => checkBufferLimits([{ name: 'layer 3 D', bytes: 16 * MiB, storage: true }], { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 8 * MiB });
    expect(call).toThrow(BufferLimitError);
    expect(call).toThrow(EngineError);
    expect(call).toThrow("layer 3 D (16.8 MB, 16777216 bytes) exceeds this adapter's maxStorageBufferBindingSize (8.4 MB, 8388608 bytes)");
  });

  it('names maxBufferSize when that is the limit exceeded, and the smaller one when both are', () => {
    const limits = { maxBufferSize: 4 * MiB, maxStorageBufferBindingSize: 8 * MiB };
    expect(() => checkBufferLimits([{ name: 'r', bytes: 5 * MiB, storage: false }], limits)).toThrow(/exceeds this adapter's maxBufferSize \(4.2 MB/);
    expect(() => checkBufferLimits([{ name: 's', bytes: 9 * MiB, storage: true }], limits)).toThrow(/exceeds this adapter's maxBufferSize/);
  });

  it('formats decimal megabytes', () => {
    expect(megabytes(16_777_216)).toBe('16.8 MB');
    expect(megabytes(128 * MiB)).toBe('134.2 MB');
    expect(megabytes(4)).toBe('0 MB');
  });
});

describe("the CRATE-α engine's planned buffers", () => {
  it('L/14: D (d × 4d = 16.8 MB) is the largest weight; a 16 MB binding limit refuses layer 0 D', () => {
    const model = alphaModel(1024, 2, 16, 14);
    const planned = alphaPlannedBuffers(model);
    const largestWeight = Math.max(...planned.filter((b) => b.name.startsWith('layer')).map((b) => b.bytes));
    expect(largestWeight).toBe(1024 * 4096 * 4);
    expect(() => checkBufferLimits(planned, roomy)).not.toThrow();
    expect(() => checkBufferLimits(planned, { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 16_000_000 })).toThrow(/^layer 0 D \(16\.8 MB, 16777216 bytes\) exceeds this adapter's maxStorageBufferBindingSize/);
  });

  it("WebGPU's default limits (128 MiB binding, 256 MiB buffer) hold B/16 and L/14", () => {
    const defaults = { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB };
    for (const model of [alphaModel(768, 1, 12, 16), alphaModel(1024, 1, 16, 14)]) expect(() => checkBufferLimits(alphaPlannedBuffers(model), defaults)).not.toThrow();
  });
});
