import common from './attentionCommon.wgsl?raw';
import pairs from './attention.wgsl?raw';
import { blockedAttentionMain, KEY_TILE_VEC4S } from './attentionBlocked.ts';
import { bufferList, declareKernel, kernelSpec, packUniforms, type KernelVariant } from './declaration.ts';
import { ceilDiv, type Dispatch, type ProgramSpec } from './program.ts';

/** The kernel keeps a query and an accumulator of dh values per query per invocation (MAX_DH4 = dh/4 in WGSL). */
export const MAX_DIM_HEAD = 256;

export const attentionDeclaration = declareKernel({
  name: 'attention',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'w', kind: 'read-only-storage' },
    { name: 'out', kind: 'storage' },
    { name: 'probabilities', kind: 'storage' },
  ],
  uniforms: [
    { name: 'tokens', type: 'u32' },
    { name: 'heads', type: 'u32' },
    { name: 'dh4', type: 'u32' },
    { name: 'inner4', type: 'u32' },
    { name: 'scale', type: 'f32' },
  ],
  sharedConstants: { MAX_DH4: MAX_DIM_HEAD / 4 },
});

export interface AttentionVariant extends KernelVariant {
  /** Query tokens per invocation: sizes the dispatch, and must equal the shader's QUERIES_PER_INVOCATION. */
  queriesPerInvocation: number;
}

/**
 * `pairs` is the original kernel; `blocked`, `wide`, `blocked8` and `wide8` walk keys four or eight at a time for
 * four or eight queries (flash-style, online softmax); `tiled` and `tiled8` do the same from tiles of keys staged in
 * workgroup memory, as flash attention on GPUs does.
 */
export const ATTENTION_VARIANTS = {
  pairs: { code: common + pairs, workgroupSize: [64, 1, 1], queriesPerInvocation: 2, description: '2 queries per invocation, one key at a time (the original kernel)' },
  blocked: { code: common + blockedAttentionMain(4, 4), workgroupSize: [64, 1, 1], queriesPerInvocation: 4, description: '4 queries × 4 keys per step, online softmax' },
  wide: { code: common + blockedAttentionMain(4, 8), workgroupSize: [64, 1, 1], queriesPerInvocation: 4, description: '4 queries × 8 keys per step, online softmax' },
  blocked8: { code: common + blockedAttentionMain(8, 4), workgroupSize: [32, 1, 1], queriesPerInvocation: 8, description: '8 queries × 4 keys per step, online softmax' },
  wide8: { code: common + blockedAttentionMain(8, 8), workgroupSize: [32, 1, 1], queriesPerInvocation: 8, description: '8 queries × 8 keys per step, online softmax' },
  tiled: {
    code: common + blockedAttentionMain(4, 8, { stageKeys: true }),
    workgroupSize: [64, 1, 1],
    queriesPerInvocation: 4,
    description: '4 queries × 8 keys per step, online softmax, key tiles staged in workgroup memory',
    sharedConstants: { KEY_TILE_VEC4S },
  },
  tiled8: {
    code: common + blockedAttentionMain(8, 8, { stageKeys: true }),
    workgroupSize: [32, 1, 1],
    queriesPerInvocation: 8,
    description: '8 queries × 8 keys per step, online softmax, key tiles staged in workgroup memory',
    sharedConstants: { KEY_TILE_VEC4S },
  },
} as const satisfies Record<string, AttentionVariant>;

export type AttentionVariantName = keyof typeof ATTENTION_VARIANTS;

export function attentionSpec(writeProbabilities: boolean, variant: AttentionVariantName = 'pairs'): ProgramSpec {
  const declared: AttentionVariant = ATTENTION_VARIANTS[variant];
  return kernelSpec(attentionDeclaration, variant, { ...declared, sharedConstants: { ...declared.sharedConstants, QUERIES_PER_INVOCATION: declared.queriesPerInvocation } }, { WRITE_PROBS: Number(writeProbabilities) });
}

export interface AttentionShape {
  tokens: number;
  heads: number;
  dimHead: number;
}

export function attentionParams({ tokens, heads, dimHead }: AttentionShape): ArrayBuffer {
  if (dimHead % 4 !== 0 || dimHead > MAX_DIM_HEAD) throw new Error(`attention needs dim_head a multiple of 4 and ≤ ${MAX_DIM_HEAD}, got ${dimHead}`);
  return packUniforms(attentionDeclaration, { tokens, heads, dh4: dimHead / 4, inner4: (heads * dimHead) / 4, scale: 1 / Math.sqrt(dimHead) });
}

/**
 * w: W = LN1(Z)·Uᵀ, [tokens, heads·dh]; out: O, [tokens, heads·dh];
 * probabilities: [heads, tokens, tokens] when written, else any small buffer.
 */
export type AttentionBuffers = Record<(typeof attentionDeclaration.bindings)[number]['name'], GPUBuffer>;

export function attentionDispatch(shape: AttentionShape, writeProbabilities: boolean, buffers: AttentionBuffers, scope: string, variant: AttentionVariantName = 'pairs'): Dispatch {
  const { workgroupSize, queriesPerInvocation } = ATTENTION_VARIANTS[variant];
  return {
    spec: attentionSpec(writeProbabilities, variant),
    buffers: bufferList(attentionDeclaration, buffers),
    workgroups: [ceilDiv(ceilDiv(shape.tokens, queriesPerInvocation), workgroupSize[0]), shape.heads, 1],
    scope,
  };
}

/** Scores and weighted sum: 2·N²·dh multiply-adds per head. */
export function attentionFlops({ tokens, heads, dimHead }: AttentionShape): number {
  return 4 * tokens * tokens * dimHead * heads;
}
