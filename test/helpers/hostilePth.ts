/**
 * Hostile `.pth` checkpoints of the shape the adversarial probe of issue 20
 * built, over the official tensors of a small valid config (BASE_CONFIG), so
 * that before the storage bounds they got past every check and into the
 * loader's inflate and decode. Built at test time (never committed): the
 * deflated zeros cost about 1 KB per MiB declared.
 */
import { parseConfig } from '../../src/engine/config.ts';
import { officialTensorShapes } from '../../src/engine/model.ts';
import { deflatedZeros, statePickle, zip, type TensorSpec, type ZipInput } from './fuzzFiles.ts';
import { BASE_CONFIG } from './fuzzModels.ts';

const enc = new TextEncoder();
const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const rowMajor = (shape: number[]) => shape.map((_, d) => numelOf(shape.slice(d + 1)));

/** The official tensors of BASE_CONFIG (or `config`), in state-dict order. */
export function officialShapes(config: Record<string, unknown> = BASE_CONFIG): [string, number[]][] {
  return officialTensorShapes(parseConfig(config)).map(([name, shape]) => [name, [...shape]]);
}

function checkpoint(specs: TensorSpec[], records: ZipInput[]): Uint8Array {
  return zip([{ name: 'archive/data.pkl', data: statePickle(specs) }, ...records, { name: 'archive/version', data: enc.encode('3\n') }]);
}

/**
 * Defect 5: every official tensor is a contiguous float32 view at the start of
 * its own storage, and the first `bombs` storages declare `bombBytes` bytes
 * (a deflated record of that many zeros) instead of what the tensor needs.
 * With `declareSmall`, the pickle declares the tensor's size and only the zip
 * record is large (the record, not the pickle, is the bomb).
 */
export function deflateBombCheckpoint(bombs: number, bombBytes: number, declareSmall = false): Uint8Array {
  const bomb = deflatedZeros(bombBytes);
  const specs: TensorSpec[] = [];
  const records: ZipInput[] = [];
  officialShapes().forEach(([name, shape], i) => {
    const numel = numelOf(shape);
    const isBomb = i < bombs;
    specs.push({ name, key: String(i), numel: isBomb && !declareSmall ? bombBytes / 4 : numel, size: shape, stride: rowMajor(shape) });
    const data = new Uint8Array(new Float32Array(numel).fill(0.01).buffer);
    records.push(isBomb ? { name: `archive/data/${i}`, data: new Uint8Array(0), deflated: bomb } : { name: `archive/data/${i}`, data });
  });
  return checkpoint(specs, records);
}

/**
 * Defect 6: every official tensor is a float16 view of one shared storage of
 * `storageBytes` zero bytes (deflated), strided so that its last element sits
 * near the storage's end: a few hundred elements spread over the whole span.
 */
export function stridedSpanCheckpoint(storageBytes: number): Uint8Array {
  const elements = storageBytes / 2;
  const specs: TensorSpec[] = officialShapes().map(([name, shape], i) => {
    const numel = numelOf(shape);
    const spread = Math.max(1, Math.floor((elements - 1 - i) / Math.max(numel - 1, 1)));
    return { name, key: '0', storageType: 'HalfStorage', numel: elements, offset: i, size: shape, stride: rowMajor(shape).map((s) => s * spread) };
  });
  return checkpoint(specs, [{ name: 'archive/data/0', data: new Uint8Array(0), deflated: deflatedZeros(storageBytes) }]);
}
