/**
 * The one zustand store: the view state (what is selected, which also lives
 * in the URL) plus what the pipeline has loaded and measured for it. Views
 * read it and call its actions; they never call the engine.
 */
import { create } from 'zustand';
import type { ClassScore } from '../analysis/classes.ts';
import type { MeanStd } from '../analysis/dataset.ts';
import type { DictionaryIncoherence, HeadCoherence } from '../analysis/coherence.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import type { EngineKind, ForwardOutputs } from '../engine/runner.ts';
import type { AdapterStatus } from '../runners/adapter.ts';
import type { Manifest } from '../models/manifest.ts';
import type { ImageSet } from '../image/imageSet.ts';
import type { AppliedPreprocessing } from '../image/inputPreprocessing.ts';
import type { ModelFormat } from '../models/modelFile.ts';
import type { SampleTensors } from '../dataset/sampleTensors.ts';
import { URL_PROPS, defaultUrlState, encodeUrlState, parseUrlState, sameUrlState, type ImageSource, type UrlState } from './urlState.ts';

export type Loadable<T> =
  | { status: 'idle' }
  | { status: 'loading'; message: string; /** 0..1 where known. */ fraction?: number; /** Bytes downloaded so far and in all, for downloads. */ bytes?: { received: number; total?: number } }
  | { status: 'ready'; value: T }
  | { status: 'error'; message: string };

export interface LayerStats {
  layer: number;
  /** Official coding rate R^c of the MSSA input (docs/MEASUREMENTS.md §2), nats. */
  codingRate: number;
  /** ‖Z^{ℓ+1}‖₀/(d·N) of the ISTA output. */
  sparsity: number;
  /** Paper formula R^c(Z^{ℓ+½}; U) (docs/MEASUREMENTS.md §2, second item), nats; the pipeline fills it (it needs U). */
  paperRate?: number;
  /** Best-head IoU with the sample's ground-truth mask for the current seg/p/tau (scene models only). */
  iou?: number;
  /** Official R^c of LN1^ℓ(Z^{ℓ+½})·U^ℓᵀ (docs/MEASUREMENTS.md §2.1), nats; codingRate − rateMssaOut > 0: MSSA compressed. Filled by the pipeline (needs the weights). */
  rateMssaOut?: number;
  /** LASSO objective of the ISTA step at Z = LN2(Z^{ℓ+½}) and at Z = Z^{ℓ+1} (docs/MEASUREMENTS.md §2.1). Filled by the pipeline. */
  lassoBefore?: number;
  lassoAfter?: number;
  /** Weight-only (the same for every image): head subspace coherence, K×K in `.matrix`, and the dictionary's incoherence (docs/MEASUREMENTS.md §2.1). */
  headCoherence?: HeadCoherence;
  dictionary?: DictionaryIncoherence;
}

export interface ModelSummary {
  id: string;
  name: string;
  /** Size of the model file, bytes. */
  bytes: number;
  /** The model card's summary (ONNX metadata_props.model_card), untrusted text. */
  card?: Record<string, unknown>;
  labels: string[];
  /** 'imagenet-1k': the model has no names and `labels` are ImageNet-1k's, assumed (issue 16, classNames.ts). */
  labelsFrom?: 'imagenet-1k';
  imageSize: [number, number];
  /** The model's own input size, where this run used another (finer maps, image/inputSize.ts); `imageSize` is then the run's. */
  ownImageSize?: [number, number];
  patchSize: number;
  channels: number;
  tokens: number;
  dim: number;
  depth: number;
  heads: number;
  dimHead: number;
  numClasses: number;
  /** The model family (docs/MEASUREMENTS.md §1, §1.1; absent: CRATE): views say where a CRATE figure is not defined for CRATE-α. */
  arch?: 'crate' | 'crate-alpha';
  /** Per-channel normalisation (x − mean)/std of the input on [0, 1] pixels, for an export's provenance. */
  mean?: number[];
  std?: number[];
}

