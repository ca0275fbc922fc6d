import code from './layerNorm.wgsl?raw';
import { bufferList, declareKernel, kernelSpec, packUniforms, type KernelVariant } from './declaration.ts';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

export const layerNormDeclaration = declareKernel({
  name: 'layerNorm',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'x', kind: 'read-only-storage' },
    { name: 'gamma', kind: 'read-only-storage' },
    { name: 'beta', kind: 'read-only-storage' },
    { name: 'addend', kind: 'read-only-storage' },
    { name: 'out', kind: 'storage' },
  ],
  uniforms: [
    { name: 'rows', type: 'u32' },
    { name: 'cols', type: 'u32' },
    { name: 'outRowOffset', type: 'u32' },
    { name: 'eps', type: 'f32' },
  ],
});

const VARIANT: KernelVariant = { code, workgroupSize: [64, 1, 1], description: 'one row per invocation' };

export function layerNormSpec(hasAdd: boolean): ProgramSpec {
  return kernelSpec(layerNormDeclaration, 'rows', VARIANT, { HAS_ADD: Number(hasAdd) });
}

export interface LayerNormShape {
  rows: number;
  cols: number;
  outRowOffset?: number;
  eps?: number;
}

export function layerNormParams(shape: LayerNormShape): ArrayBuffer {
  return packUniforms(layerNormDeclaration, { rows: shape.rows, cols: shape.cols, outRowOffset: shape.outRowOffset ?? 0, eps: shape.eps ?? 1e-5 });
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
    buffers: bufferList(layerNormDeclaration, { ...buffers, addend: buffers.addend ?? buffers.unused }),
    workgroups: [ceilDiv(shape.rows, VARIANT.workgroupSize[0]), 1, 1],
    scope,
  };
}
