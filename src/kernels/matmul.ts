import code from './matmul.wgsl?raw';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

export interface MatmulOptions {
  /** Normalise A's rows (LayerNorm without affine; γ, β folded into B and bias by the caller). */
  normA?: boolean;
  bias?: boolean;
  residual?: boolean;
  relu?: boolean;
}

/** Four rows and four columns per invocation, 8×8 invocations: a 32×32 tile of C per workgroup. */
const WORKGROUP: [number, number, number] = [8, 8, 1];

export function matmulSpec(options: MatmulOptions): ProgramSpec {
  return {
    name: 'matmul',
    code,
    entryPoint: 'main',
    bindings: ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage'],
    workgroupSize: WORKGROUP,
    constants: {
      NORM_A: Number(!!options.normA),
      HAS_BIAS: Number(!!options.bias),
      HAS_RESIDUAL: Number(!!options.residual),
      RELU: Number(!!options.relu),
    },
  };
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

/** The uniform block of matmul.wgsl's Params. */
export function matmulParams(shape: MatmulShape, eps = 1e-5): ArrayBuffer {
  if (shape.K % 4 !== 0) throw new Error(`matmul K = ${shape.K} is not a multiple of 4`);
  const buffer = new ArrayBuffer(32);
  const u32 = new Uint32Array(buffer);
  const f32 = new Float32Array(buffer);
  u32[0] = shape.M;
  u32[1] = shape.N;
  u32[2] = shape.K / 4;
  f32[3] = shape.alpha ?? 1;
  f32[4] = shape.beta ?? 1;
  f32[5] = shape.shift ?? 0;
  f32[6] = eps;
  return buffer;
}

export interface MatmulBuffers {
  params: GPUBuffer;
  a: GPUBuffer;
  b: GPUBuffer;
  /** Unused bindings take any small buffer; the shader never reads them. */
  bias: GPUBuffer;
  residual: GPUBuffer;
  out: GPUBuffer;
}

export function matmulDispatch(options: MatmulOptions, shape: MatmulShape, buffers: MatmulBuffers, scope: string): Dispatch {
  return {
    spec: matmulSpec(options),
    buffers: [buffers.params, buffers.a, buffers.b, buffers.bias, buffers.residual, buffers.out],
    workgroups: [ceilDiv(ceilDiv(shape.N, 4), WORKGROUP[0]), ceilDiv(ceilDiv(shape.M, 4), WORKGROUP[1]), 1],
    scope,
  };
}

export function matmulFlops(shape: MatmulShape): number {
  return 2 * shape.M * shape.N * shape.K;
}
