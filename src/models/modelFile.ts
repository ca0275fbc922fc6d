/**
 * Model files, shipped or brought by the user (issue 8): ONNX in the project's
 * format, safetensors with or without a config, and PyTorch checkpoints
 * (`torch.save` zip). The format is read from the bytes, not trusted from the
 * name: a PNG renamed .onnx is refused as a PNG.
 */
import type { AnyCrateModel } from '../engine/alphaModel.ts';
import { MAX_HEADS } from '../engine/config.ts';
import { anyModelFromTensors, inferAnyConfig, isAlphaStateDict, modelFromSafetensorsAuto, type InferOptions } from '../engine/inferConfig.ts';
import { anyModelFromOnnx } from '../engine/onnx/onnxModel.ts';
import { anyModelFromPth, blobSource, type ProgressCallback } from '../engine/pth/index.ts';
import { readSafetensors } from '../engine/safetensors.ts';
import { fallbackClassNames, IMAGENET_NAMES_NOTE } from './classNames.ts';
import { sniffImage } from '../image/checks.ts';
import { hasDefaultLabels } from './labels.ts';

/** A parsed model plus what the engines need beside it. */
export interface LoadedModel {
  /** Either family (docs/MEASUREMENTS.md §1, §1.1); `model.config.arch` tells which. */
  model: AnyCrateModel;
  /** The ONNX bytes onnxruntime-web runs; undefined for safetensors and .pth models (ORT cannot run them). */
  onnx?: Uint8Array;
  card?: Record<string, unknown>;
  /** File size in bytes. */
  bytes: number;
}

export type ModelFormat = 'onnx' | 'safetensors' | 'pth';

export interface OpenedModel extends LoadedModel {
  format: ModelFormat;
  /** Where the config came from: the file itself, or inferred from the tensor shapes (heads proposed). */
  configFrom: 'file' | 'inferred';
  /** What the inference assumed, one sentence each (empty when the file carries its config). */
  notes: string[];
}

/** The id the `model` link property holds while a model from a local file is shown; a link cannot carry the file. */
export const LOCAL_MODEL_ID = 'local-file';

export const MODEL_EXTENSIONS = ['.onnx', '.safetensors', '.pth', '.pth.tar', '.pt', '.bin'] as const;

export function hasModelExtension(name: string): boolean {
  const lower = name.toLowerCase().split('?')[0];
  return MODEL_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

const ONNX_FIRST_BYTE = 0x08; // field 1 (ir_version), varint: every ONNX ModelProto starts with it

/** The model format the bytes are in, or a one-line description of what they are instead. */
export function sniffModelFormat(bytes: Uint8Array): ModelFormat | { not: string } {
  if (bytes.length === 0) return { not: 'empty (0 bytes)' };
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'pth';
  if (bytes.length >= 9) {
    // safetensors: u64 little-endian header length, then a JSON object.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
    if (bytes[8] === 0x7b && headerLength >= 2 && headerLength <= bytes.length - 8) return 'safetensors';
  }
  // A pickle stream outside a zip: torch.save before PyTorch 1.6 (or with _use_new_zipfile_serialization=False).
  if (bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) {
    return { not: 'a legacy (pre-1.6) torch.save pickle; re-save it with torch.save in PyTorch ≥ 1.6 (the zip format)' };
  }
  const image = sniffImage(bytes);
  if (image) return { not: `a ${image.format.toUpperCase()} image` };
  if (bytes[0] === ONNX_FIRST_BYTE) return 'onnx';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 64)).trimStart();
  if (head.startsWith('<')) return { not: 'an HTML/XML text file' };
  if (head.startsWith('{')) return { not: 'a JSON text file' };
  return { not: 'not an ONNX, safetensors or PyTorch (.pth) file' };
}

const EXPECTED: Record<string, ModelFormat> = { '.onnx': 'onnx', '.safetensors': 'safetensors', '.pth': 'pth', '.pth.tar': 'pth', '.pt': 'pth' };

function shortName(name: string): string {
  const base = name.split('?')[0].split('/').pop() ?? name;
  return base.length > 60 ? `${base.slice(0, 57)}…` : base;
}

