/**
 * Finer maps (issue 16): a model trained at one grid run at another multiple of its patch size,
 * with the positional embedding of the patches resized bicubically exactly as DINO's
 * `interpolate_pos_encoding` does it (the source of the paper's fine attention figures):
 * `F.interpolate(grid, scale_factor=((g'+0.1)/g, …), mode='bicubic')` with align_corners False.
 * The class token's embedding is kept. The 0.1 (DINO's guard against a floating-point floor
 * one short) also enters the sampling positions, since torch uses the given scale factor for them.
 */
import type { CrateAlphaModel } from './alphaModel.ts';
import { ConfigError, shapeOf } from './config.ts';
import type { CrateModel } from './model.ts';

/** torch's bicubic convolution kernel (Keys, A = −0.75), as upsample_bicubic2d weights four neighbours. */
const A = -0.75;
function cubicWeights(t: number): [number, number, number, number] {
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** For each output index along one axis: the four clamped source indices and their weights. */
function axisTaps(inSize: number, outSize: number, scaleFactor: number): { index: Int32Array; weight: Float64Array } {
  const index = new Int32Array(outSize * 4);
  const weight = new Float64Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    const real = (o + 0.5) / scaleFactor - 0.5; // area_pixel_compute_source_index, cubic: no clamp
    const base = Math.floor(real);
    const w = cubicWeights(real - base);
    for (let k = 0; k < 4; k++) {
      index[o * 4 + k] = Math.min(Math.max(base - 1 + k, 0), inSize - 1);
      weight[o * 4 + k] = w[k];
    }
  }
  return { index, weight };
}

/**
 * The positional embedding [1 + gh·gw, dim] (class token first, patches row-major) resized to
 * a grid of `rows × cols` as DINO's interpolate_pos_encoding; returns [1 + rows·cols, dim].
 */
export function interpolatePosEmbedding(pos: Float32Array, gridHeight: number, gridWidth: number, dim: number, rows: number, cols: number): Float32Array {
  if (pos.length !== (1 + gridHeight * gridWidth) * dim) throw new RangeError(`the positional embedding has ${pos.length} values, not (1 + ${gridHeight}·${gridWidth})·${dim}`);
  const out = new Float32Array((1 + rows * cols) * dim);
  out.set(pos.subarray(0, dim));
  if (rows === gridHeight && cols === gridWidth) {
    out.set(pos);
    return out;
  }
  const ys = axisTaps(gridHeight, rows, (rows + 0.1) / gridHeight);
  const xs = axisTaps(gridWidth, cols, (cols + 0.1) / gridWidth);
  const at = (r: number, c: number, ch: number) => pos[(1 + r * gridWidth + c) * dim + ch];
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      for (let ch = 0; ch < dim; ch++) {
        let acc = 0;
        for (let i = 0; i < 4; i++) {
          let row = 0;
          for (let j = 0; j < 4; j++) row += xs.weight[x * 4 + j] * at(ys.index[y * 4 + i], xs.index[x * 4 + j], ch);
          acc += ys.weight[y * 4 + i] * row;
        }
        out[(1 + y * cols + x) * dim + ch] = acc;
      }
    }
  }
  return out;
}

/**
 * Tokens and multiply-adds of one forward pass at `height × width` (shown before running, issue 16):
 * per layer, U and to_out (2·N·d·inner), attention (2·N²·inner) and the ISTA block (CRATE: 2·N·d²;
 * CRATE-α: 4·N·r·d²).
 */
export function runCost(model: CrateModel | CrateAlphaModel, height: number, width: number): { tokens: number; multiplyAdds: number } {
  return configRunCost(model.config, height, width);
}

/** The sizes runCost needs, which a model summary also carries (the app's views have no weights). */
export type CostConfig = Pick<CrateModel['config'], 'patch_size' | 'dim' | 'depth' | 'heads' | 'dim_head'> &
  ({ arch: 'crate' } | { arch: 'crate-alpha'; ratio: number });

/** runCost from the config alone (the app shows it before running, src/image/inputSize.ts). */
export function configRunCost(config: CostConfig, height: number, width: number): { tokens: number; multiplyAdds: number } {
  const tokens = 1 + (height / config.patch_size) * (width / config.patch_size);
  const d = config.dim;
  const inner = config.heads * config.dim_head; // shapeOf's innerDim
  const ista = config.arch === 'crate-alpha' ? 4 * config.ratio * d * d : 2 * d * d;
  return { tokens, multiplyAdds: config.depth * (tokens * (2 * d * inner + ista) + 2 * tokens * tokens * inner) };
}

/**
 * The same model run on `height × width` images (any multiple of the patch size): the config's
 * image size changes and the positional embedding is interpolated; every other weight is shared.
 */
export function atImageSize<M extends CrateModel | CrateAlphaModel>(model: M, height: number, width: number): M {
  const { config, shape } = model;
  const P = config.patch_size;
  if (!Number.isInteger(height / P) || !Number.isInteger(width / P) || height < P || width < P) {
    throw new ConfigError(`${height}×${width} is not a multiple of the patch size ${P}`);
  }
  const rows = height / P;
  const cols = width / P;
  const resizedConfig = { ...config, image_size: height === width ? height : ([height, width] as [number, number]) };
  const posEmbedding = interpolatePosEmbedding(model.weights.posEmbedding, shape.gridHeight, shape.gridWidth, config.dim, rows, cols);
  return { ...model, config: resizedConfig, shape: shapeOf(resizedConfig), weights: { ...model.weights, posEmbedding } };
}
