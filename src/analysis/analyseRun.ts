/**
 * The one analysis entry point: every per-image figure of docs/MEASUREMENTS.md §2 and §2.1
 * from any engine's outputs. The app (its first figures with `analyseOutputs`, the rest with
 * `analyseImageOutputsAsync` through src/dataset/dataset.ts imageExtras), dataset mode, the
 * CLI's `run` and `stats` and the benches all call `imageFigureSteps` below, so a figure has
 * one definition whoever shows it. Pure functions with no DOM, so the e2e tests run this very
 * code in Node and compare it with what the page shows. The figures of the one layer on
 * screen (maps, histogram, PCA) are src/analysis/layer.ts.
 */
import { attentionMaps, type GridSize } from './attention.ts';
import { topClasses, type ClassScore } from './classes.ts';
import { OFFICIAL_EPS_SQUARED, codingRate, officialCodingRate, paperCodingRate } from './codingRate.ts';
import { dictionaryIncoherence, headCoherence, type DictionaryIncoherence, type HeadCoherence } from './coherence.ts';
import { layerObjective, mssaOutputRate, type LayerObjective } from './objective.ts';
import { bestHeadIoU, type SegmentationSettings } from './segmentation.ts';
import { sparsity, type SparsitySummary } from './sparsity.ts';
import { ALPHA_BLOCK_NORM_EPS, isAlphaModel, type AnyCrateModel } from '../engine/alphaModel.ts';
import { alphaCpuForward } from '../engine/cpu/alphaReference.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import type { CrateModel, LayerWeights } from '../engine/model.ts';
import { preprocessImage, type Preprocessing, type RgbaImage } from '../engine/preprocess.ts';
import { sparseCodeOf, type AlphaLayerOutputs, type LayerOutputs } from '../engine/runner.ts';

/** What the figures read of one layer: W, Z^{ℓ+½}, Z^{ℓ+1}; A only for IoU; CRATE-α's sparse code z2 where there is one. */
export type AnalysedLayer = Pick<LayerOutputs, 'w' | 'zHalf' | 'zNext'> & Partial<Pick<AlphaLayerOutputs, 'attention' | 'sparseCode'>>;

/** What the figures read of a run (any engine's ForwardOutputs is one). */
export interface AnalysedOutputs {
  logits: ArrayLike<number>;
  layers: readonly AnalysedLayer[];
}

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

// ─── Running the steps ───────────────────────────────────────────────────────
// The figures are written once, as generators that yield where a long float64
// computation can pause; `runSteps` runs them at once (the CLI, the tests),
// `runStepsAsync` gives the caller's pause a turn at each yield (the app).

type Steps<T> = Generator<void, T, void>;

function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

async function runStepsAsync<T>(steps: Steps<T>, pause: () => Promise<void>): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await pause();
  }
}

// ─── Weight-only measures ────────────────────────────────────────────────────

/** Keyed by the model's weights object: computed once per loaded model, dropped with it. */
const weightMeasures = new WeakMap<object, ModelWeightMeasures[]>();

/** The model's weight-only measures if they were computed already (here or by the helper workers: src/worker/analysisPool.ts). */
export function knownWeightMeasures(model: AnyCrateModel): ModelWeightMeasures[] | undefined {
  return weightMeasures.get(model.weights);
}

/** Keeps measures computed elsewhere (the helper workers) for the model's later images; the first kept wins. */
export function keepWeightMeasures(model: AnyCrateModel, measures: ModelWeightMeasures[]): ModelWeightMeasures[] {
  if (!weightMeasures.has(model.weights)) weightMeasures.set(model.weights, measures);
  return weightMeasures.get(model.weights)!;
}

/** One layer's weight-only measures (0.36 s of CPU a CRATE-B layer, docs/MEASUREMENTS.md §4: orthonormal bases of every head, DᵀD). */
export function layerWeightMeasures(layer: LayerModel): ModelWeightMeasures {
  const { dim, heads, dimHead, weights } = layer;
  return {
    headCoherence: headCoherence(weights.qkv, heads, dimHead, dim),
    dictionary: layer.alpha || !weights.dictionary ? undefined : dictionaryIncoherence(weights.dictionary, dim),
  };
}

/** Every layer's weight-only measures, cached per model. */
function* weightMeasureSteps(model: AnyCrateModel): Steps<ModelWeightMeasures[]> {
  const known = knownWeightMeasures(model);
  if (known) return known;
  const measures: ModelWeightMeasures[] = [];
  for (let l = 0; l < model.weights.layers.length; l++) {
    measures.push(layerWeightMeasures(layerModel(model, l)));
    yield;
  }
  return keepWeightMeasures(model, measures);
}