export interface RunResult {
  modelId: string;
  sampleIndex: number;
  model: ModelSummary;
  /** The input as shown (the sample's pixels), for overlays. */
  image: RgbaImage;
  /** Ground-truth class index of the sample, where known. */
  label?: number;
  /** Ground-truth object mask [H·W] of the sample (scene models), 0/1. */
  mask?: Uint8Array;
  /** Top five classes by probability, best first. */
  top: ClassScore[];
  layers: LayerStats[];
  /** Every layer's tensors, kept so that switching layer or head needs no new forward pass. */
  outputs: ForwardOutputs;
  /** Wall time of the forward pass (with every layer read back), ms. */
  forwardMillis: number;
  /** Wall time of the measurements on top, ms. */
  analysisMillis: number;
  engine: EngineKind;
  /** Why this engine ran (auto choice, the user's choice, or a fallback). */
  engineReason: string;
  /** Where the image came from (a shipped sample unless set). */
  source?: ImageSource;
  /** The uploaded file's name, for an upload. */
  inputName?: string;
  /** Manifest id of the sample set the gallery shows for this model (its own, or the closest for a hosted or local model). */
  samplesFrom?: string;
  /** What was done to the image to make the model input (issue 16, inputPreprocessing.ts); `image` is then what the model saw. */
  preprocessing?: AppliedPreprocessing;
  /** The image before preprocessing, where `image` differs from it (the evaluation transform's crop, a squashed photo): the crop outline is drawn on it. */
  sourceImage?: RgbaImage;
}

/** An image the user uploaded, dropped, pasted or drew: local to this browser, never in a link. */
export interface LocalImage {
  /** Cropped and resampled to the model's input size (src/image/crop.ts, resample.ts); the whole decoded picture where the preprocessing works on it (inputPreprocessing.ts keepsWholeImage). */
  image: RgbaImage;
  source: Exclude<ImageSource, 'sample'>;
  name: string;
  /** The crop box in the original image's pixels and that image's size (uploads), for an export's provenance. */
  crop?: { x: number; y: number; width: number; height: number; sourceWidth: number; sourceHeight: number };
}

/** A model opened from a local file (issue 8). */
export interface LocalModelInfo {
  /** The pipeline's key for it (RunResult.modelId); the `model` link property holds LOCAL_MODEL_ID. */
  key: string;
  name: string;
  bytes: number;
  format: ModelFormat;
  /** 'inferred': the heads were proposed from the shapes and can be changed (headChoices). */
  configFrom: 'file' | 'inferred';
  notes: string[];
  heads: number;
  /** Head counts the MSSA width allows. */
  headChoices: number[];
  /** heads·dh, the rows of U. */
  innerDim: number;
  /** Reading the file, and parsing it, ms. */
  readMillis: number;
  parseMillis: number;
  /** From the drop (or pick) to the first result on the page, ms; set once that result is shown. */
  firstResultMillis?: number;
}

/** A model file to open, put here by the views and taken by the pipeline (views never parse models). */
export interface ModelFileRequest {
  file: Blob;
  name: string;
  /** Re-open with this many heads (the config form). */
  heads?: number;
  /** performance.now() of the drop or pick, for the time to the first result. */
  startedAt: number;
  seq: number;
}

export type { MeanStd } from '../analysis/dataset.ts';

/** Dataset mode: per-layer mean ± std over the model's sample set (docs/MEASUREMENTS.md §2, last item). */
export interface DatasetStats {
  modelId: string;
  /** Images the figures average over. */
  count: number;
  /** Why fewer images than the set holds, or whose labels these are; shown beside the figures. */
  note?: string;
  layers: {
    layer: number;
    codingRate: MeanStd;
    paperRate: MeanStd;
    sparsity: MeanStd;
    /** Best-head IoU with the ground-truth masks (scene models), for the current segmentation settings. */
    iou?: MeanStd;
    /** docs/MEASUREMENTS.md §2.1 (rate: sample std n−1; LASSO: population std n). */
    rateMssaOut?: MeanStd;
    lassoBefore?: MeanStd;
    lassoAfter?: MeanStd;
  }[];
  /** Accuracy over the set (predicted class = label). */
  accuracy?: number;
}

/** How far the main engine is from an independent one on the current image (max |Δ| / max |value|). */
export interface Agreement {
  engine: EngineKind;
  reference: EngineKind;
  logits: number;
  layers: number;
  referenceMillis: number;
}

