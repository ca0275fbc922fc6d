import code from './patchify.wgsl?raw';
import { bufferList, declareKernel, kernelSpec, packUniforms, type KernelVariant } from './declaration.ts';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

export const patchifyDeclaration = declareKernel({
  name: 'patchify',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'image', kind: 'read-only-storage' },
    { name: 'gamma', kind: 'read-only-storage' },
    { name: 'beta', kind: 'read-only-storage' },
    { name: 'out', kind: 'storage' },
  ],
  uniforms: [
    { name: 'channels', type: 'u32' },
    { name: 'height', type: 'u32' },
    { name: 'width', type: 'u32' },
    { name: 'patchSize', type: 'u32' },
    { name: 'gridWidth', type: 'u32' },
    { name: 'patches', type: 'u32' },
    { name: 'patchDim', type: 'u32' },
    { name: 'paddedDim', type: 'u32' },
    { name: 'eps', type: 'f32' },
  ],
});

const VARIANT: KernelVariant = { code, workgroupSize: [64, 1, 1], description: 'one patch per invocation' };

export const patchifySpec: ProgramSpec = kernelSpec(patchifyDeclaration, 'patches', VARIANT, {});

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
  return packUniforms(patchifyDeclaration, {
    channels: shape.channels,
    height: shape.height,
    width: shape.width,
    patchSize: shape.patch,
    gridWidth: shape.width / shape.patch,
    patches: patchCount(shape),
    patchDim: shape.patch * shape.patch * shape.channels,
    paddedDim: shape.paddedDim,
    eps: shape.eps ?? 1e-5,
  });
}

export type PatchifyBuffers = Record<(typeof patchifyDeclaration.bindings)[number]['name'], GPUBuffer>;

export function patchifyDispatch(shape: PatchifyShape, buffers: PatchifyBuffers, scope: string): Dispatch {
  return {
    spec: patchifySpec,
    buffers: bufferList(patchifyDeclaration, buffers),
    workgroups: [ceilDiv(patchCount(shape), VARIANT.workgroupSize[0]), 1, 1],
    scope,
  };
}