export interface OpenOptions extends InferOptions {
  /** (bytes done, bytes total) while a .pth is verified and decoded. */
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * Parses a model file of any supported format. Throws an Error with a
 * one-line message naming the file and the problem (a hostile pickle names
 * the global it refused, a truncated archive says so, CRATE-MAE is "not
 * supported yet"). CRATE-α `.pth` files (the port's plain state dict) and α
 * ONNX exports open as CrateAlphaModel (docs/MEASUREMENTS.md §1.1).
 */
export async function openModelBytes(name: string, bytes: Uint8Array, options: OpenOptions = {}): Promise<OpenedModel> {
  return withClassNameNote(await openModelFormat(name, bytes, options));
}

/**
 * As openModelBytes, from a Blob or File, for a module worker or Node 20 (`fs.openAsBlob`).
 * A `.pth` (zip) is read by random access: the central directory, then the pickle,
 * then each tensor's storage record, one at a time, into that tensor's own
 * Float32Array; the file is never whole in memory (issue 16, "Big files"). ONNX
 * and safetensors are read whole, as openModelBytes needs them. `onProgress`
 * counts the bytes read from the blob, of `blob.size`. An aborted `signal`
 * rejects with its AbortError, unwrapped.
 */
export async function openModelBlob(name: string, blob: Blob, options: OpenOptions = {}): Promise<OpenedModel> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const total = blob.size;
  const head = new Uint8Array(await blob.slice(0, 4).arrayBuffer());
  const isZip = head.length === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  if (!isZip) {
    onProgress?.(0, total);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    signal?.throwIfAborted();
    onProgress?.(total, total);
    return openModelBytes(name, bytes, { ...options, onProgress: undefined });
  }
  let done = 0;
  onProgress?.(0, total);
  const source = blobSource(blob, { signal, onRead: (n) => onProgress?.((done = Math.min(total, done + n)), total) });
  try {
    const { model, notes } = await anyModelFromPth(source, { heads: options.heads, overrides: options.overrides, signal });
    onProgress?.(total, total);
    return withClassNameNote({ model, bytes: total, format: 'pth', configFrom: 'inferred', notes });
  } catch (error) {
    if ((error as Error)?.name === 'AbortError') throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${shortName(name)} (PyTorch checkpoint): ${message}`);
  }
}

/** A 1000-class model without names is shown with ImageNet-1k's (labels.ts), said in its notes (classNames.ts). */
function withClassNameNote(opened: OpenedModel): OpenedModel {
  const { labels, num_classes: classes } = opened.model.config;
  return hasDefaultLabels(labels) && fallbackClassNames(classes) ? { ...opened, notes: [...opened.notes, IMAGENET_NAMES_NOTE] } : opened;
}

async function openModelFormat(name: string, bytes: Uint8Array, options: OpenOptions): Promise<OpenedModel> {
  const label = shortName(name);
  const format = sniffModelFormat(bytes);
  const ext = Object.keys(EXPECTED).find((e) => label.toLowerCase().endsWith(e));
  if (typeof format !== 'string') {
    const expected = ext ? { pth: 'a PyTorch checkpoint', onnx: 'an ONNX model', safetensors: 'a safetensors file' }[EXPECTED[ext]] : 'a model file';
    if (format.not.startsWith('not ')) throw new Error(`${label} is not ${expected} the app can read (ONNX, safetensors or PyTorch .pth)`);
    throw new Error(`${label} is ${format.not}, not ${expected}`);
  }
  try {
    switch (format) {
      case 'onnx': {
        const { model, card } = anyModelFromOnnx(bytes);
        return { model, card, onnx: bytes, bytes: bytes.byteLength, format, configFrom: 'file', notes: [] };
      }
      case 'safetensors': {
        const { model, notes } = safetensorsModel(bytes, options);
        return { model, bytes: bytes.byteLength, format, configFrom: notes.length ? 'inferred' : 'file', notes };
      }
      case 'pth': {
        const { model, notes } = await anyModelFromPth(bytes, { heads: options.heads, overrides: options.overrides, onProgress: options.onProgress, signal: options.signal });
        return { model, bytes: bytes.byteLength, format, configFrom: 'inferred', notes };
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${label} (${format === 'pth' ? 'PyTorch checkpoint' : format}): ${message}`);
  }
}

/** A safetensors model of either family: a config-less CRATE-α state dict in the port's layout (docs/MEASUREMENTS.md §1.1) too. */
function safetensorsModel(bytes: Uint8Array, options: InferOptions): { model: AnyCrateModel; notes: string[] } {
  const { tensors, metadata } = readSafetensors(bytes);
  if (metadata.config !== undefined || !isAlphaStateDict(tensors.keys())) return modelFromSafetensorsAuto(bytes, options);
  const { config, notes } = inferAnyConfig(new Map([...tensors].map(([name, t]) => [name, t.shape] as const)), options);
  return { model: anyModelFromTensors(config, tensors), notes };
}

/**
 * Head counts the MSSA width allows: every divisor of heads·dh (U is [heads·dh, d]
 * whatever the split) up to the config's MAX_HEADS, so the form never offers a
 * count the config would then refuse (issue 20 #16).
 */
export function headChoices(model: AnyCrateModel): number[] {
  const inner = model.config.heads * model.config.dim_head;
  const out: number[] = [];
  for (let h = 1; h <= Math.min(inner, MAX_HEADS); h++) if (inner % h === 0) out.push(h);
  return out;
}
