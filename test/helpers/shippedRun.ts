/**
 * A RunResult of a shipped model on one of its samples, as the app's
 * pipeline would build it, computed in Node with the CPU reference and the
 * app's own analysis (src/analysis/analyseRun.ts): for tests of views and the tour.
 */
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { imageToTensor } from '../../src/engine/preprocess.ts';
import { analyseOutputs, modelWeightMeasures, objectiveOfOutputs } from '../../src/analysis/analyseRun.ts';
import { summarise } from '../../src/models/modelSummary.ts';
import type { RunResult } from '../../src/state/store.ts';
import { loadShippedModel, type ShippedModel } from './shippedModels.ts';

export function shippedRun(id: string, sample = 0, shipped: ShippedModel = loadShippedModel(id)): RunResult {
  const { model } = shipped;
  const { config } = model;
  const image = shipped.samples[sample];
  const trace = cpuForward(model, imageToTensor(image, config));
  const outputs = { logits: trace.logits, layers: trace.layers };
  const { top, layers } = analyseOutputs(model, outputs);
  const objective = objectiveOfOutputs(model, outputs);
  const weights = modelWeightMeasures(model);
  return {
    modelId: id,
    sampleIndex: sample,
    model: summarise({ key: id, name: shipped.entry.name }, { model, bytes: shipped.onnx.length, card: undefined }),
    image,
    label: shipped.labels[sample],
    mask: shipped.masks?.[sample],
    top,
    layers: layers.map((l, i) => ({ ...l, ...objective[i], ...weights[i] })),
    outputs,
    forwardMillis: 0,
    analysisMillis: 0,
    engine: 'cpu',
    engineReason: 'test',
  };
}
