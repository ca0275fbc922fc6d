/**
 * What `torch.save`'s pickle may reference, and the TypeScript stand-ins for
 * the few constructors it calls. This is the whole whitelist: any other
 * global (os.system, builtins.eval, torch.storage._load_from_bytes, a model
 * class, argparse.Namespace, numpy scalars…) is refused by name.
 */
import { PthError } from './errors.ts';
import { PyDict, PyGlobal, PyTuple, typeName, type PyValue, type UnpickleHooks } from './pickle.ts';

export type PthDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export const DTYPE_BYTES: Record<PthDtype, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** `torch.<X>Storage` → element type. Only ever legal as the type field of a persistent id. */
export const STORAGE_TYPES: Record<string, PthDtype> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

const CALLABLE = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch.Size',
  // Protocol 2 pickles Python 3 bytes as _codecs.encode(text, 'latin1').
  '_codecs.encode',
]);

/** Every global a checkpoint may name. */
export function isWhitelisted(module: string, name: string): boolean {
  return CALLABLE.has(`${module}.${name}`) || (module === 'torch' && Object.hasOwn(STORAGE_TYPES, name));
}

/** A storage named by a persistent id: `archive/data/<key>`, read only when a tensor needs it. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: PthDtype,
    /** Elements the bytes in the archive hold (checked against the declared numel when opened). */
    readonly elements: number,
    readonly entryName: string,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
  get dtype(): PthDtype {
    return this.storage.dtype;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** Largest tensor accepted (a Float32Array's practical limit). */
const MAX_ELEMENTS = 2 ** 31 - 1;

function intArg(value: PyValue, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PthError(`${what} must be a non-negative integer, got a ${typeName(value)}`);
  }
  return value;
}

function intTuple(value: PyValue, what: string): number[] {
  if (!(value instanceof PyTuple)) throw new PthError(`${what} must be a tuple, got a ${typeName(value)}`);
  if (value.items.length > 16) throw new PthError(`${what} has ${value.items.length} dimensions`);
  return value.items.map((v, i) => intArg(v, `${what}[${i}]`));
}

function rebuildTensor(args: PyValue[], fn: string): TensorRef {
  const [storage, offsetRaw, sizeRaw, strideRaw] = args;
  if (!(storage instanceof StorageRef)) throw new PthError(`${fn}: first argument is a ${typeName(storage)}, not a storage`);
  const offset = intArg(offsetRaw, `${fn}: storage offset`);
  const shape = intTuple(sizeRaw, `${fn}: size`);
  const stride = intTuple(strideRaw, `${fn}: stride`);
  if (shape.length !== stride.length) throw new PthError(`${fn}: size has ${shape.length} dimensions but stride has ${stride.length}`);
  let numel = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    numel *= shape[i];
    if (numel > MAX_ELEMENTS) throw new PthError(`${fn}: a tensor of size [${shape}] is over the ${MAX_ELEMENTS}-element limit`);
    last += Math.max(shape[i] - 1, 0) * stride[i];
  }
  if (numel > 0 && !(last < storage.elements)) {
    throw new PthError(
      `tensor of size [${shape}] (offset ${offset}, stride [${stride}]) reaches element ${last} of storage "${storage.key}", which holds only ${storage.elements} ${storage.dtype} elements`,
    );
  }
  return new TensorRef(storage, offset, shape, stride);
}

export interface StorageEntryInfo {
  name: string;
  /** Uncompressed bytes. */
  size: number;
}

/**
 * Hooks for the pickle VM over one archive. `entryFor(key)` finds the
 * `data/<key>` record; storages are shared by key as torch shares them.
 */
