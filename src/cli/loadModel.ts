/**
 * Model files for the command, by extension. Only the project's safetensors
 * format (official tensor names, config JSON in `__metadata__.config`) is
 * read today; ONNX and PyTorch checkpoints get a clear refusal until their
 * loaders exist.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { modelFromSafetensors, type CrateModel } from '../engine/model.ts';
import { modelFromPth } from '../engine/pth/index.ts';
import { CliError, readInput } from './errors.ts';

type Loader = (bytes: Uint8Array) => CrateModel;

const LOADERS: Record<string, Loader> = {
  '.safetensors': modelFromSafetensors,
};

const NOT_YET: Record<string, string> = {
  '.onnx': 'ONNX models',
  '.pth': 'PyTorch checkpoints',
  '.pt': 'PyTorch checkpoints',
};

export function loadModelFile(path: string, read: (path: string) => Uint8Array = readFileSync): CrateModel {
  const ext = extname(path).toLowerCase();
  const loader = LOADERS[ext];
  if (!loader) {
    const supported = Object.keys(LOADERS).join(', ');
    if (NOT_YET[ext]) throw new CliError(`${path}: ${NOT_YET[ext]} (${ext}) are not supported by the command yet; use a ${supported} model in the project format`);
    throw new CliError(`${path}: unsupported model file extension ${JSON.stringify(ext || '(none)')}; supported: ${supported}`);
  }
  const bytes = readInput(path, 'model file', read);
  try {
    return loader(bytes);
  } catch (error) {
    throw new CliError(`${path}: not a valid CRATE model: ${(error as Error).message}`);
  }
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