export interface AppState extends UrlState {
  /** Lines telling the user that something in the link or the data was ignored. */
  notices: string[];
  adapter: AdapterStatus;
  manifest: Loadable<Manifest>;
  run: Loadable<RunResult>;
  /** Why the selected image shows no result while `run` still holds the previous one (NaN activations, issue 20 #15). */
  runProblem?: { what: string; message: string };
  agreement: Loadable<Agreement>;
  /** Filled while `dataset` mode is on. */
  datasetStats: Loadable<DatasetStats>;
  /** A few samples' tensors for the views that compare images (heads × images, joint PCA); filled only while one is shown (sampleTensors.ts). */
  sampleTensors: Loadable<SampleTensors>;
  /** The uploaded or drawn image shown while `source` is 'upload' or 'drawing'. */
  localImage?: LocalImage;
  /** The model opened from a file, while `model` is LOCAL_MODEL_ID. */
  localModel?: LocalModelInfo;
  /** Opening a model file: reading and parsing progress, or why it failed. */
  modelFile: Loadable<LocalModelInfo>;
  modelFileRequest?: ModelFileRequest;
  /** Bumped by the engine panel's "retune": the pipeline times the WGSL kernel variants again (src/kernels/autotune.ts). */
  retuneRequest: number;
  requestRetune(): void;
  /** The last retune's progress, or why it failed. */
  retuning: Loadable<true>;
  /** Changes the selection; a new model or sample resets what depends on it. */
  select(patch: Partial<UrlState>): void;
  /** Finer maps (issue 16): run at side × side pixels (0: the model's own size); the link's `size`. */
  setInputSize(side: number): void;
  /** Shows an uploaded or drawn image (source 'upload' or 'drawing'). */
  useLocalImage(image: LocalImage): void;
  /** Back to a shipped sample. */
  useSample(index: number): void;
  /** The user's own images for dataset mode (issue 19), local to this browser; undefined: the model's sample set. */
  datasetImages?: ImageSet;
  /** Runs dataset mode over these images (or, with undefined, over the sample set again). */
  useDatasetImages(set: ImageSet | undefined): void;
  /** Asks the pipeline to open a model file (optionally with a head count). */
  openModelFile(file: Blob, name: string, heads?: number): void;
  notify(lines: string[]): void;
  dismissNotices(): void;
}

/** At most this many notices are kept; a hostile link must not flood the page. */
const MAX_NOTICES = 12;

export const useApp = create<AppState>()((set) => ({
  ...defaultUrlState(),
  notices: [],
  adapter: { status: 'probing' },
  manifest: { status: 'idle' },
  run: { status: 'idle' },
  agreement: { status: 'idle' },
  datasetStats: { status: 'idle' },
  sampleTensors: { status: 'idle' },
  modelFile: { status: 'idle' },
  retuneRequest: 0,
  retuning: { status: 'idle' },
  requestRetune: () => set((s) => ({ retuneRequest: s.retuneRequest + 1 })),
  select: (patch) => set(patch),
  setInputSize: (side) => set({ size: side }),
  useLocalImage: (image) => set({ localImage: image, source: image.source }),
  useSample: (index) => set({ sample: index, source: 'sample' }),
  openModelFile: (file, name, heads) =>
    set((s) => ({ modelFileRequest: { file, name, heads, startedAt: performance.now(), seq: (s.modelFileRequest?.seq ?? 0) + 1 } })),
  notify: (lines) => set((s) => ({ notices: [...s.notices, ...lines].slice(-MAX_NOTICES) })),
  dismissNotices: () => set({ notices: [] }),
  useDatasetImages: (images) => set(images ? { datasetImages: images, dataset: true } : { datasetImages: undefined }),
}));

/** The URL part of the state: exactly the properties of URL_PROPS. */
export function viewState(s: UrlState): UrlState {
  const out: Partial<Record<keyof UrlState, unknown>> = {};
  for (const prop of URL_PROPS) out[prop.name] = s[prop.name];
  return out as UrlState;
}

/**
 * Reads the initial view state from `location.search` (garbage becomes
 * notices), then keeps the query string equal to the store with
 * `history.replaceState` (no history entry per click). Returns an unsubscribe.
 */
export function bindUrlState(store = useApp): () => void {
  const { state, notices } = parseUrlState(window.location.search);
  store.setState(state);
  if (notices.length) store.getState().notify(notices);
  let last: UrlState | null = null;
  const write = (s: AppState) => {
    const current = viewState(s);
    if (last && sameUrlState(last, current)) return;
    last = current;
    // Never throws (issue 20 #1): a value the link cannot carry is left at its default there and reported.
    const { search, omitted } = encodeUrlState(current);
    if (omitted.length) store.getState().notify(omitted);
    if (search !== window.location.search) {
      window.history.replaceState(window.history.state, '', `${window.location.pathname}${search}${window.location.hash}`);
    }
  };
  write(store.getState());
  return store.subscribe(write);
}
