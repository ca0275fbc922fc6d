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
import type { CrateModel } from '../engine/model.ts';
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

/** Every layer's weight-only measures, cached per model (about 2 s of CPU at CRATE-T size: orthonormal bases of every head, DᵀD). */
function* weightMeasureSteps(model: AnyCrateModel): Steps<ModelWeightMeasures[]> {
  const known = weightMeasures.get(model.weights);
  if (known) return known;
  const { dim, heads, dim_head: dh } = model.config;
  const measures: ModelWeightMeasures[] = [];
  for (let l = 0; l < model.weights.layers.length; l++) {
    const coherence = headCoherence(model.weights.layers[l].qkv, heads, dh, dim);
    yield;
    measures.push({ headCoherence: coherence, dictionary: isAlphaModel(model) ? undefined : dictionaryIncoherence(model.weights.layers[l].dictionary, dim) });
    yield;
  }
  if (!weightMeasures.has(model.weights)) weightMeasures.set(model.weights, measures);
  return weightMeasures.get(model.weights)!;
}

/** The weight-only measures of every layer, computed once per model (the app pauses in them through imageFigureSteps). */
export function modelWeightMeasures(model: CrateModel): LayerWeightMeasures[];
export function modelWeightMeasures(model: AnyCrateModel): ModelWeightMeasures[];
export function modelWeightMeasures(model: AnyCrateModel): ModelWeightMeasures[] {
  return runSteps(weightMeasureSteps(model));
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
  const { tokens } = model.shape;
  const { dim, heads, dim_head: dimHead, lambda } = model.config;
  if (isAlphaModel(model)) {
    const { mssaNorm, qkv } = model.weights.layers[layer];
    return { rateMssaOut: mssaOutputRate(outputs.layers[layer].zHalf, { tokens, dim, heads, dimHead }, mssaNorm, qkv, ALPHA_BLOCK_NORM_EPS) };
  }
  return layerObjective(outputs.layers[layer], model.weights.layers[layer], { tokens, dim, heads, dimHead }, lambda);
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
function* paperRateSteps(model: AnyCrateModel, layer: AnalysedLayer, l: number, epsSquared: number): Steps<number> {
  const { tokens } = model.shape;
  const { dim, heads, dim_head: dh } = model.config;
  const u = model.weights.layers[l].qkv;
  let rate = 0;
  for (let k = 0; k < heads; k++) {
    rate += paperCodingRate(layer.zHalf, tokens, dim, u.subarray(k * dh * dim, (k + 1) * dh * dim), 1, dh, epsSquared);
    yield;
  }
  return rate;
}

/** Every layer's paper-formula R^c, synchronously (the benches). */
export function paperRates(model: AnyCrateModel, outputs: AnalysedOutputs, epsSquared = OFFICIAL_EPS_SQUARED): number[] {
  return outputs.layers.map((layer, l) => runSteps(paperRateSteps(model, layer, l, epsSquared)));
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

function firstLayerFigures(model: AnyCrateModel, layer: AnalysedLayer, index: number): FirstLayerFigures & { sparseCode: SparsitySummary } {
  const code = sparsity(sparseCodeOf(layer as LayerOutputs));
  return { layer: index, codingRate: officialCodingRate(layer.w, model.shape.tokens, model.config.heads, model.config.dim_head), sparsity: code.l0Fraction, sparseCode: code };
}

/**
 * The figures the app shows first: top-5 classes and, per layer, the official coding rate and
 * the sparsity; cheap, so the first render does not wait for the float64 figures, which
 * `imageFigureSteps` adds.
 */
export function analyseOutputs(model: AnyCrateModel, outputs: AnalysedOutputs): { top: ClassScore[]; layers: FirstLayerFigures[] } {
  const layers = outputs.layers.map((layer, index) => {
    const { sparseCode: _, ...first } = firstLayerFigures(model, layer, index);
    return first;
  });
  return { top: topClasses(outputs.logits, model.config.labels), layers };
}

/** Every figure of one image, pausing between pieces of float64 work. */
function* imageFigureSteps(model: AnyCrateModel, outputs: AnalysedOutputs, options: ImageFigureOptions): Steps<ImageFigures> {
  const epsSquared = options.epsSquared ?? OFFICIAL_EPS_SQUARED;
  const { tokens } = model.shape;
  const perImage: Omit<ImageLayerFigures, keyof ModelWeightMeasures>[] = [];
  for (let l = 0; l < outputs.layers.length; l++) {
    const layer = outputs.layers[l];
    const figures: (typeof perImage)[number] = { ...firstLayerFigures(model, layer, l), ...objectiveOfLayer(model, outputs, l) };
    yield;
    if (options.paperRate ?? true) figures.paperRate = yield* paperRateSteps(model, layer, l, epsSquared);
    if (options.expansionRate) figures.expansionRate = codingRate(layer.zHalf, tokens, model.config.dim, epsSquared);
    perImage.push(figures);
  }
  const weights = yield* weightMeasureSteps(model);
  const layers: ImageLayerFigures[] = perImage.map((figures, l) => ({ ...figures, ...weights[l] }));
  const truth = options.truth;
  if (truth) imageIoUs(model, outputs, truth, truth.settings).forEach((iou, l) => (layers[l].iou = iou));
  return { top: topClasses(outputs.logits, model.config.labels, options.topK ?? 5), layers };
}

/** Every figure of one image (the CLI, the benches, the tests). */
export function analyseImageOutputs(model: AnyCrateModel, outputs: AnalysedOutputs, options: ImageFigureOptions = {}): ImageFigures {
  return runSteps(imageFigureSteps(model, outputs, options));
}

/** The same, giving `pause` a turn between pieces of float64 work (the app: dataset.ts). */
export function analyseImageOutputsAsync(model: AnyCrateModel, outputs: AnalysedOutputs, options: ImageFigureOptions, pause: () => Promise<void>): Promise<ImageFigures> {
  return runStepsAsync(imageFigureSteps(model, outputs, options), pause);
}

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
