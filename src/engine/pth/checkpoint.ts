/**
 * Opens a PyTorch `torch.save` checkpoint (the zip format of PyTorch ≥ 1.6)
 * without Python and without running anything: the zip directory is read,
 * `data.pkl` is run through the data-only pickle VM with the torch whitelist,
 * the state dict is found (bare, `{'state_dict': …}` with `module.` prefixes,
 * or `{'model': …}`), and tensors are decoded from `data/<key>` only when
 * asked for, in time slices, with progress.
 */
import type { Tensor } from '../tensor.ts';
import { decodeTensor } from './decode.ts';
import { asPthError, PthError } from './errors.ts';
import { PyDict, typeName, unpickle, type PyValue } from './pickle.ts';
import { Slicer, type ProgressCallback } from './slicer.ts';
import { DTYPE_BYTES, TensorRef, torchHooks, type PthDtype } from './torchPickle.ts';
import { checkStorageBounds } from './storageBounds.ts';
import { bytesSource, type ByteSource } from './byteSource.ts';
import { readZipDirectoryFrom, readZipEntry, type ZipEntry } from './zip.ts';

export interface PthOptions {
  /** Called with (bytes done, bytes total) as the archive is verified and tensors are decoded. */
  onProgress?: ProgressCallback;
  /** Longest stretch of synchronous work before yielding to the event loop (default 16 ms). */
  sliceMs?: number;
  signal?: AbortSignal;
}

/** Where the state dict was found in the checkpoint. */
export type PthLayout = 'bare' | 'state_dict' | 'model' | 'model_state_dict';

export interface PthTensorInfo {
  shape: number[];
  dtype: PthDtype;
  /** The view into its storage, as torch saved it (elements). */
  stride: number[];
  offset: number;
  /** Storage key (`data/<key>`); tensors that share it were views of one storage. */
  storage: string;
}

export interface PthStats {
  /** Wall time from open to the last tensor decoded. */
  totalMs: number;
  /** Longest synchronous slice of the reader between two yields. */
  longestSliceMs: number;
  yields: number;
}

export interface PthCheckpoint {
  layout: PthLayout;
  /** The prefix removed from every key (`module.` from DataParallel), or ''. */
  strippedPrefix: string;
  /** Tensors of the state dict by (stripped) name, without their data. */
  tensors: Map<string, PthTensorInfo>;
  /** State-dict entries that are not tensors (kept out of `tensors`). */
  otherKeys: string[];
  /** Decodes the named tensors (all by default) to float32. */
  load(names?: Iterable<string>): Promise<Map<string, Tensor>>;
  stats(): PthStats;
}

/** data.pkl is the object graph, not the weights; real ones are kilobytes. */
const MAX_PICKLE_BYTES = 64 << 20;
const LAYOUT_KEYS: PthLayout[] = ['state_dict', 'model', 'model_state_dict'];
const PICKLE_MAGIC_LEGACY = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

function describeKeys(dict: PyDict): string {
  const keys = [...dict.map.keys()].slice(0, 8).map((k) => (typeof k === 'string' ? k : typeName(k)));
  return keys.length ? keys.join(', ') + (dict.map.size > 8 ? ', …' : '') : '(none)';
}

function findStateDict(root: PyValue): { layout: PthLayout; dict: PyDict } {
  if (!(root instanceof PyDict)) throw new PthError(`the checkpoint holds a ${typeName(root)}, not a dict of tensors`);
  for (const key of LAYOUT_KEYS) {
    const value = root.map.get(key);
    if (value instanceof PyDict && [...value.map.values()].some((v) => v instanceof TensorRef)) return { layout: key, dict: value };
  }
  if ([...root.map.values()].some((v) => v instanceof TensorRef)) return { layout: 'bare', dict: root };
  throw new PthError(`no state dict in the checkpoint: its top-level keys are ${describeKeys(root)} (expected tensors, or a 'state_dict' or 'model' entry)`);
}

function findArchive(entries: Map<string, ZipEntry>): string {
  const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length === 1) return pickles[0].slice(0, -'data.pkl'.length);
  if (pickles.length > 1) throw new PthError(`the archive holds ${pickles.length} data.pkl records`);
  if ([...entries.keys()].some((name) => /(^|\/)constants\.pkl$/.test(name))) {
    throw new PthError('this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save model.state_dict() with torch.save');
  }
  throw new PthError('the zip archive has no data.pkl record: not a torch.save checkpoint');
}

/**
 * Parses the archive and the pickle; tensor data is read later, by `load`.
 * From a ByteSource over a Blob (byteSource.ts), only the directory and the
 * pickle are read here, and `load` reads one storage record at a time.
 */
export async function openPth(file: Uint8Array | ByteSource, options: PthOptions = {}): Promise<PthCheckpoint> {
  try {
    return await openUnchecked(file instanceof Uint8Array ? bytesSource(file) : file, options);
  } catch (error) {
    throw asPthError(error);
  }
}

