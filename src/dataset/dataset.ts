/**
 * Dataset mode (docs/MEASUREMENTS.md §2, last item): the driver that runs every sample of a
 * set through the current engine, measures each image with the analysis entry point
 * (src/analysis/analyseRun.ts), then gives mean ± std per layer and the accuracy over the set.
 * The app's per-image figures go through the same entry point (imageRunFigures).
 *
 * The forward passes are the expensive part; what depends on the
 * segmentation settings (seg, P, τ) is kept apart: each image keeps its class
 * token's attention maps (only where a ground-truth mask exists, the only use
 * of them), so new settings recompute the IoUs without a forward pass.
 *
 * No DOM, no GPU: the driver takes the forward pass as a function, so the unit
 * tests run it with the CPU reference (test/unit/dataset.test.ts).
 */
import type { GridSize } from '../analysis/attention.ts';
import { meanStd, type MeanStd, type StdKind } from '../analysis/dataset.ts';
import { bestHeadIoU, type SegmentationSettings } from '../analysis/segmentation.ts';
import type { AnyCrateModel } from '../engine/alphaModel.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import type { ForwardOutputs } from '../engine/runner.ts';
import { isSoftwareAdapter, type AdapterStatus } from '../runners/adapter.ts';
import { analyseImageOutputsAsync, classTokenMaps, imageIoUs, type ImageFigureComputer } from '../analysis/analyseRun.ts';
import type { ClassScore } from '../analysis/classes.ts';
import { modelInput, type PrepChoice } from '../image/inputPreprocessing.ts';
import type { DatasetStats, LayerStats } from '../state/store.ts';

// Where the pipeline and the worker import them from (the implementations live in src/analysis/).
export { imageIoUs, type SegmentationSettings };

/** Cache key of the segmentation settings: only the fraction of the method in use counts. */
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
 * Every figure of one image in the calling thread (analyseRun.ts analyseImageOutputsAsync),
 * giving the thread a turn whenever the yielder's budget is spent, and stopping there once
 * `signal` aborts: where there are no analysis helpers (src/worker/analysisPool.ts).
 */
export function figuresHere(yielder = new Yielder()): ImageFigureComputer {
  return (model, outputs, options, signal) =>
    analyseImageOutputsAsync(model, outputs, options, async () => {
      await yielder.maybeYield();
      signal?.throwIfAborted();
    });
}

/** figuresHere with a pause budget of its own for each image: where no caller keeps a yielder. */
export const figuresHereEachImage: ImageFigureComputer = (...args) => figuresHere()(...args);

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

/** Every figure of one image through the analysis entry point (analyseRun.ts), kept as dataset mode needs it. */
export async function measureImage(model: AnyCrateModel, outputs: ForwardOutputs, sample: DatasetSample, figuresOf: ImageFigureComputer = figuresHereEachImage): Promise<ImageRecord> {
  const figures = await figuresOf(model, outputs, {});
  const record: ImageRecord = {
    label: sample.label,
    predicted: figures.top[0].index,
    codingRate: figures.layers.map((l) => l.codingRate),
    paperRate: figures.layers.map((l) => l.paperRate!),
    sparsity: figures.layers.map((l) => l.sparsity),
    rateMssaOut: figures.layers.map((l) => l.rateMssaOut),
    lassoBefore: figures.layers.map((l) => l.lassoBefore ?? Number.NaN),
    lassoAfter: figures.layers.map((l) => l.lassoAfter ?? Number.NaN),
  };
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
  /** Who computes each image's figures (default: this thread, pausing for `yielder`). */
  figuresOf?: ImageFigureComputer;
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
    records.push(await measureImage(model, outputs, sample, options.figuresOf ?? figuresHere(yielder)));
    options.onProgress?.(i + 1, count);
    await yielder.yieldNow(); // always: the page (and the main view's runs) get a turn between images
  }
  return records;
}

/**
 * Every figure of one image as the app shows it: the top classes and each layer's
 * LayerStats, with the best-head IoU for the settings where there is a ground truth, from
 * the analysis entry point (analyseRun.ts), in helper workers or here (`figuresOf`).
 */
export async function imageRunFigures(
  model: AnyCrateModel,
  outputs: ForwardOutputs,
  truth: { mask: Uint8Array; image: GridSize } | undefined,
  s: SegmentationSettings,
  figuresOf: ImageFigureComputer = figuresHereEachImage,
  signal?: AbortSignal,
): Promise<{ top: ClassScore[]; layers: LayerStats[] }> {
  const figures = await figuresOf(model, outputs, { truth: truth && { ...truth, settings: s } }, signal);
  return { top: figures.top, layers: figures.layers.map(({ sparseCode: _, expansionRate: __, ...stats }) => stats) };
}
