/**
 * Dataset mode (docs/MEASUREMENTS.md §2, last item) and the per-layer figures that need
 * the model's U: every sample of a set through the current engine, measured
 * per image, then mean ± std per layer and the accuracy over the set.
 *
 * The forward passes are the expensive part; what depends on the
 * segmentation settings (seg, P, τ) is kept apart: each image keeps its class
 * token's attention maps (only where a ground-truth mask exists, the only use
 * of them), so new settings recompute the IoUs without a forward pass.
 *
 * No DOM, no GPU: the driver takes the forward pass as a function, so the unit
 * tests run it with the CPU reference (test/unit/dataset.test.ts).
 */
import { attentionMaps, type GridSize } from '../analysis/attention.ts';
import { officialCodingRate, paperCodingRate } from '../analysis/codingRate.ts';
import { meanStd, type StdKind } from '../analysis/dataset.ts';
import { bestHead, segmentHeads } from '../analysis/segmentation.ts';
import { sparsity } from '../analysis/sparsity.ts';
import type { AnyCrateModel } from '../engine/alphaModel.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import { sparseCodeOf, type ForwardOutputs } from '../engine/runner.ts';
import { isSoftwareAdapter, type AdapterStatus } from '../runners/adapter.ts';
import { modelWeightMeasuresAsync, objectiveOfLayer, type ModelObjective, type ModelWeightMeasures } from '../analysis/analyseRun.ts';
import { modelInput, type PrepChoice } from '../image/inputPreprocessing.ts';
import type { DatasetStats, MeanStd } from '../state/store.ts';
import type { SegmentationMethod } from '../state/urlState.ts';

/** The segmentation settings IoU depends on (the `seg`, `p`, `tau` link properties). */
export interface SegmentationSettings {
  seg: SegmentationMethod;
  p: number;
  tau: number;
}

export const segmentationKey = (s: SegmentationSettings) => `${s.seg}:${s.seg === 'top' ? s.p : s.tau}`;

/** Most images dataset mode runs (the shipped sets hold 200). */
export const DATASET_MAX_IMAGES = 200;
/** On a software adapter (SwiftShader) every forward is slow: fewer images, and the UI says so. */
export const DATASET_SOFTWARE_MAX_IMAGES = 100;

/** How many images to run, and the sentence that says why when fewer than the set holds. */
export function datasetPlan(setCount: number, adapter: AdapterStatus): { count: number; note?: string } {
  const software = isSoftwareAdapter(adapter);
  const cap = software ? DATASET_SOFTWARE_MAX_IMAGES : DATASET_MAX_IMAGES;
  const count = Math.min(setCount, cap);
  if (count < setCount) {
    return {
      count,
      note: software
        ? `the first ${count} of ${setCount} images: the adapter is a software renderer (${adapter.status === 'ready' ? adapter.name : 'no GPU'}), so every forward pass is slow`
        : `the first ${count} of ${setCount} images`,
    };
  }
  return { count };
}

/** Cooperative yielding: long loops call `maybeYield()` and give the page a turn every `budgetMs`. */
export class Yielder {
  private start = performance.now();
  longestMs = 0;
  constructor(readonly budgetMs = 12) {}
  async maybeYield(): Promise<void> {
    const elapsed = performance.now() - this.start;
    if (elapsed < this.budgetMs) return;
    await this.yieldNow();
  }
  async yieldNow(): Promise<void> {
    this.longestMs = Math.max(this.longestMs, performance.now() - this.start);
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    this.start = performance.now();
  }
}

/**
 * The paper's R^c(Z^{ℓ+½}; U) for every layer (docs/MEASUREMENTS.md §2, second item),
 * one head at a time: head k's term only needs rows [k·dh, (k+1)·dh) of U, so
 * the sum over heads equals paperCodingRate over all heads, and the page gets
 * a turn between heads (a CRATE-B layer is ~150 ms of float64 matmul).
 */
export async function paperRates(model: AnyCrateModel, outputs: ForwardOutputs, yielder = new Yielder()): Promise<number[]> {
  const { tokens } = model.shape;
  const { dim, heads, dim_head: dh } = model.config;
  const rates: number[] = [];
  for (let l = 0; l < outputs.layers.length; l++) {
    const u = model.weights.layers[l].qkv;
    let rate = 0;
    for (let k = 0; k < heads; k++) {
      rate += paperCodingRate(outputs.layers[l].zHalf, tokens, dim, u.subarray(k * dh * dim, (k + 1) * dh * dim), 1, dh);
      await yielder.maybeYield();
    }
    rates.push(rate);
  }
  return rates;
}

/**
 * Every layer's before/after objective values (docs/MEASUREMENTS.md §2.1),
 * giving the page a turn between layers (three float64 N×d×d products each).
 */