export function torchHooks(entryFor: (key: string) => StorageEntryInfo | undefined): UnpickleHooks {
  const storages = new Map<string, StorageRef>();
  return {
    resolveGlobal(module, name) {
      if (!isWhitelisted(module, name)) {
        throw new PthError(`refusing checkpoint: it references the global ${module}.${name}, which is not on the whitelist`);
      }
      return new PyGlobal(module, name);
    },

    call(callable, args) {
      if (!(callable instanceof PyGlobal)) throw new PthError(`pickle calls a ${typeName(callable)}, which is not callable`);
      const fn = callable.qualifiedName;
      const a = args.items;
      switch (fn) {
        case 'collections.OrderedDict': {
          const dict = new PyDict('collections.OrderedDict');
          if (a.length > 1) throw new PthError(`${fn} takes at most one argument`);
          if (a.length === 1) {
            const pairs = a[0];
            if (!Array.isArray(pairs)) throw new PthError(`${fn}: argument is a ${typeName(pairs)}, not a list of pairs`);
            for (const pair of pairs) {
              const kv = pair instanceof PyTuple ? pair.items : Array.isArray(pair) ? pair : undefined;
              if (!kv || kv.length !== 2) throw new PthError(`${fn}: item is not a (key, value) pair`);
              dict.map.set(kv[0] as string, kv[1]);
            }
          }
          return dict;
        }
        case 'torch._utils._rebuild_tensor_v2':
          if (a.length < 6 || a.length > 7) throw new PthError(`${fn} takes 6 or 7 arguments, got ${a.length}`);
          return rebuildTensor(a, fn);
        case 'torch._utils._rebuild_tensor':
          if (a.length !== 4) throw new PthError(`${fn} takes 4 arguments, got ${a.length}`);
          return rebuildTensor(a, fn);
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state':
          if (a.length !== (fn.endsWith('state') ? 4 : 3)) throw new PthError(`${fn}: wrong number of arguments (${a.length})`);
          if (!(a[0] instanceof TensorRef)) throw new PthError(`${fn}: data is a ${typeName(a[0])}, not a tensor`);
          return a[0];
        case 'torch.Size':
          if (a.length !== 1) throw new PthError(`${fn} takes one argument`);
          return new PyTuple(intTuple(a[0], fn));
        case '_codecs.encode': {
          const [text, encoding] = a;
          if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1') || a.length !== 2) {
            throw new PthError(`${fn} is only accepted as encode(str, 'latin1')`);
          }
          const out = new Uint8Array(text.length);
          for (let i = 0; i < text.length; i++) {
            const code = text.charCodeAt(i);
            if (code > 255) throw new PthError(`${fn}: character outside latin-1`);
            out[i] = code;
          }
          return out;
        }
        default:
          throw new PthError(`refusing checkpoint: it calls ${fn}, which may only appear as a storage type`);
      }
    },

    persistentLoad(pid) {
      if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
        throw new PthError(`unsupported persistent id (a ${typeName(pid)}; torch.save writes ('storage', type, key, location, numel))`);
      }
      const [, type, key, location, numelRaw] = pid.items;
      if (!(type instanceof PyGlobal) || type.module !== 'torch' || !Object.hasOwn(STORAGE_TYPES, type.name)) {
        throw new PthError(`persistent id names a ${typeName(type)}, not a torch storage type`);
      }
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key) || key.includes('..')) {
        throw new PthError(`persistent id has a bad storage key ${JSON.stringify(typeof key === 'string' ? key.slice(0, 80) : typeName(key))}`);
      }
      if (typeof location !== 'string') throw new PthError(`storage "${key}": location is a ${typeName(location)}, not a string`);
      const numel = intArg(numelRaw, `storage "${key}": numel`);
      const dtype = STORAGE_TYPES[type.name];
      const known = storages.get(key);
      if (known) {
        if (known.dtype !== dtype) throw new PthError(`storage "${key}" is used as both ${known.dtype} and ${dtype}`);
        return known;
      }
      const entry = entryFor(key);
      if (!entry) throw new PthError(`storage "${key}" has no data record in the archive`);
      const needed = numel * DTYPE_BYTES[dtype];
      // torch.save writes exactly numel × element size bytes. Fewer cannot hold the tensors; more
      // would be inflated and hashed for nothing (a deflate bomb behind a small declared storage).
      if (entry.size !== needed) {
        throw new PthError(`storage "${key}" (${entry.name}) holds ${entry.size} bytes, but the checkpoint declares ${numel} ${dtype} elements (${needed} bytes)`);
      }
      const ref = new StorageRef(key, dtype, numel, entry.name);
      storages.set(key, ref);
      return ref;
    },
  };
}
