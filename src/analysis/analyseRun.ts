/**
 * What the app computes for one image from any engine's outputs: pure
 * functions with no DOM, so the e2e tests run this very code in Node and
 * compare it with what the page shows.
 */
import { topClasses, type ClassScore } from './classes.ts';
import { officialCodingRate } from './codingRate.ts';
import { dictionaryIncoherence, headCoherence, type DictionaryIncoherence, type HeadCoherence } from './coherence.ts';
import { layerObjective, mssaOutputRate, type LayerObjective } from './objective.ts';
import { sparsity } from './sparsity.ts';
import { ALPHA_BLOCK_NORM_EPS, isAlphaModel, type AnyCrateModel } from '../engine/alphaModel.ts';
import { alphaCpuForward } from '../engine/cpu/alphaReference.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import type { CrateModel } from '../engine/model.ts';
import { preprocessImage, type Preprocessing, type RgbaImage } from '../engine/preprocess.ts';
import { sparseCodeOf, type ForwardOutputs } from '../engine/runner.ts';
import type { LayerStats } from '../state/store.ts';

/** The weight-only measures of one layer (docs/MEASUREMENTS.md §2.1): the same for every image. */
export interface LayerWeightMeasures {
  headCoherence: HeadCoherence;
  dictionary: DictionaryIncoherence;
}

/** The same for either family: `dictionary` is undefined for CRATE-α, whose D is overcomplete (d × r·d) and §2.1's square-D incoherence not defined (docs/MEASUREMENTS.md §1.1). */
export type ModelWeightMeasures = Omit<LayerWeightMeasures, 'dictionary'> & Partial<Pick<LayerWeightMeasures, 'dictionary'>>;

/**
 * The §2.1 before/after values of one layer. The LASSO values are undefined for CRATE-α: its block
 * runs two steps from z = 0 with an overcomplete D and adds z2·D1ᵀ, so §2.1's square-D LASSO step is
 * not its step (docs/MEASUREMENTS.md §1.1).
 */
export type ModelObjective = Pick<LayerObjective, 'rateMssaOut'> & Partial<Pick<LayerObjective, 'lassoBefore' | 'lassoAfter'>>;

/** Why the LASSO and dictionary figures are absent for CRATE-α, in one sentence for the views (docs/MEASUREMENTS.md §1.1). */
export const ALPHA_LASSO_NOTE =
  'not defined for CRATE-α: its ISTA block takes two steps from z = 0 with an overcomplete dictionary D (d × r·d) and adds z2·D1ᵀ to its input, so the square-D LASSO step and dictionary incoherence of §2.1 do not describe it (docs/MEASUREMENTS.md §1.1)';

function dictionaryMeasure(model: AnyCrateModel, layer: number): DictionaryIncoherence | undefined {
  return isAlphaModel(model) ? undefined : dictionaryIncoherence(model.weights.layers[layer].dictionary, model.config.dim);
}

/** Keyed by the model's weights object: computed once per loaded model, dropped with it. */
const weightMeasures = new WeakMap<object, ModelWeightMeasures[]>();
const headCoherences = new WeakMap<object, HeadCoherence[]>();

/**
 * The weight-only measures of every layer, computed once per model and then
 * cached (about 2 s of CPU at CRATE-T size: orthonormal bases of every head,
 * DᵀD). `pause` runs between the two halves of each layer's work; the app
 * passes its yielder there (dataset.ts) so the page keeps answering.
 */
export async function modelWeightMeasuresAsync(model: AnyCrateModel, pause: () => Promise<void>): Promise<ModelWeightMeasures[]> {
  const known = weightMeasures.get(model.weights);
  if (known) return known;
  const { dim, heads, dim_head: dh } = model.config;
  const measures: ModelWeightMeasures[] = [];
  for (let l = 0; l < model.weights.layers.length; l++) {
    const coherence = headCoherence(model.weights.layers[l].qkv, heads, dh, dim);
    await pause();
    measures.push({ headCoherence: coherence, dictionary: dictionaryMeasure(model, l) });
    await pause();
  }
  if (!weightMeasures.has(model.weights)) weightMeasures.set(model.weights, measures);
  return weightMeasures.get(model.weights)!;
}

