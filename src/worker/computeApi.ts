/**
 * What the compute worker does for the main thread (docs/ARCHITECTURE.md,
 * "The worker boundary"). The worker owns the parsed models, the runners
 * (our WGSL engine, onnxruntime-web and the CPU reference), every analysis
 * of a run and dataset mode; the main thread owns React, the store and
 * drawing. Everything here crosses postMessage: plain data and typed arrays
 * (handed over, not copied), a `File` for a model the user opened.
 */
import type { AnyCrateModel } from '../engine/alphaModel.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import type { EngineKind } from '../engine/runner.ts';
import type { SampleTensors } from '../dataset/sampleTensors.ts';
import type { SegmentationSettings } from '../dataset/dataset.ts';
import type { AppliedPreprocessing, PrepChoice } from '../image/inputPreprocessing.ts';
import type { SampleSet } from '../models/manifest.ts';
import type { ModelFormat } from '../models/modelFile.ts';
import type { AdapterStatus } from '../runners/adapter.ts';
import type { Agreement, DatasetStats, ModelSummary, RunResult } from '../state/store.ts';
import type { EngineChoice } from '../state/urlState.ts';

/** A parsed model as the main thread sees it: no weights, only what the views and the input preprocessing need. */
export interface ModelInfo {
  summary: ModelSummary;
  /** The config the input preprocessing reads (size, channels, mean/std, preprocessing). */
  config: AnyCrateModel['config'];
  shape: Pick<AnyCrateModel['shape'], 'imageHeight' | 'imageWidth' | 'gridHeight' | 'gridWidth' | 'tokens' | 'innerDim'>;
  format?: ModelFormat;
  configFrom?: 'file' | 'inferred';
  notes: string[];
  /** Head counts the MSSA width allows (modelFile.ts headChoices). */
  headChoices: number[];
  /** Reading and parsing the file, ms (model files). */
  readMillis?: number;
  parseMillis?: number;
}

/** Where the image of a run comes from: a cell of a shipped sample set (decoded in the worker), or pixels the main thread has. */
export type ImageRequest =
  | { kind: 'sample'; set: SampleSet; index: number; /** the set is the model's own: its labels and masks apply */ own: boolean }
  | { kind: 'pixels'; image: RgbaImage };

export interface RunRequest {
  key: string;
  image: ImageRequest;
  prep: PrepChoice;
  /** Input side in pixels where it differs from the model's own (finer maps, docs/MEASUREMENTS.md §1.2). */
  size?: number;
  choice: EngineChoice;
  adapter: AdapterStatus;
  seg: SegmentationSettings;
}

/** The run's part of the store's RunResult (src/state/store.ts), as the worker measured it. */
export interface ImageRun extends Pick<RunResult, 'image' | 'sourceImage' | 'label' | 'mask' | 'top' | 'layers' | 'outputs' | 'forwardMillis' | 'analysisMillis' | 'engine'> {
  preprocessing: AppliedPreprocessing;
  reason: string;
  /** The engine the check runs on (`compare`), if any. */
  reference?: EngineKind;
  /** One line each for the notice area (an engine that failed and was replaced, say). */
  notices: string[];
  /** Where the run was at another input side than the model's own (finer maps): its size and token count. */
  resized?: { imageSize: [number, number]; tokens: number };
}

export interface DatasetRequest {
  key: string;
  engine: EngineKind;
  prep: PrepChoice;
  adapter: AdapterStatus;
  /** The user's own images, or a shipped sample set (its labels and masks count only when `own`). */
  images: { kind: 'own'; images: RgbaImage[] } | { kind: 'samples'; set: SampleSet; own: boolean };
  seg: SegmentationSettings;
  /** A line for the stats panel (stand-in images, skipped files). */
  note?: string;
}

export interface ComputeApi {
  [method: string]: (arg: never) => Promise<unknown>;
  /** Downloads (Cache API, byte progress) and parses a shipped or linked model; kept under `key`. */
  loadModel(arg: { key: string; name: string; url: string; expectedBytes?: number }): Promise<ModelInfo>;
  /** Reads and parses a model file the user opened; kept under `key`, replacing the previous local model. */
  openModelFile(arg: { key: string; name: string; file: Blob; heads?: number; replaces?: string }): Promise<ModelInfo>;
  /** Forgets a model and disposes its runners. */
  releaseModel(arg: { key: string }): Promise<void>;
  /** One image through the planned engine (falling back on failure), then every per-image measure. */
  runImage(arg: RunRequest): Promise<ImageRun>;
  /** The last run of `key` again on `reference`: how far the two engines disagree. */
  compare(arg: { key: string; reference: EngineKind }): Promise<Agreement>;
  /** The last run's IoU per layer under new segmentation settings (no forward pass). */
  imageIoUs(arg: { key: string; seg: SegmentationSettings }): Promise<number[] | undefined>;
  /** Dataset mode: every image through `engine`, then mean ± std per layer. */
  runDataset(arg: DatasetRequest): Promise<DatasetStats>;
  /** The last dataset's statistics under new segmentation settings (no forward pass). */
  datasetForSegmentation(arg: { key: string; seg: SegmentationSettings }): Promise<DatasetStats | undefined>;
  /** A few samples' tensors for the views that compare images. */
  sampleTensors(arg: { key: string; tensorsKey: string; engine: EngineKind; prep: PrepChoice; set: SampleSet; count: number }): Promise<SampleTensors>;
  /** Times the WGSL kernel variants again on this adapter (the engine panel's retune control). */
  retune(arg: { key: string }): Promise<void>;
}

export const COMPUTE_METHODS = [
  'loadModel',
  'openModelFile',
  'releaseModel',
  'runImage',
  'compare',
  'imageIoUs',
  'runDataset',
  'datasetForSegmentation',
  'sampleTensors',
  'retune',
] as const satisfies readonly (keyof ComputeApi)[];