/** The weight-only measures of every layer, computed once per model (the app pauses in them through imageFigureSteps). */
export function modelWeightMeasures(model: CrateModel): LayerWeightMeasures[];
export function modelWeightMeasures(model: AnyCrateModel): ModelWeightMeasures[];
export function modelWeightMeasures(model: AnyCrateModel): ModelWeightMeasures[] {
  return runSteps(weightMeasureSteps(model));
}

// ─── One layer, all a helper worker holds ────────────────────────────────────

/**
 * What one layer's figures read of a model: its sizes and that layer's weights, nothing
 * else, so that a helper worker can hold a few layers of a model
 * (docs/ARCHITECTURE.md, "Analysis helpers"). LN2 and D are CRATE's only: the LASSO step
 * and dictionary incoherence are not defined for CRATE-α (docs/MEASUREMENTS.md §1.1).
 */
export interface LayerModel {
  alpha: boolean;
  tokens: number;
  dim: number;
  heads: number;
  dimHead: number;
  lambda: number;
  weights: Pick<LayerWeights, 'mssaNorm' | 'qkv'> & Partial<Pick<LayerWeights, 'istaNorm' | 'dictionary'>>;
}

/** Layer ℓ of the model as a LayerModel; its arrays are the model's own (no copy). */
export function layerModel(model: AnyCrateModel, l: number): LayerModel {
  const { dim, heads, dim_head: dimHead, lambda } = model.config;
  const base = { tokens: model.shape.tokens, dim, heads, dimHead, lambda };
  if (isAlphaModel(model)) {
    const { mssaNorm, qkv } = model.weights.layers[l];
    return { ...base, alpha: true, weights: { mssaNorm, qkv } };
  }
  const { mssaNorm, qkv, istaNorm, dictionary } = model.weights.layers[l];
  return { ...base, alpha: false, weights: { mssaNorm, qkv, istaNorm, dictionary } };
}

// ─── Per-layer figures ───────────────────────────────────────────────────────

/**
 * Layer ℓ's before/after objective values for one image (docs/MEASUREMENTS.md §2.1):
 * `rate_mssa_out` and the LASSO objective before and after the ISTA step,
 * with that layer's own LN1, U, LN2 and D and the model's λ.
 */
export function objectiveOfLayer(model: CrateModel, outputs: AnalysedOutputs, layer: number): LayerObjective;
export function objectiveOfLayer(model: AnyCrateModel, outputs: AnalysedOutputs, layer: number): ModelObjective;
export function objectiveOfLayer(model: AnyCrateModel, outputs: AnalysedOutputs, layer: number): ModelObjective {
  return layerObjectiveValues(layerModel(model, layer), outputs.layers[layer]);
}

function layerObjectiveValues(m: LayerModel, layer: AnalysedLayer): ModelObjective {
  const { tokens, dim, heads, dimHead, lambda, weights } = m;
  if (m.alpha || !weights.istaNorm || !weights.dictionary) {
    return { rateMssaOut: mssaOutputRate(layer.zHalf, { tokens, dim, heads, dimHead }, weights.mssaNorm, weights.qkv, ALPHA_BLOCK_NORM_EPS) };
  }
  const { istaNorm, dictionary } = weights;
  return layerObjective(layer, { ...weights, istaNorm, dictionary }, { tokens, dim, heads, dimHead }, lambda);
}

/** Every layer's objective values. */
export function objectiveOfOutputs(model: CrateModel, outputs: AnalysedOutputs): LayerObjective[];
export function objectiveOfOutputs(model: AnyCrateModel, outputs: AnalysedOutputs): ModelObjective[];
export function objectiveOfOutputs(model: AnyCrateModel, outputs: AnalysedOutputs): ModelObjective[] {
  return outputs.layers.map((_, layer) => objectiveOfLayer(model, outputs, layer));
}

/**
 * The paper's R^c(Z^{ℓ+½}; U) of one layer (docs/MEASUREMENTS.md §2, second item), one head
 * at a time: head k's term only needs rows [k·dh, (k+1)·dh) of U, so the sum over heads equals
 * paperCodingRate over all heads, with a pause between heads (a CRATE-B layer is ~150 ms of
 * float64 matmul).
 */
function* paperRateSteps(m: LayerModel, layer: AnalysedLayer, epsSquared: number): Steps<number> {
  const { tokens, dim, heads, dimHead: dh } = m;
  const u = m.weights.qkv;
  let rate = 0;
  for (let k = 0; k < heads; k++) {
    rate += paperCodingRate(layer.zHalf, tokens, dim, u.subarray(k * dh * dim, (k + 1) * dh * dim), 1, dh, epsSquared);
    yield;
  }
  return rate;
}

