/**
 * What the app computes for one image, on the CPU reference engine: pure
 * functions with no DOM, so the e2e tests run this very code in Node and
 * compare it with what the page shows.
 */
import { officialCodingRate } from '../analysis/codingRate.ts';
import { sparsity } from '../analysis/sparsity.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import type { CrateModel } from '../engine/model.ts';
import { imageToTensor, type RgbaImage } from '../engine/preprocess.ts';
import { topClasses, type ClassScore } from '../analysis/classes.ts';
import type { LayerStats } from './store.ts';

/** The measurements the app shows: top-5 classes, and per layer the official coding rate and the sparsity. */
export function analyseImage(model: CrateModel, image: RgbaImage): { top: ClassScore[]; layers: LayerStats[] } {
  const input = imageToTensor(image, model.config);
  const trace = cpuForward(model, input);
  const { tokens } = model.shape;
  const layers = trace.layers.map((layer, index) => ({
    layer: index,
    codingRate: officialCodingRate(layer.w, tokens, model.config.heads, model.config.dim_head),
    sparsity: sparsity(layer.zNext).l0Fraction,
  }));
  return { top: topClasses(trace.logits, model.config.labels), layers };
}