export async function objectiveOfLayers(model: AnyCrateModel, outputs: ForwardOutputs, yielder = new Yielder()): Promise<ModelObjective[]> {
  const values: ModelObjective[] = [];
  for (let l = 0; l < outputs.layers.length; l++) {
    values.push(objectiveOfLayer(model, outputs, l));
    await yielder.maybeYield();
  }
  return values;
}

/** The class token's attention map of every head, per layer, on the patch grid (float32 to halve what is kept). */
export function classTokenMaps(model: AnyCrateModel, outputs: ForwardOutputs): Float32Array[][] {
  const { tokens, gridHeight, gridWidth } = model.shape;
  return outputs.layers.map((layer) =>
    attentionMaps(layer.attention, model.config.heads, tokens, { height: gridHeight, width: gridWidth }, 0).heads.map((m) => Float32Array.from(m)),
  );
}

/** Best-head IoU with the ground truth for one layer's maps and the current settings (docs/MEASUREMENTS.md §2, segmentation). */
export function bestHeadIoU(maps: readonly ArrayLike<number>[], grid: GridSize, mask: ArrayLike<number>, image: GridSize, s: SegmentationSettings): number {
  const segmentation = segmentHeads(maps, { kind: s.seg, fraction: s.seg === 'top' ? s.p : s.tau });
  return bestHead(segmentation.heads, grid, mask, image).iou;
}

/** What one image contributes to the dataset view. */
export interface ImageRecord {
  label?: number;
  /** argmax of the logits. */
  predicted: number;
  codingRate: number[];
  paperRate: number[];
  sparsity: number[];
  /** docs/MEASUREMENTS.md §2.1, per layer; the LASSO values are NaN for CRATE-α, where they are not defined (§1.1). */
  rateMssaOut: number[];
  lassoBefore: number[];
  lassoAfter: number[];
  /** [layer][head] class-token maps; kept only with a mask, for IoU under new settings. */
  maps?: Float32Array[][];
  mask?: Uint8Array;
  imageSize?: GridSize;
}

