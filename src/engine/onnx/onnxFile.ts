import protobuf from 'protobufjs/minimal.js';
import { bfloatToFloat, halfToFloat, sizeOf, type Tensor } from '../tensor.ts';

// protobufjs is CommonJS; its default export is the namespace in both Node and Vite.
const { Reader } = protobuf;
type Reader = protobuf.Reader;

/**
 * Reads what the WGSL engine needs from an ONNX ModelProto: the initializers
 * (weights, by name), `metadata_props`, the graph's input and output names,
 * and each node's operator. Our engine knows the CRATE graph and runs none of
 * the nodes; onnxruntime-web runs them, so graphCheck.ts checks their operators
 * and counts against the CRATE graph before ORT is given the file. protobufjs's low-level Reader does the wire format, so there is no
 * generated schema code; the field numbers below are those of onnx.proto3.
 *
 * The file is untrusted: every failure is an OnnxError naming what is wrong.
 */
export class OnnxError extends Error {
  override name = 'OnnxError';
}

/** What a graph node is, for checking the graph against the CRATE graph its config implies (graphCheck.ts). */
export interface OnnxNode {
  opType: string;
  /** The operator set domain; '' is the default ai.onnx. */
  domain: string;
}

export interface OnnxFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
  inputs: string[];
  outputs: string[];
  nodes: OnnxNode[];
}

// onnx.proto3 field numbers.
const MODEL_GRAPH = 7;
const MODEL_METADATA_PROPS = 14;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;
const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_DOUBLE_DATA = 10;
const TENSOR_DATA_LOCATION = 14;

const WIRE_LENGTH_DELIMITED = 2;

/** TensorProto.DataType values we decode to float32; integer tensors (shape constants) are skipped. */
const FLOAT = 1;
const FLOAT16 = 10;
const DOUBLE = 11;
const BFLOAT16 = 16;
const BYTES_PER_ELEMENT: Record<number, number> = { [FLOAT]: 4, [FLOAT16]: 2, [DOUBLE]: 8, [BFLOAT16]: 2 };

/** More nodes than this are refused while reading (the deepest config, 256 layers, exports ~16,000). */
const MAX_NODES = 20_000;

/** A tensor larger than this is refused (no CRATE weight comes near it; a corrupt dim could ask for petabytes). */
const MAX_ELEMENTS = 1 << 28;

interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  raw?: Uint8Array;
  floats: number[];
  external: boolean;
}

/** Iterates the fields of one message, calling `field` with the reader positioned at the value. */
function eachField(reader: Reader, end: number, field: (id: number, wireType: number) => boolean): void {
  while (reader.pos < end) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wireType = tag & 7;
    if (id === 0) throw new OnnxError('field number 0 in the protobuf stream');
    if (!field(id, wireType)) reader.skipType(wireType);
  }
  if (reader.pos !== end) throw new OnnxError('a protobuf message runs past its declared length');
}

/** Length-delimited sub-message: returns its end offset. */
function enter(reader: Reader): number {
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) throw new OnnxError(`a ${length}-byte field runs past the end of the file`);
  return end;
}

function readInt64(reader: Reader): number {
  const value = reader.int64() as unknown as number | { toNumber(): number };
  return typeof value === 'number' ? value : value.toNumber();
}

function readTensor(reader: Reader, end: number): RawTensor {
  const t: RawTensor = { name: '', dims: [], dataType: 0, floats: [], external: false };
  eachField(reader, end, (id, wireType) => {
    switch (id) {
      case TENSOR_DIMS:
        if (wireType === WIRE_LENGTH_DELIMITED) {
          const stop = enter(reader);
          while (reader.pos < stop) t.dims.push(readInt64(reader));
        } else t.dims.push(readInt64(reader));
        return true;
      case TENSOR_DATA_TYPE:
        t.dataType = reader.int32();
        return true;
      case TENSOR_NAME:
        t.name = reader.string();
        return true;
      case TENSOR_RAW_DATA:
        t.raw = reader.bytes();
        return true;
      case TENSOR_FLOAT_DATA:
      case TENSOR_DOUBLE_DATA: {
        const read = id === TENSOR_FLOAT_DATA ? () => reader.float() : () => reader.double();
        if (wireType === WIRE_LENGTH_DELIMITED) {
          const stop = enter(reader);
          while (reader.pos < stop) t.floats.push(read());
        } else t.floats.push(read());
        return true;
      }
      case TENSOR_DATA_LOCATION:
        t.external = reader.int32() === 1;
        return true;
      default:
        return false;
    }
  });
  return t;
}

