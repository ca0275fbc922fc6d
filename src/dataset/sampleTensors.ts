/**
 * A few sample images' per-layer tensors, for the figures that compare
 * images: the heads × images grid (each head's class-token attention on 8
 * samples) and the official PCA procedure (fitted jointly over the set,
 * docs/MEASUREMENTS.md §2, PCA). Off the critical path (issue 15): it runs
 * only while such a view is shown, after the main result is on screen, with
 * the same engine as the main view and a turn for the page between images
 * (as dataset mode does, src/dataset/dataset.ts); a new model, engine or
 * sample set cancels it.
 */
import type { GridSize } from '../analysis/attention.ts';
import type { AnyCrateModel } from '../engine/alphaModel.ts';
import type { RgbaImage } from '../engine/preprocess.ts';
import type { ForwardOutputs } from '../engine/runner.ts';
import { classTokenMaps } from '../analysis/analyseRun.ts';
import { Yielder } from './dataset.ts';
import { modelInput, type PrepChoice } from '../image/inputPreprocessing.ts';
import type { AppState, Loadable } from '../state/store.ts';

/** Images the grid shows and the joint PCA fits on. */
export const SAMPLE_TENSOR_IMAGES = 8;

export interface SampleTensors {
  /** modelId|engine|sample set: which run these belong to. */
  key: string;
  modelId: string;
  /** Sample indices, in order. */
  samples: number[];
  images: RgbaImage[];
  grid: GridSize;
  /** Per layer: W = LN1(Z^ℓ)Uᵀ of each image [tokens, inner], and each image's class-token map per head. */
  layers: { w: Float32Array[]; classMaps: Float32Array[][] }[];
}

export interface SampleTensorsRun {
  key: string;
  modelId: string;
  model: AnyCrateModel;
  /** The preprocessing the main view uses (inputPreprocessing.ts); 'auto' when not given. */
  prep?: PrepChoice;
  count: number;
  sample: (index: number) => Promise<{ image: RgbaImage }>;
  forward: (input: Float32Array) => Promise<ForwardOutputs>;
  cancelled: () => boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Runs `count` samples and keeps what the comparing views need; undefined when cancelled. */
export async function collectSampleTensors(options: SampleTensorsRun): Promise<SampleTensors | undefined> {
  const { model } = options;
  const yielder = new Yielder();
  const layers = Array.from({ length: model.config.depth }, () => ({ w: [] as Float32Array[], classMaps: [] as Float32Array[][] }));
  const images: RgbaImage[] = [];
  const samples: number[] = [];
  for (let i = 0; i < options.count; i++) {
    if (options.cancelled()) return undefined;
    const { image } = await options.sample(i);
    const outputs = await options.forward(modelInput(image, model.config, options.prep ?? 'auto').input);
    if (options.cancelled()) return undefined;
    const maps = classTokenMaps(model, outputs);
    outputs.layers.forEach((layer, l) => {
      layers[l].w.push(Float32Array.from(layer.w));
      layers[l].classMaps.push(maps[l]);
    });
    images.push(image);
    samples.push(i);
    options.onProgress?.(i + 1, options.count);
    await yielder.yieldNow();
  }
  return { key: options.key, modelId: options.modelId, samples, images, grid: { height: model.shape.gridHeight, width: model.shape.gridWidth }, layers };
}

/** Whether the view on screen needs the sample set's tensors. */
export function needsSampleTensors(s: Pick<AppState, 'view' | 'pca'>): boolean {
  return s.view === 'heads' || (s.view === 'pca' && s.pca === 'official');
}

/** The tensors for the run on screen, or why there are none yet. */
export function sampleTensorsFor(state: Loadable<SampleTensors>, modelId: string): Loadable<SampleTensors> {
  if (state.status === 'ready' && state.value.modelId !== modelId) return { status: 'loading', message: 'Running the sample images…' };
  return state;
}
