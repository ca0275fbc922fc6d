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

/**
 * The weight-only measures of every layer, computed once per model and then
 * cached (about 2 s of CPU at CRATE-T size: orthonormal bases of every head,
 * DᵀD). `pause` runs between the two halves of each layer's work; the app
 * passes its yielder there (dataset.ts) so the page keeps answering.
 */
export async function modelWeightMeasuresAsync(model: CrateModel, pause: () => Promise<void>): Promise<LayerWeightMeasures[]> {
  const known = weightMeasures.get(model.weights);
  if (known) return known;
  const { dim, heads, dim_head: dh } = model.config;
  const measures: LayerWeightMeasures[] = [];
  for (const layer of model.weights.layers) {
    const coherence = headCoherence(layer.qkv, heads, dh, dim);
    await pause();
    measures.push({ headCoherence: coherence, dictionary: dictionaryIncoherence(layer.dictionary, dim) });
    await pause();
  }
  if (!weightMeasures.has(model.weights)) weightMeasures.set(model.weights, measures);
  return weightMeasures.get(model.weights)!;
}

/** The same, synchronously (the CLI and tests). */
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
 * The measurements the app shows first: top-5 classes, and per layer the
 * official coding rate and the sparsity. The objective values and the
 * weight-only measures (docs/MEASUREMENTS.md §2.1) need float64 matmuls and
 * are added by the pipeline (dataset.ts imageExtras, which yields to the page).
 */
export function analyseOutputs(model: CrateModel, outputs: ForwardOutputs): { top: ClassScore[]; layers: LayerStats[] } {
  const { tokens } = model.shape;
  const layers = outputs.layers.map((layer, index) => ({
    layer: index,
    codingRate: officialCodingRate(layer.w, tokens, model.config.heads, model.config.dim_head),
    sparsity: sparsity(layer.zNext).l0Fraction,
  }));
  return { top: topClasses(outputs.logits, model.config.labels), layers };
}

/** The same on the CPU reference engine, from pixels, with the §2.1 measures (the e2e tests' independent check). */
export function analyseImage(model: CrateModel, image: RgbaImage): { top: ClassScore[]; layers: LayerStats[] } {
  const trace = cpuForward(model, imageToTensor(image, model.config));
  const outputs = { logits: trace.logits, layers: trace.layers };
  const { top, layers } = analyseOutputs(model, outputs);
  const objective = objectiveOfOutputs(model, outputs);
  const weights = modelWeightMeasures(model);
  return { top, layers: layers.map((l, i) => ({ ...l, ...objective[i], ...weights[i] })) };
}
