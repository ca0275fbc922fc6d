/**
 * What every engine's outputs must look like for a config, and the first
 * non-finite value among them. Our engines produce these shapes by
 * construction; onnxruntime-web runs a graph from an untrusted file, whose
 * outputs can have any shape (issue 20 #2: an attention of 10 values blanked
 * the page). A NaN or an infinity is a result to report, not a crash: the
 * measures (a Cholesky factorisation in the coding rate) would otherwise fail
 * deep inside with a message about pivots (issue 20 #15).
 */
import { shapeOf, type CrateConfig } from './config.ts';
import type { ForwardOutputs, LayerOutputs } from './runner.ts';

type LayerTensor = keyof LayerOutputs;

/** Shapes with the batch of one, as tools/onnx_export.py declares them. */
export interface OutputShapes {
  logits: number[];
  layer: Record<LayerTensor, number[]>;
}

export function outputShapes(config: CrateConfig): OutputShapes {
  const { tokens, innerDim } = shapeOf(config);
  return {
    logits: [1, config.num_classes],
    layer: { w: [1, tokens, innerDim], attention: [1, config.heads, tokens, tokens], zHalf: [1, tokens, config.dim], zNext: [1, tokens, config.dim] },
  };
}

/** Where a tensor sits in the forward pass, in docs/MEASUREMENTS.md's names. */
const LAYER_TENSOR_NAMES: Record<LayerTensor, string> = {
  w: 'W = LN(Z^ℓ)·Uᵀ',
  attention: 'the attention A',
  zHalf: 'the MSSA output Z^{ℓ+½}',
  zNext: 'the ISTA output Z^{ℓ+1}',
};
const FORWARD_ORDER: LayerTensor[] = ['w', 'attention', 'zHalf', 'zNext'];

/** The first NaN or infinity in `values`, or undefined when all are finite. */
export function firstNonFinite(values: ArrayLike<number>): number | undefined {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return values[i];
  return undefined;
}

/**
 * The first NaN or infinity in forward order, as one sentence ("layer 3
 * produced NaN in the MSSA output Z^{ℓ+½}"), or undefined when every value is finite.
 */
export function describeNonFinite(outputs: ForwardOutputs): string | undefined {
  for (let l = 0; l < outputs.layers.length; l++) {
    for (const key of FORWARD_ORDER) {
      const bad = firstNonFinite(outputs.layers[l][key]);
      if (bad !== undefined) return `layer ${l} produced ${bad} in ${LAYER_TENSOR_NAMES[key]}`;
    }
  }
  const bad = firstNonFinite(outputs.logits);
  return bad === undefined ? undefined : `the classifier produced ${bad} logits`;
}

/** An engine's outputs hold a NaN or an infinity: the model (or the engine) produced it for this image. */
export class NonFiniteOutputsError extends Error {
  override name = 'NonFiniteOutputsError';
}

/** Throws NonFiniteOutputsError naming the first NaN or infinity. */
export function checkFinite(outputs: ForwardOutputs): void {
  const problem = describeNonFinite(outputs);
  if (problem !== undefined) throw new NonFiniteOutputsError(problem);
}
