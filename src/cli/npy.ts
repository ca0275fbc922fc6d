/**
 * A strict reader (and a writer) for NumPy's .npy format, float32 only:
 * magic "\x93NUMPY", version 1.0, 2.0 or 3.0, header dict with
 * descr '<f4', fortran_order False and a shape tuple, then exactly
 * prod(shape)·4 little-endian bytes. Anything else is refused with a
 * message that says what was found.
 */

export class NpyError extends Error {
  override name = 'NpyError';
}

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_ELEMENTS = 2 ** 30;

/** Parses the header's Python dict literal: only the three keys NumPy writes, with the value forms it writes. */
function parseHeader(text: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const body = text.trim();
  if (!body.startsWith('{') || !body.endsWith('}')) throw new NpyError(`header is not a Python dict: ${JSON.stringify(body.slice(0, 80))}`);
  const fields = new Map<string, string>();
  const entry = /\s*'([a-z_]+)'\s*:\s*('[^']*'|True|False|\([^)]*\))\s*(,|$)/y;
  const inner = body.slice(1, -1).trimEnd();
  entry.lastIndex = 0;
  while (entry.lastIndex < inner.length) {
    const start = entry.lastIndex;
    const match = entry.exec(inner);
    if (!match) throw new NpyError(`cannot parse the header dict near ${JSON.stringify(inner.slice(start, start + 40))}`);
    if (fields.has(match[1])) throw new NpyError(`header repeats the key '${match[1]}'`);
    fields.set(match[1], match[2]);
    if (match[3] === '') break;
  }
  for (const key of fields.keys()) {
    if (!['descr', 'fortran_order', 'shape'].includes(key)) throw new NpyError(`header has an unknown key '${key}'`);
  }
  const descr = fields.get('descr');
  const fortran = fields.get('fortran_order');
  const shapeText = fields.get('shape');
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError("header must have the keys 'descr', 'fortran_order' and 'shape'");
  }
  if (!descr.startsWith("'")) throw new NpyError(`header 'descr' must be a string, got ${descr}`);
  if (fortran !== 'True' && fortran !== 'False') throw new NpyError(`header 'fortran_order' must be True or False, got ${fortran}`);
  if (!shapeText.startsWith('(')) throw new NpyError(`header 'shape' must be a tuple, got ${shapeText}`);
  const items = shapeText.slice(1, -1).split(',').map((s) => s.trim());
  if (items.length > 0 && items[items.length - 1] === '') items.pop();
  const shape = items.map((item) => {
    if (!/^\d+$/.test(item)) throw new NpyError(`header 'shape' ${shapeText} is not a tuple of non-negative integers`);
    return Number(item);
  });
  return { descr: descr.slice(1, -1), fortranOrder: fortran === 'True', shape };
}

/** Reads a .npy file holding a C-ordered little-endian float32 array. */
export function readNpy(file: Uint8Array): NpyArray {
  if (file.length < 10 || MAGIC.some((b, i) => file[i] !== b)) throw new NpyError('not a .npy file (no \\x93NUMPY magic)');
  const major = file[6];
  const minor = file[7];
  if (![1, 2, 3].includes(major) || minor !== 0) throw new NpyError(`.npy version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (file.length < 8 + lengthBytes) throw new NpyError('file ends inside the header length');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > file.length) throw new NpyError(`header length ${headerLength} runs past the end of the ${file.length}-byte file`);
  const headerBytes = file.subarray(8 + lengthBytes, dataStart);
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: major === 3 }).decode(headerBytes);
  const { descr, fortranOrder, shape } = parseHeader(headerText);
  if (descr !== '<f4') {
    throw new NpyError(`dtype '${descr}' is not supported; the array must be little-endian float32 ('<f4'), e.g. numpy's .astype('<f4')`);
  }
  if (fortranOrder) throw new NpyError('fortran_order True is not supported; save a C-ordered array (np.ascontiguousarray)');
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > MAX_ELEMENTS) throw new NpyError(`shape (${shape.join(', ')}) has more than ${MAX_ELEMENTS} elements`);
  const dataBytes = file.length - dataStart;
  if (dataBytes !== count * 4) {
    throw new NpyError(`shape (${shape.join(', ')}) needs ${count * 4} data bytes but the file has ${dataBytes}`);
  }
  // Copy: the data need not be 4-byte aligned inside the file's buffer.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(file.subarray(dataStart));
  return { shape, data };
}

/** Writes a C-ordered float32 array as .npy version 1.0 (header padded to 64 bytes, as NumPy does). */
export function writeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new NpyError(`shape (${shape.join(', ')}) holds ${count} values, data has ${data.length}`);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (header.length > 0xffff) throw new NpyError('shape too long for a version 1.0 header');
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
