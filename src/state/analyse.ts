/**
 * What the app computes for one image from any engine's outputs: pure
 * functions with no DOM, so the e2e tests run this very code in Node and
 * compare it with what the page shows.
 */
import { topClasses, type ClassScore } from '../analysis/classes.ts';
import { officialCodingRate } from '../analysis/codingRate.ts';
import { dictionaryIncoherence, headCoherence, type DictionaryIncoherence, type HeadCoherence } from '../analysis/coherence.ts';
import { layerObjective, type LayerObjective } from '../analysis/objective.ts';
import { sparsity } from '../analysis/sparsity.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import type { CrateModel } from '../engine/model.ts';
import { imageToTensor, type RgbaImage } from '../engine/preprocess.ts';
import type { ForwardOutputs } from '../engine/runner.ts';
import type { LayerStats } from './store.ts';

/** The weight-only measures of one layer (docs/MEASUREMENTS.md §2.1): the same for every image. */
export interface LayerWeightMeasures {
  headCoherence: HeadCoherence;
  dictionary: DictionaryIncoherence;
}

/** Keyed by the model's weights object: computed once per loaded model, dropped with it. */
const weightMeasures = new WeakMap<object, LayerWeightMeasures[]>();

/** Head coherence and dictionary incoherence of every layer of the model (cached per model). */
export function modelWeightMeasures(model: CrateModel): LayerWeightMeasures[] {
  let measures = weightMeasures.get(model.weights);
  if (!measures) {
    const { dim, heads, dim_head: dh } = model.config;
    measures = model.weights.layers.map((layer) => ({
      headCoherence: headCoherence(layer.qkv, heads, dh, dim),
      dictionary: dictionaryIncoherence(layer.dictionary, dim),
    }));
    weightMeasures.set(model.weights, measures);
  }
  return measures;
}

/**
 * Layer ℓ's before/after objective values for one image (docs/MEASUREMENTS.md §2.1):
 * `rate_mssa_out` and the LASSO objective before and after the ISTA step,
 * with that layer's own LN1, U, LN2 and D and the model's λ.
 */
export function objectiveOfLayer(model: CrateModel, outputs: ForwardOutputs, layer: number): LayerObjective {
  const { tokens } = model.shape;
  const { dim, heads, dim_head: dimHead, lambda } = model.config;
  return layerObjective(outputs.layers[layer], model.weights.layers[layer], { tokens, dim, heads, dimHead }, lambda);
}

/** Every layer's objective values (the CLI and the e2e tests' Node side; the app yields between layers: dataset.ts). */
export function objectiveOfOutputs(model: CrateModel, outputs: ForwardOutputs): LayerObjective[] {
  return outputs.layers.map((_, layer) => objectiveOfLayer(model, outputs, layer));
}

/**
 * The measurements the app shows: top-5 classes, and per layer the official
 * coding rate, the sparsity and the weight-only measures. The per-image
 * objective values need float64 matmuls and are added by the pipeline
 * (dataset.ts imageExtras, which yields to the page between layers).
 */
export function analyseOutputs(model: CrateModel, outputs: ForwardOutputs): { top: ClassScore[]; layers: LayerStats[] } {
  const { tokens } = model.shape;
  const weights = modelWeightMeasures(model);
  const layers = outputs.layers.map((layer, index) => ({
    layer: index,
    codingRate: officialCodingRate(layer.w, tokens, model.config.heads, model.config.dim_head),
    sparsity: sparsity(layer.zNext).l0Fraction,
    ...weights[index],
  }));
  return { top: topClasses(outputs.logits, model.config.labels), layers };
}

/** The same on the CPU reference engine, from pixels, objective values included (the e2e tests' independent check). */
export function analyseImage(model: CrateModel, image: RgbaImage): { top: ClassScore[]; layers: LayerStats[] } {
  const trace = cpuForward(model, imageToTensor(image, model.config));
  const outputs = { logits: trace.logits, layers: trace.layers };
  const { top, layers } = analyseOutputs(model, outputs);
  const objective = objectiveOfOutputs(model, outputs);
  return { top, layers: layers.map((l, i) => ({ ...l, ...objective[i] })) };
}
