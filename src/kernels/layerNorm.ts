import code from './layerNorm.wgsl?raw';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

const WORKGROUP: [number, number, number] = [64, 1, 1];

export function layerNormSpec(hasAdd: boolean): ProgramSpec {
  return {
    name: 'layerNorm',
    code,
    entryPoint: 'main',
    bindings: ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
    workgroupSize: WORKGROUP,
    constants: { HAS_ADD: Number(hasAdd) },
  };
}

export interface LayerNormShape {
  rows: number;
  cols: number;
  outRowOffset?: number;
  eps?: number;
}

export function layerNormParams(shape: LayerNormShape): ArrayBuffer {
  const buffer = new ArrayBuffer(16);
  const u32 = new Uint32Array(buffer);
  u32[0] = shape.rows;
  u32[1] = shape.cols;
  u32[2] = shape.outRowOffset ?? 0;
  new Float32Array(buffer)[3] = shape.eps ?? 1e-5;
  return buffer;
}

export interface LayerNormBuffers {
  params: GPUBuffer;
  x: GPUBuffer;
  gamma: GPUBuffer;
  beta: GPUBuffer;
  /** Added after the affine step when given (indexed like the output). */
  addend?: GPUBuffer;
  out: GPUBuffer;
  /** Stands in for a missing addend. */
  unused: GPUBuffer;
}

export function layerNormDispatch(shape: LayerNormShape, buffers: LayerNormBuffers, scope: string): Dispatch {
  return {
    spec: layerNormSpec(buffers.addend !== undefined),
    buffers: [buffers.params, buffers.x, buffers.gamma, buffers.beta, buffers.addend ?? buffers.unused, buffers.out],
    workgroups: [ceilDiv(shape.rows, WORKGROUP[0]), 1, 1],
    scope,
  };
}
