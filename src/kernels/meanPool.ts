import code from './meanPool.wgsl?raw';
import { bufferList, declareKernel, kernelSpec, packUniforms, type KernelVariant } from './declaration.ts';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

export const meanPoolDeclaration = declareKernel({
  name: 'meanPool',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'z', kind: 'read-only-storage' },
    { name: 'out', kind: 'storage' },
  ],
  uniforms: [
    { name: 'tokens', type: 'u32' },
    { name: 'dim', type: 'u32' },
  ],
});

const VARIANT: KernelVariant = { code, workgroupSize: [64, 1, 1], description: 'one column per invocation' };

export const meanPoolSpec: ProgramSpec = kernelSpec(meanPoolDeclaration, 'columns', VARIANT, {});

export function meanPoolParams(tokens: number, dim: number): ArrayBuffer {
  return packUniforms(meanPoolDeclaration, { tokens, dim });
}

export function meanPoolDispatch(dim: number, buffers: Record<(typeof meanPoolDeclaration.bindings)[number]['name'], GPUBuffer>, scope: string): Dispatch {
  return {
    spec: meanPoolSpec,
    buffers: bufferList(meanPoolDeclaration, buffers),
    workgroups: [ceilDiv(dim, VARIANT.workgroupSize[0]), 1, 1],
    scope,
  };
}