function decodeTensor(t: RawTensor): Tensor | undefined {
  const bytesPerElement = BYTES_PER_ELEMENT[t.dataType];
  if (bytesPerElement === undefined) return undefined;
  if (t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new OnnxError(`initializer "${t.name}": invalid dims [${t.dims}]`);
  const count = sizeOf(t.dims);
  if (count > MAX_ELEMENTS) throw new OnnxError(`initializer "${t.name}": ${count} elements is over the ${MAX_ELEMENTS} limit`);
  if (t.external) throw new OnnxError(`initializer "${t.name}" is stored in an external file; ship one self-contained .onnx file`);
  // The element count is checked against the data actually present before anything is allocated for
  // it: a forged dim must not cost a gigabyte of zeros on the way to its refusal.
  if (t.raw) {
    if (t.raw.byteLength !== count * bytesPerElement) {
      throw new OnnxError(`initializer "${t.name}": ${t.raw.byteLength} raw bytes, but [${t.dims}] needs ${count * bytesPerElement}`);
    }
    const data = new Float32Array(count);
    const view = new DataView(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength);
    for (let i = 0; i < count; i++) {
      if (t.dataType === FLOAT) data[i] = view.getFloat32(4 * i, true);
      else if (t.dataType === DOUBLE) data[i] = view.getFloat64(8 * i, true);
      else if (t.dataType === FLOAT16) data[i] = halfToFloat(view.getUint16(2 * i, true));
      else data[i] = bfloatToFloat(view.getUint16(2 * i, true));
    }
    return { shape: t.dims, data };
  }
  // float16/bfloat16 without raw_data live in int32_data, which no exporter we know writes for weights.
  if (t.dataType !== FLOAT && t.dataType !== DOUBLE) throw new OnnxError(`initializer "${t.name}": 16-bit data without raw_data is not supported`);
  if (t.floats.length !== count) throw new OnnxError(`initializer "${t.name}": ${t.floats.length} values, but [${t.dims}] needs ${count}`);
  return { shape: t.dims, data: Float32Array.from(t.floats) };
}

function readGraph(reader: Reader, end: number, out: OnnxFile): void {
  eachField(reader, end, (id, wireType) => {
    if (wireType !== WIRE_LENGTH_DELIMITED) return false;
    if (id === GRAPH_INITIALIZER) {
      const raw = readTensor(reader, enter(reader));
      if (out.tensors.has(raw.name)) throw new OnnxError(`initializer "${raw.name}" appears twice`);
      const decoded = decodeTensor(raw);
      if (decoded) out.tensors.set(raw.name, decoded);
      return true;
    }
    if (id === GRAPH_NODE) {
      const node: OnnxNode = { opType: '', domain: '' };
      eachField(reader, enter(reader), (field) => {
        if (field === NODE_OP_TYPE) node.opType = reader.string();
        else if (field === NODE_DOMAIN) node.domain = reader.string();
        else return false;
        return true;
      });
      out.nodes.push(node);
      if (out.nodes.length > MAX_NODES) throw new OnnxError(`the graph has more than ${MAX_NODES} nodes; a CRATE graph has about 60 per layer`);
      return true;
    }
    if (id === GRAPH_INPUT || id === GRAPH_OUTPUT) {
      let name = '';
      eachField(reader, enter(reader), (field) => {
        if (field !== VALUE_INFO_NAME) return false;
        name = reader.string();
        return true;
      });
      (id === GRAPH_INPUT ? out.inputs : out.outputs).push(name);
      return true;
    }
    return false;
  });
}

export function readOnnx(bytes: Uint8Array): OnnxFile {
  // A null-prototype record, so a hostile key such as `__proto__` is just a key.
  const out: OnnxFile = { tensors: new Map(), metadata: Object.create(null) as Record<string, string>, inputs: [], outputs: [], nodes: [] };
  if (bytes.byteLength === 0) throw new OnnxError('the file is empty');
  const reader = Reader.create(bytes);
  let sawGraph = false;
  try {
    eachField(reader, reader.len, (id, wireType) => {
      if (wireType !== WIRE_LENGTH_DELIMITED) return false;
      if (id === MODEL_GRAPH) {
        if (sawGraph) throw new OnnxError('the model has two graphs');
        sawGraph = true;
        readGraph(reader, enter(reader), out);
        return true;
      }
      if (id === MODEL_METADATA_PROPS) {
        let key = '';
        let value = '';
        eachField(reader, enter(reader), (field) => {
          if (field === ENTRY_KEY) key = reader.string();
          else if (field === ENTRY_VALUE) value = reader.string();
          else return false;
          return true;
        });
        out.metadata[key] = value;
        return true;
      }
      return false;
    });
  } catch (error) {
    // protobufjs throws RangeError/Error on truncated or malformed varints and wire types.
    throw new OnnxError(`not a valid ONNX file: ${(error as Error).message}`);
  }
  if (!sawGraph) throw new OnnxError('not an ONNX model: no graph found');
  return out;
}
