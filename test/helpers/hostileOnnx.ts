/**
 * Hostile ONNX graphs built from an honest one (issue 20 #2, #3): the same
 * initializers and metadata, with graph outputs rewired to nodes that lie
 * about the result (a constant, a wrong shape, NaN) or with extra work added.
 * Edits the protobuf fields directly (onnx.proto3 numbers), so no Python onnx
 * package is needed at test time.
 */
import { concat, f32Bytes, pbBytes, pbString, pbVarint, topLevelFields, writeOnnxTensor, type OnnxTensorSpec } from './fuzzFiles.ts';

const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const FLOAT = 1;
const INT64 = 7;
const ATTRIBUTE_TENSOR = 4;
const ATTRIBUTE_INT = 2;

const text = (body: Uint8Array | undefined) => new TextDecoder().decode(body);

/** A NodeProto: op_type 4, input 1, output 2, attribute 5 (name 1, type 20, i 3, t 5). */
export function node(opType: string, inputs: string[], outputs: string[], attributes: Uint8Array[] = []): Uint8Array {
  return concat([...inputs.map((n) => pbString(NODE_INPUT, n)), ...outputs.map((n) => pbString(NODE_OUTPUT, n)), pbString(4, opType), ...attributes.map((a) => pbBytes(5, a))]);
}

export const tensorAttribute = (name: string, tensor: OnnxTensorSpec) => concat([pbString(1, name), pbVarint(20, ATTRIBUTE_TENSOR), pbBytes(5, writeOnnxTensor(tensor))]);
export const intAttribute = (name: string, value: number) => concat([pbString(1, name), pbVarint(20, ATTRIBUTE_INT), pbVarint(3, value)]);

/** A Constant node with float32 values of shape `dims`. */
export function constant(output: string, dims: number[], values: ArrayLike<number>): Uint8Array {
  return node('Constant', [], [output], [tensorAttribute('value', { name: `${output}.value`, dims, dataType: FLOAT, raw: f32Bytes(values) })]);
}

export function int64Constant(output: string, values: number[]): Uint8Array {
  const raw = new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
  return node('Constant', [], [output], [tensorAttribute('value', { name: `${output}.value`, dims: [values.length], dataType: INT64, raw })]);
}

/** A graph output with a float element type and no declared shape (so ORT takes whatever shape the nodes give). */
const untypedOutput = (name: string) => concat([pbString(1, name), pbBytes(2, pbBytes(1, pbVarint(1, FLOAT)))]);

/** Rewrites the model's graph: `edit` gets its fields' bytes (id, bytes) and returns the new graph's field bytes. */
function editGraph(model: Uint8Array, edit: (fields: { id: number; bytes: Uint8Array; body?: Uint8Array }[]) => Uint8Array[]): Uint8Array {
  return concat(
    topLevelFields(model).map((f) => {
      if (f.id !== MODEL_GRAPH || !f.body) return model.subarray(f.start, f.end);
      const fields = topLevelFields(f.body).map((g) => ({ id: g.id, bytes: f.body!.subarray(g.start, g.end), body: g.body }));
      return pbBytes(MODEL_GRAPH, concat(edit(fields)));
    }),
  );
}

/** A node with every input or output named `from` renamed `to`. */
function renameInNode(nodeBody: Uint8Array, from: string, to: string): Uint8Array {
  return concat(
    topLevelFields(nodeBody).map((f) =>
      (f.id === NODE_INPUT || f.id === NODE_OUTPUT) && text(f.body) === from ? pbString(f.id, to) : nodeBody.subarray(f.start, f.end),
    ),
  );
}

/**
 * The graph output `name` replaced by what `nodes` compute into `name`; the
 * honest value stays reachable as `${name}.honest` (every node that produced
 * or used it is rewired), so the new nodes may use it.
 */
export function replaceOutput(model: Uint8Array, name: string, nodes: Uint8Array[]): Uint8Array {
  const honest = `${name}.honest`;
  return editGraph(model, (fields) => [
    ...fields.map((f) => {
      if (f.id === GRAPH_NODE && f.body) return pbBytes(GRAPH_NODE, renameInNode(f.body, name, honest));
      if (f.id === GRAPH_OUTPUT && f.body && text(topLevelFields(f.body).find((g) => g.id === 1)?.body) === name) return pbBytes(GRAPH_OUTPUT, untypedOutput(name));
      return f.bytes;
    }),
    ...nodes.map((n) => pbBytes(GRAPH_NODE, n)),
  ]);
}

/**
 * The probe's slow graph: `count` products of a side² matrix built by one
 * ConstantOfShape (a few bytes in the file), folded into the logits as 0·mean
 * so the values are unchanged and ORT cannot skip the work.
 */
export function withExtraProducts(model: Uint8Array, count: number, side = 2048): Uint8Array {
  const nodes = [int64Constant('slow.shape', [side, side]), node('ConstantOfShape', ['slow.shape'], ['slow.0'], [tensorAttribute('value', { name: 'slow.fill', dims: [1], dataType: FLOAT, raw: f32Bytes([0]) })])];
  for (let i = 0; i < count; i++) nodes.push(node('MatMul', [`slow.${i}`, 'slow.0'], [`slow.${i + 1}`]));
  nodes.push(node('ReduceMean', [`slow.${count}`], ['slow.mean'], [intAttribute('keepdims', 0)]), constant('slow.zero', [], [0]), node('Mul', ['slow.mean', 'slow.zero'], ['slow.nothing']), node('Add', ['logits.honest', 'slow.nothing'], ['logits']));
  return replaceOutput(model, 'logits', nodes);
}

/** The model with one more node of the given operator (its inputs and outputs dangle: for the graph check only). */
export function withNode(model: Uint8Array, opType: string, domain = ''): Uint8Array {
  const extra = concat([node(opType, ['image'], ['extra.out']), ...(domain ? [pbString(7, domain)] : [])]);
  return editGraph(model, (fields) => [...fields.map((f) => f.bytes), pbBytes(GRAPH_NODE, extra)]);
}
