/**
 * A pickle virtual machine that builds data and never runs code. It knows the
 * opcodes `torch.save` emits (protocol 2) and the rest of protocols 2–5 that
 * plain data needs. Globals, calls (REDUCE/NEWOBJ) and persistent ids are
 * handed to hooks: the caller decides which few constructors exist (see
 * torchPickle.ts); anything else is refused by name.
 *
 * Bounded by construction: the VM loop is iterative (no recursion on nesting),
 * every push and every memo entry is counted against a limit, so is the item
 * count of each MARK-delimited opcode, lengths are checked against the bytes
 * left, and it yields to the event loop while it runs. Item lists are copied
 * with loops, never spread into a call (`push(...items)` overflows the call
 * stack at a few hundred thousand items).
 */
import { PthError } from './errors.ts';
import type { Slicer } from './slicer.ts';

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** dict and collections.OrderedDict; `attrs` holds what BUILD set (e.g. a state dict's `_metadata`). */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  attrs: PyValue = null;
  constructor(readonly className: 'dict' | 'collections.OrderedDict' = 'dict') {}
}

export class PySet {
  readonly items: PyValue[] = [];
  constructor(readonly frozen = false) {}
}

/** A whitelisted global, as resolved by the hooks. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export type PyKey = string | number | bigint | boolean | null | object;
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyGlobal | object;

export interface UnpickleHooks {
  /** GLOBAL / STACK_GLOBAL: return the object the name stands for, or throw a PthError refusing it. */
  resolveGlobal(module: string, name: string): PyValue;
  /** REDUCE and NEWOBJ: "call" `callable` (something resolveGlobal returned) with `args`. */
  call(callable: PyValue, args: PyTuple): PyValue;
  /** BINPERSID. */
  persistentLoad(pid: PyValue): PyValue;
}

export interface UnpickleLimits {
  /** Values pushed on the stack over the whole run (every object the pickle can create is pushed once). */
  maxPushes: number;
  maxMemo: number;
  /** LONG1/LONG4 byte length. */
  maxLongBytes: number;
  /**
   * Items one MARK-delimited opcode (LIST, TUPLE, DICT, APPENDS, SETITEMS, ADDITEMS, FROZENSET)
   * may take. Python's pickler batches APPENDS/SETITEMS/ADDITEMS by 1000 and a state dict has
   * thousands of entries, not millions.
   */
  maxItemsPerOp: number;
}

export const DEFAULT_LIMITS: UnpickleLimits = { maxPushes: 4_000_000, maxMemo: 4_000_000, maxLongBytes: 256, maxItemsPerOp: 1_000_000 };

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

export function typeName(value: unknown): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'string') return 'str';
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'list';
  if (value instanceof PyTuple) return 'tuple';
  if (value instanceof PyDict) return value.className;
  if (value instanceof PySet) return value.frozen ? 'frozenset' : 'set';
  if (value instanceof PyGlobal) return value.qualifiedName;
  const name = (value as { constructor?: { name?: string } })?.constructor?.name;
  return name ?? 'object';
}

const OPNAMES: Record<number, string> = {
  0x80: 'PROTO', 0x95: 'FRAME', 0x2e: 'STOP', 0x28: 'MARK', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP',
  0x7d: 'EMPTY_DICT', 0x5d: 'EMPTY_LIST', 0x29: 'EMPTY_TUPLE', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
  0x64: 'DICT', 0x6c: 'LIST', 0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x49: 'INT', 0x4c: 'LONG',
  0x47: 'BINFLOAT', 0x46: 'FLOAT', 0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8',
  0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8e: 'BINBYTES8', 0x96: 'BYTEARRAY8',
  0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD',
  0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x73: 'SETITEM', 0x75: 'SETITEMS', 0x61: 'APPEND', 0x65: 'APPENDS',
  0x51: 'BINPERSID', 0x50: 'PERSID', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT', 0x68: 'BINGET', 0x6a: 'LONG_BINGET', 0x94: 'MEMOIZE',
  0x70: 'PUT', 0x67: 'GET', 0x69: 'INST', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x53: 'STRING', 0x56: 'UNICODE',
};

/** Python's module renames for protocol ≤ 2 pickles written by Python 3 (the ones that matter here). */
export function normaliseModule(module: string): string {
  if (module === '__builtin__') return 'builtins';
  if (module === 'copy_reg') return 'copyreg';
  return module;
}