/** Every layer's paper-formula R^c, synchronously (the benches). */
export function paperRates(model: AnyCrateModel, outputs: AnalysedOutputs, epsSquared = OFFICIAL_EPS_SQUARED): number[] {
  return outputs.layers.map((layer, l) => runSteps(paperRateSteps(layerModel(model, l), layer, epsSquared)));
}

/** The class token's attention map of every head, per layer, on the patch grid (float32 to halve what dataset mode keeps). */
export function classTokenMaps(model: AnyCrateModel, outputs: AnalysedOutputs): Float32Array[][] {
  const { tokens, gridHeight, gridWidth } = model.shape;
  return outputs.layers.map((layer, l) => {
    if (!layer.attention) throw new Error(`layer ${l} carries no attention probabilities`);
    return attentionMaps(layer.attention, model.config.heads, tokens, { height: gridHeight, width: gridWidth }, 0).heads.map((m) => Float32Array.from(m));
  });
}

/** A pixel-level ground-truth mask (nonzero = object) and the image size it covers. */
export interface GroundTruth {
  mask: ArrayLike<number>;
  image: GridSize;
}

/** Best-head IoU of every layer with the ground truth, for the settings. */
export function imageIoUs(model: AnyCrateModel, outputs: AnalysedOutputs, truth: GroundTruth, s: SegmentationSettings): number[] {
  const grid = { height: model.shape.gridHeight, width: model.shape.gridWidth };
  return classTokenMaps(model, outputs).map((maps) => bestHeadIoU(maps, grid, truth.mask, truth.image, s));
}

/** The figures the app shows first, per layer: the official R^c of the MSSA input and the sparsity of the sparse code. */
export interface FirstLayerFigures {
  layer: number;
  /** Official R^c of the MSSA input (docs/MEASUREMENTS.md §2, first item), nats. */
  codingRate: number;
  /** ‖code‖₀/(d·N) of the sparse code: Z^{ℓ+1}, or CRATE-α's z2 (runner.ts sparseCodeOf, docs/MEASUREMENTS.md §1.1). */
  sparsity: number;
}

/** Every figure of one layer of one image. */
export interface ImageLayerFigures extends FirstLayerFigures, ModelObjective, ModelWeightMeasures {
  /** The whole sparsity summary of the same code (zero fraction, ‖·‖₁). */
  sparseCode: SparsitySummary;
  /** Paper R^c(Z^{ℓ+½}; U); with `paperRate` (the default). */
  paperRate?: number;
  /** R(Z^{ℓ+½}); with `expansionRate`. */
  expansionRate?: number;
  /** Best-head IoU with the ground truth; with `truth`. */
  iou?: number;
}

export interface ImageFigures {
  /** The most probable classes, best first. */
  top: ClassScore[];
  layers: ImageLayerFigures[];
}

export interface ImageFigureOptions {
  /** How many classes `top` lists (default 5). */
  topK?: number;
  /** ε² of the paper-formula rates (default 0.01, the official value). */
  epsSquared?: number;
  /** The paper's R^c(Z^{ℓ+½}; U): a float64 Z·Uᵀ per layer, the costliest figure (default true). */
  paperRate?: boolean;
  /** R(Z^{ℓ+½}) as well (default false). */
  expansionRate?: boolean;
  /** Ground truth and segmentation settings: the best-head IoU of every layer. */
  truth?: GroundTruth & { settings: SegmentationSettings };
}

function firstLayerFigures(m: Pick<LayerModel, 'tokens' | 'heads' | 'dimHead'>, layer: AnalysedLayer, index: number): FirstLayerFigures & { sparseCode: SparsitySummary } {
  const code = sparsity(sparseCodeOf(layer as LayerOutputs));
  return { layer: index, codingRate: officialCodingRate(layer.w, m.tokens, m.heads, m.dimHead), sparsity: code.l0Fraction, sparseCode: code };
}

/**
 * The figures the app shows first: top-5 classes and, per layer, the official coding rate and
 * the sparsity; cheap beside the float64 figures `imageFigureSteps` adds (the CLI's first
 * table and the tests).
 */
export function analyseOutputs(model: AnyCrateModel, outputs: AnalysedOutputs): { top: ClassScore[]; layers: FirstLayerFigures[] } {
  const sizes = { tokens: model.shape.tokens, heads: model.config.heads, dimHead: model.config.dim_head };
  const layers = outputs.layers.map((layer, index) => {
    const { sparseCode: _, ...first } = firstLayerFigures(sizes, layer, index);
    return first;
  });
  return { top: topClasses(outputs.logits, model.config.labels), layers };
}