async function openUnchecked(bytes: ByteSource, options: PthOptions): Promise<PthCheckpoint> {
  const started = now();
  let finished = started;
  const slicer = new Slicer(options.sliceMs ?? 16, options.signal);
  const head = bytes.size >= PICKLE_MAGIC_LEGACY.length ? await bytes.read(0, PICKLE_MAGIC_LEGACY.length) : undefined;
  if (head && PICKLE_MAGIC_LEGACY.every((b, i) => head[i] === b)) {
    throw new PthError('this checkpoint uses the legacy torch.save format (PyTorch < 1.6), which is not supported; re-save it with a newer PyTorch');
  }
  const entries = await readZipDirectoryFrom(bytes);
  const prefix = findArchive(entries);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await readZipEntry(bytes, byteorder, slicer)).trim();
    if (order !== 'little') throw new PthError(`the checkpoint's byte order is ${JSON.stringify(order.slice(0, 20))}; only little-endian is read`);
  }

  const pklEntry = entries.get(`${prefix}data.pkl`)!;
  if (pklEntry.size > MAX_PICKLE_BYTES) throw new PthError(`data.pkl is ${pklEntry.size} bytes, over the ${MAX_PICKLE_BYTES}-byte limit`);
  const pkl = await readZipEntry(bytes, pklEntry, slicer);
  const root = await unpickle(
    pkl,
    torchHooks((key) => {
      const entry = entries.get(`${prefix}data/${key}`);
      return entry && { name: entry.name, size: entry.size };
    }),
    slicer,
  );
  const { layout, dict } = findStateDict(root);

  const refs = new Map<string, TensorRef>();
  const otherKeys: string[] = [];
  for (const [key, value] of dict.map) {
    if (typeof key !== 'string') throw new PthError(`the state dict has a ${typeName(key)} key; tensor names are strings`);
    if (value instanceof TensorRef) refs.set(key, value);
    else otherKeys.push(key);
  }
  const names = [...refs.keys()];
  const strippedPrefix = names.length > 0 && names.every((n) => n.startsWith('module.')) ? 'module.' : '';
  const stripped = new Map<string, TensorRef>();
  for (const [name, ref] of refs) stripped.set(name.slice(strippedPrefix.length), ref);

  const tensors = new Map<string, PthTensorInfo>();
  for (const [name, ref] of stripped) {
    tensors.set(name, { shape: [...ref.shape], dtype: ref.dtype, stride: [...ref.stride], offset: ref.offset, storage: ref.storage.key });
  }
  // Before any storage is inflated: each deflated one is no larger than the tensors that view it need.
  checkStorageBounds(stripped, (key) => entries.get(`${prefix}data/${key}`)?.method === 8);

  async function load(which?: Iterable<string>): Promise<Map<string, Tensor>> {
    const wanted = which ? [...which] : [...stripped.keys()];
    const list = wanted.map((name) => {
      const ref = stripped.get(name);
      if (!ref) throw new PthError(`the checkpoint has no tensor "${name}"`);
      return [name, ref] as const;
    });
    // Storage records, verified once each (their CRC), shared between the tensors that view them,
    // and released after the last of those tensors is decoded, so a load holds at most the storages
    // still to be used rather than every storage of the file.
    const storageCache = new Map<string, Promise<Uint8Array>>();
    const usesLeft = new Map<string, number>();
    for (const [, ref] of list) usesLeft.set(ref.storage.key, (usesLeft.get(ref.storage.key) ?? 0) + 1);
    // Progress counts the storage bytes verified plus the tensor bytes decoded.
    let total = 0;
    for (const key of usesLeft.keys()) total += entries.get(`${prefix}data/${key}`)!.size;
    for (const [, ref] of list) total += ref.numel * DTYPE_BYTES[ref.dtype];
    let done = 0;
    const progress = (n: number) => {
      done += n;
      options.onProgress?.(Math.min(done, total), total);
    };
    options.onProgress?.(0, total);
    const out = new Map<string, Tensor>();
    for (const [name, ref] of list) {
      const key = ref.storage.key;
      let storage = storageCache.get(key);
      if (!storage) {
        storage = readZipEntry(bytes, entries.get(ref.storage.entryName)!, slicer, progress);
        storageCache.set(key, storage);
      }
      let data: Float32Array;
      try {
        data = await decodeTensor(ref, await storage, slicer, (n) => progress(n * DTYPE_BYTES[ref.dtype]));
      } catch (error) {
        if (error instanceof PthError) throw new PthError(`tensor "${name}": ${error.message}`);
        throw error;
      }
      const left = usesLeft.get(key)! - 1;
      usesLeft.set(key, left);
      if (left === 0) storageCache.delete(key);
      out.set(name, { shape: ref.shape, data });
      await slicer.maybeYield();
    }
    slicer.finish();
    finished = now();
    options.onProgress?.(total, total);
    return out;
  }

  slicer.finish();
  finished = now();
  return {
    layout,
    strippedPrefix,
    tensors,
    otherKeys,
    load: async (names) => {
      try {
        return await load(names);
      } catch (error) {
        throw asPthError(error);
      }
    },
    stats: () => ({ totalMs: finished - started, longestSliceMs: slicer.longestSliceMs, yields: slicer.yields }),
  };
}

/** Opens a checkpoint and decodes every tensor of its state dict. */
export async function readPth(bytes: Uint8Array | ByteSource, options: PthOptions = {}): Promise<{ checkpoint: PthCheckpoint; tensors: Map<string, Tensor> }> {
  const checkpoint = await openPth(bytes, options);
  return { checkpoint, tensors: await checkpoint.load() };
}

