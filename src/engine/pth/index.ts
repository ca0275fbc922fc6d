/**
 * PyTorch checkpoints (`torch.save`, PyTorch ≥ 1.6 zip format) → CrateModel,
 * with no Python and nothing executed. See checkpoint.ts for the reader and
 * torchPickle.ts for the whitelist.
 */
import type { AnyCrateModel } from '../alphaModel.ts';
import type { AnyCrateConfig } from '../config.ts';
import { anyModelFromTensors, inferAnyConfig, inferConfig, tensorNamesOf, type InferOptions, type InferredModel } from '../inferConfig.ts';
import { modelFromTensors, officialTensorShapes } from '../model.ts';
import type { ByteSource } from './byteSource.ts';
import { openPth, type PthCheckpoint, type PthLayout, type PthOptions, type PthStats } from './checkpoint.ts';

export { PthError } from './errors.ts';
export { openPth, readPth } from './checkpoint.ts';
export { blobSource, bytesSource, type ByteSource } from './byteSource.ts';
export type { PthCheckpoint, PthLayout, PthOptions, PthStats, PthTensorInfo } from './checkpoint.ts';
export type { ProgressCallback } from './slicer.ts';

export interface PthModel extends InferredModel {
  layout: PthLayout;
  strippedPrefix: string;
  stats: PthStats;
}

/**
 * Opens a checkpoint, infers the config from its state dict (heads from
 * `options.heads` or proposed), and decodes only the official tensors.
 */
export async function modelFromPth(bytes: Uint8Array | ByteSource, options: PthOptions & InferOptions = {}): Promise<PthModel> {
  const checkpoint: PthCheckpoint = await openPth(bytes, options);
  const shapes = new Map([...checkpoint.tensors].map(([name, info]) => [name, info.shape] as const));
  const { config, notes } = inferConfig(shapes, options);
  const tensors = await checkpoint.load(officialTensorShapes(config).map(([name]) => name));
  return {
    model: modelFromTensors(config, tensors),
    config,
    notes,
    layout: checkpoint.layout,
    strippedPrefix: checkpoint.strippedPrefix,
    stats: checkpoint.stats(),
  };
}

export interface AnyPthModel {
  model: AnyCrateModel;
  config: AnyCrateConfig;
  notes: string[];
  layout: PthLayout;
  strippedPrefix: string;
  stats: PthStats;
}

/**
 * As modelFromPth, for either family: a CRATE-α checkpoint in the port's layout (a plain state
 * dict, docs/MEASUREMENTS.md §1.1) gives a CrateAlphaModel, anything else is read as CRATE.
 */
export async function anyModelFromPth(bytes: Uint8Array | ByteSource, options: PthOptions & InferOptions = {}): Promise<AnyPthModel> {
  const checkpoint: PthCheckpoint = await openPth(bytes, options);
  const shapes = new Map([...checkpoint.tensors].map(([name, info]) => [name, info.shape] as const));
  const { config, notes } = inferAnyConfig(shapes, options);
  const tensors = await checkpoint.load(tensorNamesOf(config));
  return {
    model: anyModelFromTensors(config, tensors),
    config,
    notes,
    layout: checkpoint.layout,
    strippedPrefix: checkpoint.strippedPrefix,
    stats: checkpoint.stats(),
  };
}
