/**
 * Model files for the commands, by extension: the project's ONNX files, safetensors
 * (config from `__metadata__.config`, or inferred from the tensor shapes), and
 * PyTorch checkpoints (read without Python; see loadPthModelFile).
 */
import { extname } from 'node:path';
import { modelFromSafetensorsAuto } from '../engine/inferConfig.ts';
import type { CrateModel } from '../engine/model.ts';
import { modelFromOnnx } from '../engine/onnx/onnxModel.ts';
import { isAlphaModel, type AnyCrateModel } from '../engine/alphaModel.ts';
import { anyModelFromPth } from '../engine/pth/index.ts';
import { CliError } from './errors.ts';
import { MiB, readRegularFile } from './inputFile.ts';

export interface ModelFileOptions {
  /** Heads, where the file does not say (.pth, safetensors without a config). */
  heads?: number;
  onNote?: (line: string) => void;
}

type Loader = (bytes: Uint8Array, options: ModelFileOptions) => CrateModel;

/** The largest model file read (a Node buffer holds at most 4 GiB; CRATE-L in float32 is about 1.2 GB). */
const MAX_MODEL_BYTES = 4096 * MiB - 1;
const readModelBytes = (path: string) => readRegularFile(path, 'model file', MAX_MODEL_BYTES);

const LOADERS: Record<string, Loader> = {
  '.onnx': (bytes) => modelFromOnnx(bytes).model,
  '.safetensors': (bytes, options) => {
    const loaded = modelFromSafetensorsAuto(bytes, { heads: options.heads });
    for (const note of loaded.notes) options.onNote?.(note);
    return loaded.model;
  },
};

function loadModelFile(path: string, options: ModelFileOptions = {}): CrateModel {
  const ext = extname(path).toLowerCase();
  const loader = LOADERS[ext];
  if (!loader) {
    const supported = [...Object.keys(LOADERS), '.pth', '.pt', '.pth.tar'].join(', ');
    throw new CliError(`${path}: unsupported model file extension ${JSON.stringify(ext || '(none)')}; supported: ${supported}`);
  }
  const bytes = readModelBytes(path);
  try {
    return loader(bytes, options);
  } catch (error) {
    throw new CliError(`${path}: not a valid CRATE model: ${(error as Error).message}`);
  }
}

/** Any accepted model file: PyTorch checkpoints asynchronously, the others as loadModelFile. */
export async function loadAnyModelFile(path: string, options: ModelFileOptions = {}): Promise<CrateModel> {
  return isPthPath(path) ? loadPthModelFile(path, options) : loadModelFile(path, options);
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
): Promise<CrateModel> {
  const model = await loadAnyFamilyPthModelFile(path, options);
  if (isAlphaModel(model)) throw new CliError(`${path}: a CRATE-α checkpoint; only 'crate-explorer run' takes CRATE-α models yet`);
  return model;
}

/** Any accepted model file, a CRATE-α checkpoint (docs/MEASUREMENTS.md §1.1) included. */
export async function loadAnyFamilyModelFile(path: string, options: ModelFileOptions = {}): Promise<AnyCrateModel> {
  return isPthPath(path) ? loadAnyFamilyPthModelFile(path, options) : loadModelFile(path, options);
}

/** A PyTorch checkpoint of either family: CRATE (official layout) or CRATE-α (the port's plain state dict). */
async function loadAnyFamilyPthModelFile(
  path: string,
  options: { heads?: number; onNote?: (line: string) => void } = {},
): Promise<AnyCrateModel> {
  const bytes = readModelBytes(path);
  try {
    const loaded = await anyModelFromPth(bytes, { heads: options.heads });
    for (const note of loaded.notes) options.onNote?.(note);
    return loaded.model;
  } catch (error) {
    throw new CliError(`${path}: not a valid CRATE model: ${(error as Error).message}`);
  }
}