/** Each layer's head coherence: weight-only, so computed once per model (the CLI reports it with every image). */
export function modelHeadCoherence(model: AnyCrateModel): HeadCoherence[] {
  let known = headCoherences.get(model.weights);
  if (!known) {
    const { dim, heads, dim_head: dh } = model.config;
    known = model.weights.layers.map((layer) => headCoherence(layer.qkv, heads, dh, dim));
    headCoherences.set(model.weights, known);
  }
  return known;
}

/** The same, synchronously (the CLI and tests). */
export function modelWeightMeasures(model: CrateModel): LayerWeightMeasures[];
export function modelWeightMeasures(model: AnyCrateModel): ModelWeightMeasures[];
export function modelWeightMeasures(model: AnyCrateModel): ModelWeightMeasures[] {
  let measures = weightMeasures.get(model.weights);
  if (!measures) {
    const coherences = modelHeadCoherence(model);
    measures = model.weights.layers.map((_, l) => ({ headCoherence: coherences[l], dictionary: dictionaryMeasure(model, l) }));
    weightMeasures.set(model.weights, measures);
  }
  return measures;
}

/**
 * Layer ℓ's before/after objective values for one image (docs/MEASUREMENTS.md §2.1):
 * `rate_mssa_out` and the LASSO objective before and after the ISTA step,
 * with that layer's own LN1, U, LN2 and D and the model's λ.
 */
export function objectiveOfLayer(model: CrateModel, outputs: ForwardOutputs, layer: number): LayerObjective;
export function objectiveOfLayer(model: AnyCrateModel, outputs: ForwardOutputs, layer: number): ModelObjective;
export function objectiveOfLayer(model: AnyCrateModel, outputs: ForwardOutputs, layer: number): ModelObjective {
  const { tokens } = model.shape;
  const { dim, heads, dim_head: dimHead, lambda } = model.config;
  if (isAlphaModel(model)) {
    const { mssaNorm, qkv } = model.weights.layers[layer];
    return { rateMssaOut: mssaOutputRate(outputs.layers[layer].zHalf, { tokens, dim, heads, dimHead }, mssaNorm, qkv, ALPHA_BLOCK_NORM_EPS) };
  }
  return layerObjective(outputs.layers[layer], model.weights.layers[layer], { tokens, dim, heads, dimHead }, lambda);
}

/** Every layer's objective values (the CLI and the e2e tests' Node side; the app yields between layers: dataset.ts). */
export function objectiveOfOutputs(model: CrateModel, outputs: ForwardOutputs): LayerObjective[];
export function objectiveOfOutputs(model: AnyCrateModel, outputs: ForwardOutputs): ModelObjective[];
export function objectiveOfOutputs(model: AnyCrateModel, outputs: ForwardOutputs): ModelObjective[] {
  return outputs.layers.map((_, layer) => objectiveOfLayer(model, outputs, layer));
}

/**
 * The measurements the app shows first: top-5 classes, and per layer the
 * official coding rate and the sparsity (of CRATE-α's sparse code z2, runner.ts sparseCodeOf). The objective values and the
 * weight-only measures (docs/MEASUREMENTS.md §2.1) need float64 matmuls and
 * are added by the pipeline (dataset.ts imageExtras, which yields to the page).
 */
export function analyseOutputs(model: AnyCrateModel, outputs: ForwardOutputs): { top: ClassScore[]; layers: LayerStats[] } {
  const { tokens } = model.shape;
  const layers = outputs.layers.map((layer, index) => ({
    layer: index,
    codingRate: officialCodingRate(layer.w, tokens, model.config.heads, model.config.dim_head),
    sparsity: sparsity(sparseCodeOf(layer)).l0Fraction,
  }));
  return { top: topClasses(outputs.logits, model.config.labels), layers };
}

/**
 * The same on the CPU reference engine of the model's family, from pixels, with the §2.1 measures
 * (the e2e tests' independent check); `preprocessing` defaults to the model's (preprocess.ts).
 */
export function analyseImage(model: AnyCrateModel, image: RgbaImage, preprocessing?: Preprocessing): { top: ClassScore[]; layers: LayerStats[] } {
  const input = preprocessImage(image, model.config, preprocessing);
  const trace = isAlphaModel(model) ? alphaCpuForward(model, input) : cpuForward(model, input);
  const outputs = { logits: trace.logits, layers: trace.layers };
  const { top, layers } = analyseOutputs(model, outputs);
  const objective = objectiveOfOutputs(model, outputs);
  const weights = modelWeightMeasures(model);
  return { top, layers: layers.map((l, i) => ({ ...l, ...objective[i], ...weights[i] })) };
}
