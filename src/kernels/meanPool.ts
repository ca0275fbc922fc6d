import code from './meanPool.wgsl?raw';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

const WORKGROUP: [number, number, number] = [64, 1, 1];

export const meanPoolSpec: ProgramSpec = {
  name: 'meanPool',
  code,
  entryPoint: 'main',
  bindings: ['uniform', 'read-only-storage', 'storage'],
  workgroupSize: WORKGROUP,
  constants: {},
};

export function meanPoolParams(tokens: number, dim: number): ArrayBuffer {
  return new Uint32Array([tokens, dim, 0, 0]).buffer;
}

export function meanPoolDispatch(dim: number, buffers: { params: GPUBuffer; z: GPUBuffer; out: GPUBuffer }, scope: string): Dispatch {
  return {
    spec: meanPoolSpec,
    buffers: [buffers.params, buffers.z, buffers.out],
    workgroups: [ceilDiv(dim, WORKGROUP[0]), 1, 1],
    scope,
  };
}
