import common from './matmulCommon.wgsl?raw';
import blocks4x4 from './matmul.wgsl?raw';
import rowStatistics from './matmulRowStatistics.wgsl?raw';
import tiled32 from './matmulTiled.wgsl?raw';
import { blockedMatmulMain } from './matmulBlocked.ts';
import { bufferList, declareKernel, kernelSpec, packUniforms, type KernelVariant } from './declaration.ts';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

export const matmulDeclaration = declareKernel({
  name: 'matmul',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'a', kind: 'read-only-storage' },
    { name: 'b', kind: 'read-only-storage' },
    { name: 'bias', kind: 'read-only-storage' },
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

export interface MatmulVariant extends KernelVariant {
  /** Rows and columns of C each invocation owns. */
  block: readonly [number, number];
}

/**
 * Register-blocked variants, 8×8 invocations each. Wider blocks serve more
 * dot products per vec4 loaded; on SwiftShader, where every load is costly,
 * that is most of the speed (docs/PLATFORM.md). `4x4` is the original kernel;
 * `tiled32` stages 32×32 tiles in workgroup memory, as GPU libraries do.
 */
/** A register-blocked variant's pipeline: the shared interface, the fused LayerNorm's statistics, then its main(). */
const blocked = (main: string) => common + rowStatistics + main;

export const MATMUL_VARIANTS = {
  '4x4': { code: blocked(blocks4x4), workgroupSize: [8, 8, 1], block: [4, 4], description: '4×4 outputs per invocation, vec4 loads (the original kernel)' },
  '4x8': { code: blocked(blockedMatmulMain(4, 8)), workgroupSize: [8, 8, 1], block: [4, 8], description: '4×8 outputs per invocation, vec4 loads' },
  '8x4': { code: blocked(blockedMatmulMain(8, 4)), workgroupSize: [8, 8, 1], block: [8, 4], description: '8×4 outputs per invocation, vec4 loads' },
  '8x8': { code: blocked(blockedMatmulMain(8, 8)), workgroupSize: [8, 8, 1], block: [8, 8], description: '8×8 outputs per invocation, vec4 loads' },
  '8x16': { code: blocked(blockedMatmulMain(8, 16)), workgroupSize: [8, 8, 1], block: [8, 16], description: '8×16 outputs per invocation, vec4 loads' },
  '16x8': { code: blocked(blockedMatmulMain(16, 8)), workgroupSize: [8, 8, 1], block: [16, 8], description: '16×8 outputs per invocation, vec4 loads' },
  tiled32: {
    code: common + tiled32,
    workgroupSize: [8, 8, 1],
    block: [4, 4],
    description: '32×32 tiles in workgroup memory, 4×4 outputs per invocation',
    sharedConstants: { WG: 8 },
  },
} as const satisfies Record<string, MatmulVariant>;

export type MatmulVariantName = keyof typeof MATMUL_VARIANTS;

export interface MatmulOptions {
  /** Normalise A's rows (LayerNorm without affine; γ, β folded into B and bias by the caller). */
  normA?: boolean;
  bias?: boolean;
  residual?: boolean;
  relu?: boolean;
}

export function matmulSpec(options: MatmulOptions, variant: MatmulVariantName = '4x4'): ProgramSpec {
  return kernelSpec(matmulDeclaration, variant, MATMUL_VARIANTS[variant], {
    NORM_A: Number(!!options.normA),
    HAS_BIAS: Number(!!options.bias),
    HAS_RESIDUAL: Number(!!options.residual),
    RELU: Number(!!options.relu),
  });
}

export interface MatmulShape {
  M: number;
  N: number;
  /** Must be a multiple of 4 (operands are read as vec4); callers pad. */
  K: number;
  alpha?: number;
  beta?: number;
  shift?: number;
}

/** The uniform block of the kernel's Params. */
export function matmulParams(shape: MatmulShape, eps = 1e-5): ArrayBuffer {
  if (shape.K % 4 !== 0) throw new Error(`matmul K = ${shape.K} is not a multiple of 4`);
  return packUniforms(matmulDeclaration, { M: shape.M, N: shape.N, K4: shape.K / 4, alpha: shape.alpha ?? 1, beta: shape.beta ?? 1, shift: shape.shift ?? 0, eps });
}

/** One buffer per binding of matmulDeclaration; unused bindings take any small buffer, the shader never reads them. */
export type MatmulBuffers = Record<(typeof matmulDeclaration.bindings)[number]['name'], GPUBuffer>;

export function matmulDispatch(options: MatmulOptions, shape: MatmulShape, buffers: MatmulBuffers, scope: string, variant: MatmulVariantName = '4x4'): Dispatch {
  const { workgroupSize, block } = MATMUL_VARIANTS[variant];
  return {
    spec: matmulSpec(options, variant),
    buffers: bufferList(matmulDeclaration, buffers),
    workgroups: [ceilDiv(ceilDiv(shape.N, block[1]), workgroupSize[0]), ceilDiv(ceilDiv(shape.M, block[0]), workgroupSize[1]), 1],
    scope,
  };
}

export function matmulFlops(shape: MatmulShape): number {
  return 2 * shape.M * shape.N * shape.K;
}
