import code from './attention.wgsl?raw';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

const WORKGROUP: [number, number, number] = [64, 1, 1];
/** Each invocation serves two query tokens, sharing every key row it loads. */
const QUERIES_PER_INVOCATION = 2;
/** The kernel keeps a query and an accumulator of dh values per invocation. */
export const MAX_DIM_HEAD = 256;

export function attentionSpec(writeProbabilities: boolean): ProgramSpec {
  return {
    name: 'attention',
    code,
    entryPoint: 'main',
    bindings: ['uniform', 'read-only-storage', 'storage', 'storage'],
    workgroupSize: WORKGROUP,
    constants: { WRITE_PROBS: Number(writeProbabilities) },
  };
}

export interface AttentionShape {
  tokens: number;
  heads: number;
  dimHead: number;
}

export function attentionParams({ tokens, heads, dimHead }: AttentionShape): ArrayBuffer {
  if (dimHead % 4 !== 0 || dimHead > MAX_DIM_HEAD) throw new Error(`attention needs dim_head a multiple of 4 and ≤ ${MAX_DIM_HEAD}, got ${dimHead}`);
  const buffer = new ArrayBuffer(32);
  const u32 = new Uint32Array(buffer);
  u32[0] = tokens;
  u32[1] = heads;
  u32[2] = dimHead / 4;
  u32[3] = (heads * dimHead) / 4;
  new Float32Array(buffer)[4] = 1 / Math.sqrt(dimHead);
  return buffer;
}

export interface AttentionBuffers {
  params: GPUBuffer;
  /** W = LN1(Z)·Uᵀ, [tokens, heads·dh]. */
  w: GPUBuffer;
  /** O, [tokens, heads·dh]. */
  out: GPUBuffer;
  /** [heads, tokens, tokens] when probabilities are written, else any small buffer. */
  probabilities: GPUBuffer;
}

export function attentionDispatch(shape: AttentionShape, writeProbabilities: boolean, buffers: AttentionBuffers, scope: string): Dispatch {
  return {
    spec: attentionSpec(writeProbabilities),
    buffers: [buffers.params, buffers.w, buffers.out, buffers.probabilities],
    workgroups: [ceilDiv(ceilDiv(shape.tokens, QUERIES_PER_INVOCATION), WORKGROUP[0]), shape.heads, 1],
    scope,
  };
}

/** Scores and weighted sum: 2·N²·dh multiply-adds per head. */
export function attentionFlops({ tokens, heads, dimHead }: AttentionShape): number {
  return 4 * tokens * tokens * dimHead * heads;
}
