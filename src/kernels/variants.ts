/**
 * The kernels the engine can choose an implementation for, their variants,
 * and the two fixed choices: the original kernels (`BASELINE_VARIANTS`, kept
 * so a benchmark compares before and after in one run) and the safe default
 * used when nothing was tuned or tuning failed (`DEFAULT_VARIANTS`).
 */
import { ATTENTION_VARIANTS, type AttentionVariantName } from './attention.ts';
import type { KernelVariant } from './declaration.ts';
import { MATMUL_VARIANTS, type MatmulVariantName } from './matmul.ts';

/**
 * Where LN1 runs: fused into the qkv matmul's A operand, or as its own
 * layerNorm dispatch (without affine; γ, β stay folded into the weights)
 * followed by a plain matmul. On SwiftShader the fusion costs the matmul
 * about as much as the product itself, far more than a separate pass.
 */
export const QKV_NORM_VARIANTS = {
  fused: { description: 'LN1 fused into the qkv matmul' },
  separate: { description: 'LN1 as its own dispatch, then a plain qkv matmul' },
} as const satisfies Record<string, TunableVariant>;

export type QkvNormVariantName = keyof typeof QKV_NORM_VARIANTS;

export interface KernelVariants {
  matmul: MatmulVariantName;
  attention: AttentionVariantName;
  qkvNorm: QkvNormVariantName;
}

export type TunableKernel = keyof KernelVariants;

/** What the tuner needs of a variant: whether the adapter can run it, how far it may deviate from f32, and how to name it. */
export type TunableVariant = Pick<KernelVariant, 'description' | 'requires' | 'tolerance'>;

export const TUNABLE_KERNELS: Record<TunableKernel, Readonly<Record<string, TunableVariant>>> = {
  matmul: MATMUL_VARIANTS,
  attention: ATTENTION_VARIANTS,
  qkvNorm: QKV_NORM_VARIANTS,
};

export const BASELINE_VARIANTS: KernelVariants = { matmul: '4x4', attention: 'pairs', qkvNorm: 'fused' };

/** The fastest on SwiftShader when they were written (BENCHMARKS.md), and correct on every shape. */
export const DEFAULT_VARIANTS: KernelVariants = { matmul: '8x8', attention: 'wide8', qkvNorm: 'separate' };

/** Variants of a kernel this adapter can run: those whose required features it has. */
export function candidateVariants(
  kernel: TunableKernel,
  features: { has(name: string): boolean },
  registry: Record<TunableKernel, Readonly<Record<string, TunableVariant>>> = TUNABLE_KERNELS,
): string[] {
  return Object.entries(registry[kernel])
    .filter(([, variant]) => (variant.requires ?? []).every((f) => features.has(f)))
    .map(([name]) => name);
}

/** Parses a stored or user-given choice; undefined unless every kernel names one of its variants. */
export function parseVariants(value: unknown): KernelVariants | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  for (const kernel of Object.keys(TUNABLE_KERNELS) as TunableKernel[]) {
    const name = record[kernel];
    if (typeof name !== 'string' || !Object.hasOwn(TUNABLE_KERNELS[kernel], name)) return undefined;
  }
  return { matmul: record.matmul as MatmulVariantName, attention: record.attention as AttentionVariantName, qkvNorm: record.qkvNorm as QkvNormVariantName };
}

/** "matmul: 8x8 (8×8 outputs per invocation, vec4 loads)" per kernel, for the engine panel and the bench. */
export function describeVariants(variants: KernelVariants): Record<TunableKernel, string> {
  return {
    matmul: `${variants.matmul} (${MATMUL_VARIANTS[variants.matmul].description})`,
    attention: `${variants.attention} (${ATTENTION_VARIANTS[variants.attention].description})`,
    qkvNorm: `${variants.qkvNorm} (${QKV_NORM_VARIANTS[variants.qkvNorm].description})`,
  };
}