/** Every per-image figure of one layer: ImageLayerFigures less the weight-only measures. */
export type LayerImageFigures = Omit<ImageLayerFigures, keyof ModelWeightMeasures>;

/** The options a layer's figures depend on (the rest of ImageFigureOptions is about the whole image). */
export type LayerFigureOptions = Pick<ImageFigureOptions, 'epsSquared' | 'paperRate' | 'expansionRate'>;

/** Every per-image figure of one layer, pausing between pieces of float64 work. */
function* layerFigureSteps(m: LayerModel, layer: AnalysedLayer, index: number, options: LayerFigureOptions): Steps<LayerImageFigures> {
  const epsSquared = options.epsSquared ?? OFFICIAL_EPS_SQUARED;
  const figures: LayerImageFigures = { ...firstLayerFigures(m, layer, index), ...layerObjectiveValues(m, layer) };
  yield;
  if (options.paperRate ?? true) figures.paperRate = yield* paperRateSteps(m, layer, epsSquared);
  if (options.expansionRate) figures.expansionRate = codingRate(layer.zHalf, m.tokens, m.dim, epsSquared);
  return figures;
}

/** The same at once: what a helper worker computes for the layers it is given (src/worker/analysisHelper.ts). */
export function layerImageFigures(m: LayerModel, layer: AnalysedLayer, index: number, options: LayerFigureOptions): LayerImageFigures {
  return runSteps(layerFigureSteps(m, layer, index, options));
}

/** The figures of the whole image from its layers' figures and the weight-only measures: the top classes and, with `truth`, the IoUs. */
export function assembleImageFigures(
  model: AnyCrateModel,
  outputs: AnalysedOutputs,
  perLayer: readonly LayerImageFigures[],
  weights: readonly ModelWeightMeasures[],
  options: ImageFigureOptions,
): ImageFigures {
  const layers: ImageLayerFigures[] = perLayer.map((figures, l) => ({ ...figures, ...weights[l] }));
  const truth = options.truth;
  if (truth) imageIoUs(model, outputs, truth, truth.settings).forEach((iou, l) => (layers[l].iou = iou));
  return { top: topClasses(outputs.logits, model.config.labels, options.topK ?? 5), layers };
}

/** Every figure of one image, pausing between pieces of float64 work. */
function* imageFigureSteps(model: AnyCrateModel, outputs: AnalysedOutputs, options: ImageFigureOptions): Steps<ImageFigures> {
  const perLayer: LayerImageFigures[] = [];
  for (let l = 0; l < outputs.layers.length; l++) perLayer.push(yield* layerFigureSteps(layerModel(model, l), outputs.layers[l], l, options));
  const weights = yield* weightMeasureSteps(model);
  return assembleImageFigures(model, outputs, perLayer, weights, options);
}

/** Every figure of one image (the CLI, the benches, the tests). */
export function analyseImageOutputs(model: AnyCrateModel, outputs: AnalysedOutputs, options: ImageFigureOptions = {}): ImageFigures {
  return runSteps(imageFigureSteps(model, outputs, options));
}

/** The same, giving `pause` a turn between pieces of float64 work (the app without helper workers: dataset.ts). */
export function analyseImageOutputsAsync(model: AnyCrateModel, outputs: AnalysedOutputs, options: ImageFigureOptions, pause: () => Promise<void>): Promise<ImageFigures> {
  return runStepsAsync(imageFigureSteps(model, outputs, options), pause);
}

/**
 * Whatever computes every figure of one image for the app: the helper workers
 * (src/worker/analysisPool.ts), or analyseImageOutputsAsync in the calling thread.
 * Both give the same numbers, from the same functions.
 */
export type ImageFigureComputer = (model: AnyCrateModel, outputs: AnalysedOutputs, options: ImageFigureOptions, signal?: AbortSignal) => Promise<ImageFigures>;

/**
 * The same on the CPU reference engine of the model's family, from pixels (the e2e tests'
 * independent check of the page); `preprocessing` defaults to the model's (preprocess.ts).
 * Without the paper rate, which the page shows only in one chart variant.
 */
export function analyseImage(model: AnyCrateModel, image: RgbaImage, preprocessing?: Preprocessing): ImageFigures {
  const input = preprocessImage(image, model.config, preprocessing);
  const trace = isAlphaModel(model) ? alphaCpuForward(model, input) : cpuForward(model, input);
  return analyseImageOutputs(model, trace, { paperRate: false });
}
