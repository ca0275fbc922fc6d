/**
 * Is this the CRATE graph its config claims? Our WGSL engine reads only the
 * initializers, but onnxruntime-web runs the graph's nodes, so a hostile file
 * can pair honest weights with a graph that does something else: one that
 * loops, or multiplies 2048² matrices a hundred times (issue 20 #3: 37 s of a
 * frozen page per image from a 742 KB file). tools/onnx_export.py writes a
 * fixed set of operators and 7 matrix products per layer plus 2 (the patch
 * embedding and the classifier), ~60 nodes per layer in all; a graph far
 * outside that is refused before ORT is given it.
 *
 * This bounds the work, not the values: a graph of the right size can still
 * compute something else, which the second engine's check exposes (the
 * prediction says so when the engines disagree, Prediction.tsx).
 */
import type { AnyCrateConfig } from '../config.ts';
import { OnnxError, type OnnxNode } from './onnxFile.ts';

/** The ai.onnx operators the CRATE export writes (every shipped model and fixture), plus a few harmless equivalents other exporter versions write. */
const ALLOWED_OPERATORS = new Set([
  'Add', 'Cast', 'Concat', 'Constant', 'ConstantOfShape', 'Conv', 'Div', 'Equal', 'Expand', 'Flatten', 'Gather', 'Gemm',
  'Identity', 'LayerNormalization', 'MatMul', 'Mul', 'Neg', 'ReduceMean', 'Relu', 'Reshape', 'Shape', 'Slice', 'Softmax',
  'Sqrt', 'Squeeze', 'Sub', 'Transpose', 'Unsqueeze', 'Where',
]);

/** Operators whose cost grows with their operands' sizes, not with the graph's: the work the graph does. */
const PRODUCTS = new Set(['MatMul', 'Gemm', 'Conv']);
/**
 * Per layer: U (W = LN(Z)·Uᵀ), QKᵀ, A·V, the output projection, and the ISTA
 * step's three products with D; CRATE-α's overcomplete ISTA has one more
 * (tools/alpha_onnx_export.py, whose patch embedding is a Conv).
 */
const PRODUCTS_PER_LAYER = { crate: 7, 'crate-alpha': 8 } as const;
/** Besides the layers: the patch embedding and the classifier, and a little room for an exporter that splits one. */
const PRODUCTS_OUTSIDE_LAYERS = 4;
/** Operators that make a tensor of a size read from another tensor: the export has one of each, to broadcast the class token. */
const SHAPE_MAKERS = new Set(['ConstantOfShape', 'Expand']);
const MAX_SHAPE_MAKERS = 3;
/** Nodes per layer and outside them, with room to spare over the ~51 and ~82 the export writes (386 nodes at depth 6). */
const NODES_PER_LAYER = 64;
const NODES_OUTSIDE_LAYERS = 128;

export function checkCrateGraph(nodes: readonly OnnxNode[], config: AnyCrateConfig): void {
  const depth = config.depth;
  const perLayer = PRODUCTS_PER_LAYER[config.arch];
  const foreign = nodes.find((n) => (n.domain !== '' && n.domain !== 'ai.onnx') || !ALLOWED_OPERATORS.has(n.opType));
  if (foreign) {
    const name = JSON.stringify(`${foreign.domain ? `${foreign.domain.slice(0, 40)}.` : ''}${foreign.opType.slice(0, 40)}`);
    throw new OnnxError(`the graph uses the operator ${name}, which a CRATE graph (tools/onnx_export.py) never contains; refusing it, since onnxruntime-web would run it`);
  }
  const products = nodes.filter((n) => PRODUCTS.has(n.opType)).length;
  const maxProducts = perLayer * depth + PRODUCTS_OUTSIDE_LAYERS;
  if (products > maxProducts) {
    throw new OnnxError(
      `the graph has ${products} matrix products, but a CRATE model of depth ${depth} needs ${perLayer * depth + 2} (${perLayer} per layer, the patch embedding and the classifier); refusing a graph that does far more work than its config implies`,
    );
  }
  const makers = nodes.filter((n) => SHAPE_MAKERS.has(n.opType)).length;
  if (makers > MAX_SHAPE_MAKERS) {
    throw new OnnxError(`the graph builds ${makers} tensors from computed shapes (ConstantOfShape, Expand); a CRATE graph has 2 (to broadcast the class token); refusing it`);
  }
  const maxNodes = NODES_PER_LAYER * depth + NODES_OUTSIDE_LAYERS;
  if (nodes.length > maxNodes) {
    throw new OnnxError(`the graph has ${nodes.length} nodes, but a CRATE model of depth ${depth} has at most ~${maxNodes}; refusing a graph far larger than its config implies`);
  }
}