/** Runs a pickle to its STOP and returns the value; throws PthError on anything malformed or refused. */
export async function unpickle(
  bytes: Uint8Array,
  hooks: UnpickleHooks,
  slicer?: Slicer,
  limits: UnpickleLimits = DEFAULT_LIMITS,
): Promise<PyValue> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  let pos = 0;
  let opStart = 0;
  let op = 0;
  let stack: Slot[] = [];
  const metastack: Slot[][] = [];
  const memo = new Map<number, PyValue>();
  let pushes = 0;

  const fail = (message: string): never => {
    throw new PthError(`pickle: ${message} (${OPNAMES[op] ?? 'opcode'} at byte ${opStart})`);
  };
  const need = (n: number): number => {
    if (!(n >= 0) || pos + n > end) fail(`needs ${n} more bytes but only ${end - pos} remain`);
    const at = pos;
    pos += n;
    return at;
  };
  const push = (value: PyValue | typeof MARK): void => {
    if (++pushes > limits.maxPushes) fail(`more than ${limits.maxPushes} values; refusing to build it`);
    stack.push(value);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    const value = stack.pop()!;
    if (value === MARK) fail('unexpected MARK on the stack');
    return value as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    const value = stack[stack.length - 1];
    if (value === MARK) fail('unexpected MARK on the stack');
    return value as PyValue;
  };
  const popMark = (): PyValue[] => {
    if (metastack.length === 0) fail('no MARK to pop to');
    const items = stack;
    stack = metastack.pop()!;
    if (items.length > limits.maxItemsPerOp) fail(`${items.length} items in one opcode, over the ${limits.maxItemsPerOp}-item limit`);
    if (items.some((v) => v === MARK)) fail('nested MARK');
    return items as PyValue[];
  };
  const readLine = (max: number): string => {
    const start = pos;
    const limit = Math.min(end, pos + max + 1);
    while (pos < limit && bytes[pos] !== 0x0a) pos++;
    if (pos >= limit) fail(`no newline within ${max} bytes`);
    const text = latin1.decode(bytes.subarray(start, pos));
    pos++;
    return text;
  };
  const text = (at: number, n: number): string => {
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const length = (n: number): number => {
    if (n < 0 || n > end - pos) fail(`length ${n} runs past the end (${end - pos} bytes left)`);
    return n;
  };
  const u64len = (): number => {
    const at = need(8);
    const n = view.getBigUint64(at, true);
    return length(n > BigInt(end) ? -1 : Number(n));
  };
  const memoPut = (index: number, value: PyValue): void => {
    if (!memo.has(index) && memo.size >= limits.maxMemo) fail(`more than ${limits.maxMemo} memo entries`);
    memo.set(index, value);
  };
  const memoGet = (index: number): void => {
    if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
    push(memo.get(index)!);
  };
  const decodeLong = (at: number, n: number): number | bigint => {
    if (n === 0) return 0;
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i]);
    if (bytes[at + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) fail(`SETITEM on a ${typeName(target)}, not a dict`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as PyDict).map.set(dictKey(items[i]), items[i + 1]);
  };
  const dictKey = (key: PyValue): PyKey => {
    if (Array.isArray(key) || key instanceof PyDict || key instanceof PySet) fail(`unhashable ${typeName(key)} used as a dict key`);
    return key as PyKey;
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(target)) fail(`APPEND on a ${typeName(target)}, not a list`);
    for (const item of items) (target as PyValue[]).push(item);
  };
  const build = (target: PyValue, state: PyValue): void => {
    // Only dicts carry state in a checkpoint (a state dict's `_metadata`); it is kept, never interpreted.
    if (target instanceof PyDict) {
      target.attrs = state;
      return;
    }
    fail(`BUILD on a ${typeName(target)} is not supported`);
  };

  let steps = 0;
  while (true) {
    if ((++steps & 0xfff) === 0 && slicer) await slicer.maybeYield();
    if (pos >= end) {
      opStart = pos;
      op = -1;
      throw new PthError(`pickle: ends at byte ${pos} without a STOP opcode`);
    }
    opStart = pos;
    op = bytes[pos++];
    switch (op) {
      case 0x80: {
        // PROTO
        const version = bytes[need(1)];
        if (version > 5) fail(`protocol ${version} is not supported`);
        break;
      }
      case 0x95: // FRAME: a length hint only.
        need(8);
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        if (++pushes > limits.maxPushes) fail(`more than ${limits.maxPushes} values; refusing to build it`);
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x8f: // EMPTY_SET
        push(new PySet());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof PySet) || set.frozen) fail(`ADDITEMS on a ${typeName(set)}`);
        for (const item of items) (set as PySet).items.push(item);
        break;
      }
      case 0x91: {
        // FROZENSET
        const set = new PySet(true);
        for (const item of popMark()) set.items.push(item);
        push(set);
        break;
      }
      case 0x64: {
        // DICT
        const items = popMark();
        const dict = new PyDict();
        setItems(dict, items);
        push(dict);
        break;
      }
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b, c]));
        break;
      }
      case 0x4a: // BININT
        push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        push(bytes[need(1)]);
        break;
      case 0x4d: // BININT2
        push(view.getUint16(need(2), true));
        break;
      case 0x8a: {
        // LONG1
        const n = bytes[need(1)];
        if (n > limits.maxLongBytes) fail(`a ${n}-byte integer is over the ${limits.maxLongBytes}-byte limit`);
        push(decodeLong(need(n), n));
        break;
      }
      case 0x8b: {
        // LONG4
        const n = view.getInt32(need(4), true);
        if (n < 0 || n > limits.maxLongBytes) fail(`a ${n}-byte integer is over the ${limits.maxLongBytes}-byte limit`);
        push(decodeLong(need(n), n));
        break;
      }
      case 0x49: {
        // INT (protocol 0): "I01\n" is True, "I00\n" False.
        const line = readLine(64);
        if (line === '01') push(true);
        else if (line === '00') push(false);
        else if (/^[-+]?\d+$/.test(line)) {
          const value = BigInt(line);
          push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        } else fail(`INT ${JSON.stringify(line)} is not an integer`);
        break;
      }
      case 0x4c: {
        // LONG (protocol 0)
        const line = readLine(64).replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(line)) fail(`LONG ${JSON.stringify(line)} is not an integer`);
        const value = BigInt(line);
        push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        push(view.getFloat64(need(8), false));
        break;
      case 0x46: {
        // FLOAT (protocol 0)
        const line = readLine(64);
        const value = Number(line);
        if (line.trim() === '' || Number.isNaN(value) && !/^[-+]?nan$/i.test(line)) fail(`FLOAT ${JSON.stringify(line)} is not a number`);
        push(value);
        break;
      }
      case 0x58: {
        // BINUNICODE
        const n = length(view.getUint32(need(4), true));
        push(text(need(n), n));
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        const n = length(bytes[need(1)]);
        push(text(need(n), n));
        break;
      }
      case 0x8d: {
        // BINUNICODE8
        const n = u64len();
        push(text(need(n), n));
        break;
      }
      case 0x54: // BINSTRING (Python 2 str: read as latin-1 text)
      case 0x55: {
        // SHORT_BINSTRING
        const n = length(op === 0x54 ? view.getInt32(need(4), true) : bytes[need(1)]);
        const at = need(n);
        push(latin1.decode(bytes.subarray(at, at + n)));
        break;
      }
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: // BINBYTES8
      case 0x96: {
        // BYTEARRAY8
        const n = op === 0x42 ? length(view.getUint32(need(4), true)) : op === 0x43 ? length(bytes[need(1)]) : u64len();
        const at = need(n);
        push(bytes.slice(at, at + n));
        break;
      }
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = readLine(256);
        const name = readLine(256);
        push(hooks.resolveGlobal(normaliseModule(module), name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(hooks.resolveGlobal(normaliseModule(module as string), name as string));
        break;
      }
      case 0x69: {
        // INST "module\nname\n": refused by name like GLOBAL, and not supported even when whitelisted.
        const module = readLine(256);
        const name = readLine(256);
        hooks.resolveGlobal(normaliseModule(module), name);
        fail(`INST ${module}.${name} is not supported`);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments are a ${typeName(args)}, not a tuple`);
        push(hooks.call(callable, args as PyTuple));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args); only whitelisted classes reach here.
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) fail(`NEWOBJ arguments are a ${typeName(args)}, not a tuple`);
        push(hooks.call(cls, args as PyTuple));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple) || !(kwargs instanceof PyDict) || kwargs.map.size > 0) fail('NEWOBJ_EX with keyword arguments is not supported');
        push(hooks.call(cls, args as PyTuple));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        build(top(), state);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop();
        appendItems(top(), [value]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x71: // BINPUT
        memoPut(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(view.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size, top());
        break;
      case 0x70: {
        // PUT (protocol 0)
        const line = readLine(32);
        if (!/^\d+$/.test(line)) fail(`PUT index ${JSON.stringify(line)}`);
        memoPut(Number(line), top());
        break;
      }
      case 0x68: // BINGET
        memoGet(bytes[need(1)]);
        break;
      case 0x6a: // LONG_BINGET
        memoGet(view.getUint32(need(4), true));
        break;
      case 0x67: {
        // GET (protocol 0)
        const line = readLine(32);
        if (!/^\d+$/.test(line)) fail(`GET index ${JSON.stringify(line)}`);
        memoGet(Number(line));
        break;
      }
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')} is not supported`);
    }
  }
}
