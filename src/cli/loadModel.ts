/**
 * Model files for the commands, by extension: the project's ONNX files, safetensors
 * (config from `__metadata__.config`, or inferred from the tensor shapes), and
 * PyTorch checkpoints (read without Python; see loadPthModelFile).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { modelFromSafetensorsAuto } from '../engine/inferConfig.ts';
import type { CrateModel } from '../engine/model.ts';
import { modelFromOnnx } from '../engine/onnx/onnxModel.ts';
import { modelFromPth } from '../engine/pth/index.ts';
import { CliError, readInput } from './errors.ts';

export interface ModelFileOptions {
  /** Heads, where the file does not say (.pth, safetensors without a config). */
  heads?: number;
  onNote?: (line: string) => void;
}

type Loader = (bytes: Uint8Array, options: ModelFileOptions) => CrateModel;

const LOADERS: Record<string, Loader> = {
  '.onnx': (bytes) => modelFromOnnx(bytes).model,
  '.safetensors': (bytes, options) => {
    const loaded = modelFromSafetensorsAuto(bytes, { heads: options.heads });
    for (const note of loaded.notes) options.onNote?.(note);
    return loaded.model;
  },
};

export function loadModelFile(path: string, read: (path: string) => Uint8Array = readFileSync, options: ModelFileOptions = {}): CrateModel {
  const ext = extname(path).toLowerCase();
  const loader = LOADERS[ext];
  if (!loader) {
    const supported = [...Object.keys(LOADERS), '.pth', '.pt', '.pth.tar'].join(', ');
    throw new CliError(`${path}: unsupported model file extension ${JSON.stringify(ext || '(none)')}; supported: ${supported}`);
  }
  const bytes = readInput(path, 'model file', read);
  try {
    return loader(bytes, options);
  } catch (error) {
    throw new CliError(`${path}: not a valid CRATE model: ${(error as Error).message}`);
  }
}

/** Any accepted model file: PyTorch checkpoints asynchronously, the others as loadModelFile. */
export async function loadAnyModelFile(path: string, options: ModelFileOptions = {}): Promise<CrateModel> {
  return isPthPath(path) ? loadPthModelFile(path, options) : loadModelFile(path, readFileSync, options);
}

/** PyTorch `torch.save` checkpoints, by name: .pth, .pt, .pth.tar. */
export function isPthPath(path: string): boolean {
  return /\.(pth|pt|pth\.tar)$/i.test(path);
}

/**
 * Reads a PyTorch checkpoint without Python (nothing in it is executed): the
 * config is inferred from the state dict, heads proposed unless given; what
 * was assumed goes to `onNote`, one line each.
 */
export async function loadPthModelFile(
  path: string,
  options: { heads?: number; onNote?: (line: string) => void } = {},
  read: (path: string) => Uint8Array = readFileSync,
): Promise<CrateModel> {
  const bytes = readInput(path, 'model file', read);
  try {
    const loaded = await modelFromPth(bytes, { heads: options.heads });
    for (const note of loaded.notes) options.onNote?.(note);
    return loaded.model;
  } catch (error) {
    throw new CliError(`${path}: not a valid CRATE model: ${(error as Error).message}`);
  }
}
