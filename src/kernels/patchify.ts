import code from './patchify.wgsl?raw';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

const WORKGROUP: [number, number, number] = [64, 1, 1];

export const patchifySpec: ProgramSpec = {
  name: 'patchify',
  code,
  entryPoint: 'main',
  bindings: ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
  workgroupSize: WORKGROUP,
  constants: {},
};

export interface PatchifyShape {
  channels: number;
  height: number;
  width: number;
  patch: number;
  /** Row stride of the output, ≥ patch·patch·channels and a multiple of 4. */
  paddedDim: number;
  eps?: number;
}

export function patchCount(shape: PatchifyShape): number {
  return (shape.height / shape.patch) * (shape.width / shape.patch);
}

export function patchifyParams(shape: PatchifyShape): ArrayBuffer {
  const buffer = new ArrayBuffer(48);
  const u32 = new Uint32Array(buffer);
  u32.set([
    shape.channels,
    shape.height,
    shape.width,
    shape.patch,
    shape.width / shape.patch,
    patchCount(shape),
    shape.patch * shape.patch * shape.channels,
    shape.paddedDim,
  ]);
  new Float32Array(buffer)[8] = shape.eps ?? 1e-5;
  return buffer;
}

export interface PatchifyBuffers {
  params: GPUBuffer;
  image: GPUBuffer;
  gamma: GPUBuffer;
  beta: GPUBuffer;
  out: GPUBuffer;
}

export function patchifyDispatch(shape: PatchifyShape, buffers: PatchifyBuffers, scope: string): Dispatch {
  return {
    spec: patchifySpec,
    buffers: [buffers.params, buffers.image, buffers.gamma, buffers.beta, buffers.out],
    workgroups: [ceilDiv(patchCount(shape), WORKGROUP[0]), 1, 1],
    scope,
  };
}
