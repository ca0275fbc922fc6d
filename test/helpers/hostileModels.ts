/**
 * Variants of the grey17 fixture model for the CLI's hostile-input tests
 * (issue 20): labels carrying terminal escapes, and weights whose forward
 * pass overflows to NaN in one layer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../src/engine/safetensors.ts';
import { FIXTURE_DIR } from './fixtures.ts';

const grey17 = () => readSafetensors(readFileSync(join(FIXTURE_DIR, 'grey17.model.safetensors')));

/** grey17 with its class labels replaced. */
export function writeRelabelledModel(path: string, labels: (label: string, index: number) => string): void {
  const { tensors, metadata } = grey17();
  const config = JSON.parse(metadata.config);
  config.labels = config.labels.map(labels);
  writeFileSync(path, writeSafetensors(tensors, { ...metadata, config: JSON.stringify(config) }));
}

/**
 * grey17 with layer 1's U scaled by 1e30: W = LN(Z)·Uᵀ stays finite, but
 * the attention logits W·Wᵀ overflow float32, so A of layer 1 is NaN.
 */
export const OVERFLOWING_LAYER = 1;
export function writeOverflowingModel(path: string): void {
  const { tensors, metadata } = grey17();
  const name = `transformer.layers.${OVERFLOWING_LAYER}.0.fn.qkv.weight`;
  const u = tensors.get(name)!;
  tensors.set(name, { shape: u.shape, data: u.data.map((v) => v * 1e30) });
  writeFileSync(path, writeSafetensors(tensors, metadata));
}
