/**
 * The CRATE-α engine's own product for its ISTA block (alphaIsta.wgsl): a
 * 4×4-blocked A·Bᵀ whose A may be LayerNormed (γ, β applied) or passed through
 * a ReLU as it is loaded, and whose residual may enter as r + ReLU(r). Only
 * src/engine/gpu/alphaEngine.ts uses it; the shared matmul (matmul.ts) is unchanged.
 */
import main from './alphaIsta.wgsl?raw';
import productShape from './matmulShape.wgsl?raw';
import rowStatistics from './matmulRowStatistics.wgsl?raw';
import { bufferList, declareKernel, kernelSpec, packUniforms } from './declaration.ts';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

export const alphaIstaDeclaration = declareKernel({
  name: 'alphaIsta',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'a', kind: 'read-only-storage' },
    { name: 'b', kind: 'read-only-storage' },
    { name: 'gamma', kind: 'read-only-storage' },
    { name: 'beta', kind: 'read-only-storage' },
    { name: 'residual', kind: 'read-only-storage' },
    { name: 'out', kind: 'storage' },
  ],
  uniforms: [
    { name: 'M', type: 'u32' },
    { name: 'N', type: 'u32' },
    { name: 'K4', type: 'u32' },
    { name: 'alpha', type: 'f32' },
    { name: 'beta', type: 'f32' },
    { name: 'shift', type: 'f32' },
    { name: 'eps', type: 'f32' },
    { name: '_pad', type: 'u32' },
  ],
});

const WORKGROUP = [8, 8, 1] as const;
const BLOCK = 4;

/** Params and the edge clamps as the shared matmul has them, then this kernel, then the row statistics (which read its `a` and `params`). */
const code = productShape + main + rowStatistics;

export interface AlphaIstaOptions {
  /** LayerNorm A's rows as they are loaded, with the `gamma` and `beta` buffers (params.eps). */
  normA?: boolean;
  /** A's elements go through max(·, 0) as they are loaded. */
  reluA?: boolean;
  residual?: boolean;
  /** The residual r enters as r + max(r, 0) (needs `residual`). */
  residualPlusRelu?: boolean;
  relu?: boolean;
}

export interface AlphaIstaShape {
  M: number;
  N: number;
  /** A multiple of 4 (vec4 loads along K). */
  K: number;
  alpha?: number;
  beta?: number;
  shift?: number;
}

export function alphaIstaSpec(options: AlphaIstaOptions): ProgramSpec {
  return kernelSpec(alphaIstaDeclaration, '4x4', { code, workgroupSize: WORKGROUP, description: '4×4 outputs per invocation, vec4 loads' }, {
    NORM_A: Number(!!options.normA),
    RELU_A: Number(!!options.reluA),
    HAS_RESIDUAL: Number(!!options.residual),
    RESIDUAL_PLUS_RELU: Number(!!options.residualPlusRelu),
    RELU: Number(!!options.relu),
  });
}

export function alphaIstaParams(shape: AlphaIstaShape, eps = 0): ArrayBuffer {
  if (shape.K % 4 !== 0) throw new Error(`alphaIsta K = ${shape.K} is not a multiple of 4`);
  return packUniforms(alphaIstaDeclaration, { M: shape.M, N: shape.N, K4: shape.K / 4, alpha: shape.alpha ?? 1, beta: shape.beta ?? 1, shift: shape.shift ?? 0, eps });
}

export type AlphaIstaBuffers = Record<(typeof alphaIstaDeclaration.bindings)[number]['name'], GPUBuffer>;

export function alphaIstaDispatch(options: AlphaIstaOptions, shape: AlphaIstaShape, buffers: AlphaIstaBuffers, scope: string): Dispatch {
  return {
    spec: alphaIstaSpec(options),
    buffers: bufferList(alphaIstaDeclaration, buffers),
    workgroups: [ceilDiv(ceilDiv(shape.N, BLOCK), WORKGROUP[0]), ceilDiv(ceilDiv(shape.M, BLOCK), WORKGROUP[1]), 1],
    scope,
  };
}
