/**
 * One analysis helper's side (docs/ARCHITECTURE.md, "Analysis helpers"): it is given
 * one layer of one image at a time and answers that layer's float64 figures
 * (analyseRun.ts layerImageFigures), with the same functions the calling thread would
 * run, so the numbers are the same. It holds the weights of the layers it has been
 * given, of the last two models (the main view and dataset mode may take turns): the
 * pool sends a layer's weights with that layer's first task, and again only when a
 * helper answers that it no longer holds them.
 */
import { layerImageFigures, layerWeightMeasures, type AnalysedLayer, type LayerFigureOptions, type LayerImageFigures, type LayerModel, type ModelWeightMeasures } from '../analysis/analyseRun.ts';
import type { Handlers } from './rpc.ts';

export interface LayerTask {
  /** Which loaded model (the pool's number for it): another number drops the layers held of the previous model. */
  model: number;
  layer: number;
  /** The layer's sizes and weights, with the first task of this layer of this model only. */
  layerModel?: LayerModel;
  /** The layer's captured tensors the figures read (W, Z^{ℓ+½}, Z^{ℓ+1}, CRATE-α's sparse code). */
  tensors: AnalysedLayer;
  options: LayerFigureOptions;
  /** Also the layer's weight-only measures: the model's first image. */
  weightMeasures: boolean;
}

export interface LayerAnswer {
  figures: LayerImageFigures;
  weights?: ModelWeightMeasures;
}

export interface AnalysisHelperApi {
  [method: string]: (arg: never) => Promise<unknown>;
  /** Every per-image figure of one layer (and, when asked, its weight-only measures). */
  layer(task: LayerTask): Promise<LayerAnswer>;
}

export const ANALYSIS_HELPER_METHODS = ['layer'] as const satisfies readonly (keyof AnalysisHelperApi)[];

/** The error name of a task whose layer weights the helper does not hold: the pool sends them again. */
export const MISSING_WEIGHTS = 'MissingLayerWeights';

/** How many models' layers a helper keeps (the pool tracks as many). */
export const MODELS_HELD = 2;

export function createAnalysisHelper(): Handlers<AnalysisHelperApi> {
  const held = new Map<number, Map<number, LayerModel>>();
  const layersOf = (model: number) => {
    let layers = held.get(model);
    if (!layers) {
      held.set(model, (layers = new Map()));
      if (held.size > MODELS_HELD) held.delete(held.keys().next().value!);
    }
    return layers;
  };
  return {
    async layer(task, { signal }) {
      const layers = layersOf(task.model);
      if (task.layerModel) layers.set(task.layer, task.layerModel); // kept even when this task was cancelled: the pool counts on it
      signal.throwIfAborted();
      const weights = layers.get(task.layer);
      if (!weights) throw Object.assign(new Error(`layer ${task.layer} of model ${task.model} came without its weights`), { name: MISSING_WEIGHTS });
      return {
        figures: layerImageFigures(weights, task.tensors, task.layer, task.options),
        weights: task.weightMeasures ? layerWeightMeasures(weights) : undefined,
      };
    },
  };
}
