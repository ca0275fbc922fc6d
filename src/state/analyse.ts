/**
 * What the app computes for one image from any engine's outputs: pure
 * functions with no DOM, so the e2e tests run this very code in Node and
 * compare it with what the page shows.
 */
import { topClasses, type ClassScore } from '../analysis/classes.ts';
import { officialCodingRate } from '../analysis/codingRate.ts';
import { sparsity } from '../analysis/sparsity.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import type { CrateModel } from '../engine/model.ts';
import { imageToTensor, type RgbaImage } from '../engine/preprocess.ts';
import type { ForwardOutputs } from '../engine/runner.ts';
import type { LayerStats } from './store.ts';

/** The measurements the app shows: top-5 classes, and per layer the official coding rate and the sparsity. */
export function analyseOutputs(model: CrateModel, outputs: ForwardOutputs): { top: ClassScore[]; layers: LayerStats[] } {
  const { tokens } = model.shape;
  const layers = outputs.layers.map((layer, index) => ({
    layer: index,
    codingRate: officialCodingRate(layer.w, tokens, model.config.heads, model.config.dim_head),
    sparsity: sparsity(layer.zNext).l0Fraction,
  }));
  return { top: topClasses(outputs.logits, model.config.labels), layers };
}

/** The same on the CPU reference engine, from pixels (the e2e tests' independent check). */
export function analyseImage(model: CrateModel, image: RgbaImage): { top: ClassScore[]; layers: LayerStats[] } {
  const trace = cpuForward(model, imageToTensor(image, model.config));
  return analyseOutputs(model, { logits: trace.logits, layers: trace.layers });
}
