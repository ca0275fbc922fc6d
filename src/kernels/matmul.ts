import bindingsAndEpilogue from './matmulCommon.wgsl?raw';
import productShape from './matmulShape.wgsl?raw';
import blocks4x4 from './matmul.wgsl?raw';
import rowStatistics from './matmulRowStatistics.wgsl?raw';
import tiled32 from './matmulTiled.wgsl?raw';
import { blockedMatmulMain } from './matmulBlocked.ts';
import { SPLIT_K_TILE, SPLIT_K_WORKGROUP, splitKMatmulMain } from './matmulSplitK.ts';
import { bufferList, declareKernel, kernelSpec, packUniforms, type KernelVariant } from './declaration.ts';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

/** What every variant's pipeline begins with: Params and the edge clamps, then the bindings and the epilogue. */
const common = productShape + bindingsAndEpilogue;

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
  /** Rows and columns of C each workgroup owns, where that is not block × workgroup size (split-K). */
  tile?: readonly [number, number];
}

/** A variant's pipeline: the shared interface, the fused LayerNorm's statistics, then its main(). */
const blocked = (main: string) => common + rowStatistics + main;
/** WGSL's `enable` directives must open the module; module-scope declarations after them may come in any order. */
const enabling = (extension: string, main: string) => `enable ${extension};\n` + blocked(main);

/**
 * The f16 variant's main() multiplies in the type its pipeline aliases as `P`.
 * Its tolerance against the f32 reference is docs/MEASUREMENTS.md §3's: an
 * 11-bit significand rounds each product and four-term sum by up to 2⁻¹¹.
 */
const F16_MAIN = blockedMatmulMain(8, 8, 'P');
const F16_TOLERANCE = 1e-2;

/**
 * Register blocks of 8×8 invocations (wider blocks serve more dot products per
 * vec4 loaded, most of the speed on SwiftShader, docs/PLATFORM.md; `4x4` is
 * the original kernel), `tiled32` (32×32 tiles in workgroup memory, as GPU
 * libraries do), split-K for GPUs whose cores the other shapes leave idle,
 * and f16 products where the adapter has `shader-f16`.
 */
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
  splitK: {
    code: blocked(splitKMatmulMain('workgroup')),
    workgroupSize: SPLIT_K_WORKGROUP,
    block: [4, 4],
    tile: [SPLIT_K_TILE, SPLIT_K_TILE],
    description: 'split-K: 4 invocations per 4×4 block walk quarters of K, added in workgroup memory',
    sharedConstants: { SPLIT_K_TILE },
  },
  'splitK-subgroup': {
    code: enabling('subgroups', splitKMatmulMain('subgroup')),
    workgroupSize: SPLIT_K_WORKGROUP,
    block: [4, 4],
    tile: [SPLIT_K_TILE, SPLIT_K_TILE],
    description: 'split-K: 4 subgroup lanes per 4×4 block walk quarters of K, added by subgroup shuffles',
    requires: ['subgroups'],
    sharedConstants: { SPLIT_K_TILE },
  },
  '8x8-f16': {
    code: enabling('f16', 'alias P = f16;\n' + F16_MAIN),
    workgroupSize: [8, 8, 1],
    block: [8, 8],
    description: '8×8 outputs per invocation, products and 4-term sums in f16, f32 accumulation',
    requires: ['shader-f16'],
    tolerance: F16_TOLERANCE,
  },
} as const satisfies Record<string, MatmulVariant>;

/** The f16 variant's main() with P = f32: runs on every adapter, so its indexing is tested everywhere (the kernel tests' stand-in). */
export const F16_CODE_AS_F32 = blocked('alias P = f32;\n' + F16_MAIN);

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
  const chosen: MatmulVariant = MATMUL_VARIANTS[variant];
  const [tileRows, tileCols] = chosen.tile ?? [chosen.block[0] * chosen.workgroupSize[1], chosen.block[1] * chosen.workgroupSize[0]];
  return {
    spec: matmulSpec(options, variant),
    buffers: bufferList(matmulDeclaration, buffers),
    workgroups: [ceilDiv(shape.N, tileCols), ceilDiv(shape.M, tileRows), 1],
    scope,
  };
}

export function matmulFlops(shape: MatmulShape): number {
  return 2 * shape.M * shape.N * shape.K;
}