export interface DatasetSample {
  image: RgbaImage;
  label?: number;
  mask?: Uint8Array;
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export async function measureImage(model: AnyCrateModel, outputs: ForwardOutputs, sample: DatasetSample, yielder = new Yielder()): Promise<ImageRecord> {
  const { tokens } = model.shape;
  const { heads, dim_head: dh } = model.config;
  const record: ImageRecord = {
    label: sample.label,
    predicted: argmax(outputs.logits),
    codingRate: outputs.layers.map((l) => officialCodingRate(l.w, tokens, heads, dh)),
    sparsity: outputs.layers.map((l) => sparsity(sparseCodeOf(l)).l0Fraction),
    paperRate: await paperRates(model, outputs, yielder),
    rateMssaOut: [],
    lassoBefore: [],
    lassoAfter: [],
  };
  for (const values of await objectiveOfLayers(model, outputs, yielder)) {
    record.rateMssaOut.push(values.rateMssaOut);
    record.lassoBefore.push(values.lassoBefore ?? Number.NaN);
    record.lassoAfter.push(values.lassoAfter ?? Number.NaN);
  }
  if (sample.mask) {
    record.maps = classTokenMaps(model, outputs);
    record.mask = sample.mask;
    record.imageSize = { height: sample.image.height, width: sample.image.width };
  }
  return record;
}

/** IoU per image per layer for the settings; undefined unless every image has a mask. */
export async function datasetIoUs(model: AnyCrateModel, records: readonly ImageRecord[], s: SegmentationSettings, yielder = new Yielder(), cancelled = () => false): Promise<number[][] | undefined> {
  if (records.length === 0 || records.some((r) => !r.maps || !r.mask || !r.imageSize)) return undefined;
  const grid = { height: model.shape.gridHeight, width: model.shape.gridWidth };
  const out: number[][] = [];
  for (const r of records) {
    out.push(r.maps!.map((maps) => bestHeadIoU(maps, grid, r.mask!, r.imageSize!, s)));
    await yielder.maybeYield();
    if (cancelled()) return undefined;
  }
  return out;
}

function column(records: readonly ImageRecord[], pick: (r: ImageRecord) => number[], layer: number, kind: StdKind): MeanStd {
  const stats = meanStd(records.map((r) => [pick(r)[layer]]), kind);
  return { mean: stats.mean[0], std: stats.std[0] };
}

/**
 * Per-layer mean ± std and the accuracy where the labels belong to the model.
 * Which std (docs/MEASUREMENTS.md §2, dataset mode): coding rates use the
 * sample std (n − 1), as the official coding-rate plot (torch.std); the
 * sparsity uses the population std (n), as the official sparsity plot
 * (np.std); IoU and the LASSO objective, which no official plot averages,
 * use n as well.
 */
export function summariseDataset(
  modelId: string,
  records: readonly ImageRecord[],
  ious: number[][] | undefined,
  options: { accuracy: boolean; note?: string },
): DatasetStats {
  if (records.length === 0) throw new RangeError('no images were measured');
  const depth = records[0].codingRate.length;
  const labelled = records.filter((r) => r.label !== undefined);
  return {
    modelId,
    count: records.length,
    layers: Array.from({ length: depth }, (_, layer) => {
      const entry: DatasetStats['layers'][number] = {
        layer,
        codingRate: column(records, (r) => r.codingRate, layer, 'sample'),
        paperRate: column(records, (r) => r.paperRate, layer, 'sample'),
        sparsity: column(records, (r) => r.sparsity, layer, 'population'),
        rateMssaOut: column(records, (r) => r.rateMssaOut, layer, 'sample'),
      };
      // Absent, not NaN, where the LASSO objective is not defined (CRATE-α, docs/MEASUREMENTS.md §1.1): the views say why.
      if (records.every((r) => Number.isFinite(r.lassoBefore[layer]) && Number.isFinite(r.lassoAfter[layer]))) {
        entry.lassoBefore = column(records, (r) => r.lassoBefore, layer, 'population');
        entry.lassoAfter = column(records, (r) => r.lassoAfter, layer, 'population');
      }
      if (ious) {
        const stats = meanStd(ious.map((row) => [row[layer]]));
        entry.iou = { mean: stats.mean[0], std: stats.std[0] };
      }
      return entry;
    }),
    accuracy: options.accuracy && labelled.length ? labelled.filter((r) => r.predicted === r.label).length / labelled.length : undefined,
    note: options.note,
  };
}

export interface DatasetRunOptions {
  model: AnyCrateModel;
  /** The preprocessing the main view uses (inputPreprocessing.ts); 'auto' when not given. */
  prep?: PrepChoice;
  count: number;
  sample(index: number): Promise<DatasetSample>;
  forward(input: Float32Array): Promise<ForwardOutputs>;
  /** Called after each image with how many are done. */
  onProgress?(done: number, total: number): void;
  /** Checked between images: a new model, engine or switch stops the run. */
  cancelled?(): boolean;
  yielder?: Yielder;
}

/**
 * Runs and measures `count` samples one after the other (one forward pass in
 * flight, so the main view's runs interleave), yielding between images.
 * Returns undefined when cancelled.
 */
export async function runDataset(options: DatasetRunOptions): Promise<ImageRecord[] | undefined> {
  const { model, count } = options;
  const cancelled = options.cancelled ?? (() => false);
  const yielder = options.yielder ?? new Yielder();
  const records: ImageRecord[] = [];
  for (let i = 0; i < count; i++) {
    if (cancelled()) return undefined;
    const sample = await options.sample(i);
    const outputs = await options.forward(modelInput(sample.image, model.config, options.prep ?? 'auto').input);
    if (cancelled()) return undefined;
    records.push(await measureImage(model, outputs, sample, yielder));
    options.onProgress?.(i + 1, count);
    await yielder.yieldNow(); // always: the page (and the main view's runs) get a turn between images
  }
  return records;
}

/**
 * Per-layer figures of one image that need the weights or the ground truth:
 * the paper rate, the before/after objective values with the weight-only
 * measures (docs/MEASUREMENTS.md §2.1; those computed once per model) and the
 * best-head IoU for the settings.
 */
export async function imageExtras(
  model: AnyCrateModel,
  outputs: ForwardOutputs,
  truth: { mask: Uint8Array; image: GridSize } | undefined,
  s: SegmentationSettings,
  yielder = new Yielder(),
): Promise<{ paperRate: number[]; objective: (ModelObjective & ModelWeightMeasures)[]; iou?: number[] }> {
  const paperRate = await paperRates(model, outputs, yielder);
  const values = await objectiveOfLayers(model, outputs, yielder);
  const weights = await modelWeightMeasuresAsync(model, () => yielder.maybeYield());
  const objective = values.map((v, l) => ({ ...v, ...weights[l] }));
  return { paperRate, objective, iou: truth ? imageIoUs(model, outputs, truth, s) : undefined };
}

export function imageIoUs(model: AnyCrateModel, outputs: ForwardOutputs, truth: { mask: Uint8Array; image: GridSize }, s: SegmentationSettings): number[] {
  const grid = { height: model.shape.gridHeight, width: model.shape.gridWidth };
  return classTokenMaps(model, outputs).map((maps) => bestHeadIoU(maps, grid, truth.mask, truth.image, s));
}
