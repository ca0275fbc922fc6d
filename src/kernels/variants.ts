/**
 * The kernels the engine can choose an implementation for, their variants,
 * and the two fixed choices: the original kernels (`BASELINE_VARIANTS`, kept
 * so a benchmark compares before and after in one run) and the safe default
 * used when nothing was tuned or tuning failed (`DEFAULT_VARIANTS`).
 */
import { ATTENTION_VARIANTS, type AttentionVariantName } from './attention.ts';
import type { KernelVariant } from './declaration.ts';
import { MATMUL_VARIANTS, type MatmulVariantName } from './matmul.ts';

export interface KernelVariants {
  matmul: MatmulVariantName;
  attention: AttentionVariantName;
}

export type TunableKernel = keyof KernelVariants;

export const TUNABLE_KERNELS: Record<TunableKernel, Readonly<Record<string, KernelVariant>>> = {
  matmul: MATMUL_VARIANTS,
  attention: ATTENTION_VARIANTS,
};

export const BASELINE_VARIANTS: KernelVariants = { matmul: '4x4', attention: 'pairs' };

/** The fastest on SwiftShader when they were written (BENCHMARKS.md), and correct on every shape. */
export const DEFAULT_VARIANTS: KernelVariants = { matmul: '8x8', attention: 'wide8' };

/** Variants of a kernel this adapter can run: those whose required features it has. */
export function candidateVariants(
  kernel: TunableKernel,
  features: { has(name: string): boolean },
  registry: Record<TunableKernel, Readonly<Record<string, KernelVariant>>> = TUNABLE_KERNELS,
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
  return { matmul: record.matmul as MatmulVariantName, attention: record.attention as AttentionVariantName };
}

/** "matmul: 8x8 (8×8 outputs per invocation, vec4 loads)" per kernel, for the engine panel and the bench. */
export function describeVariants(variants: KernelVariants): Record<TunableKernel, string> {
  return {
    matmul: `${variants.matmul} (${MATMUL_VARIANTS[variants.matmul].description})`,
    attention: `${variants.attention} (${ATTENTION_VARIANTS[variants.attention].description})`,
  };
}
