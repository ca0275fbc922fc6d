/**
 * The CPU reference CRATE forward pass: docs/MEASUREMENTS.md §1 step by step, with no
 * fusion and no cleverness. It is the oracle every GPU kernel is tested
 * against and the engine of last resort for tiny models.
 */
import type { CrateConfig, CrateShape } from '../config.ts';
import type { CrateModel } from '../model.ts';
import { layerNorm, linear, matmul } from './linalg.ts';

export interface LayerTrace {
  /** Z^ℓ, [N, d]. */
  z: Float32Array;
  /** LN1(Z^ℓ), [N, d]. */
  ln1: Float32Array;
  /** W = LN1(Z^ℓ)·Uᵀ, [N, heads·dh]; head k owns columns [k·dh, (k+1)·dh). */
  w: Float32Array;
  /** A_k = softmax(W_k W_kᵀ·dh^-½), [heads, N, N]. */
  attention: Float32Array;
  /** Z^{ℓ+½} = Z^ℓ + to_out(O), [N, d]. */
  zHalf: Float32Array;
  /** LN2(Z^{ℓ+½}), [N, d]. */
  ln2: Float32Array;
  /** Z^{ℓ+1} = ReLU(X + η(X − X·Dᵀ)·D − ηλ), [N, d]. */
  zNext: Float32Array;
}

export interface ForwardTrace {
  /** Patchified input, [N−1, P·P·C] in the official (p1 p2 c) order. */
  patches: Float32Array;
  layers: LayerTrace[];
  logits: Float32Array;
}

/** `b c (h p1) (w p2) -> b (h w) (p1 p2 c)` for one image stored [C, H, W]. */
export function patchify(model: { config: Pick<CrateConfig, 'patch_size' | 'channels'>; shape: CrateShape }, image: Float32Array): Float32Array {
  const { config, shape } = model;
  const P = config.patch_size;
  const C = config.channels;
  const { imageHeight: H, imageWidth: W, gridHeight, gridWidth, patchDim } = shape;
  if (image.length !== C * H * W) throw new Error(`image has ${image.length} values, the model needs ${C}×${H}×${W}`);
  const out = new Float32Array(gridHeight * gridWidth * patchDim);
  for (let gh = 0; gh < gridHeight; gh++) {
    for (let gw = 0; gw < gridWidth; gw++) {
      const base = (gh * gridWidth + gw) * patchDim;
      for (let p1 = 0; p1 < P; p1++) {
        for (let p2 = 0; p2 < P; p2++) {
          for (let c = 0; c < C; c++) {
            out[base + (p1 * P + p2) * C + c] = image[(c * H + gh * P + p1) * W + gw * P + p2];
          }
        }
      }
    }
  }
  return out;
}

/** Patch embedding (LN → Linear → LN), class token prepended, positional embedding added: Z^0. */
export function embed(model: CrateModel, patches: Float32Array): Float32Array {
  const { weights, config, shape } = model;
  const d = config.dim;
  const n = shape.tokens - 1;
  const normed = layerNorm(patches, n, shape.patchDim, weights.patchNormIn);
  const projected = linear(normed, n, shape.patchDim, weights.patchWeight, d, weights.patchBias);
  const embedded = layerNorm(projected, n, d, weights.patchNormOut);
  const z = new Float32Array(shape.tokens * d);
  z.set(weights.clsToken, 0);
  z.set(embedded, d);
  for (let i = 0; i < z.length; i++) z[i] += weights.posEmbedding[i];
  return z;
}

/** Per-head softmax(W_k W_kᵀ·dh^-½) and O_k = A_k W_k; returns [heads, N, N] and O [N, heads·dh]. */
export function multiHeadSelfAttention(w: Float32Array, tokens: number, heads: number, dh: number) {
  const inner = heads * dh;
  const attention = new Float32Array(heads * tokens * tokens);
  const out = new Float32Array(tokens * inner);
  const scale = 1 / Math.sqrt(dh);
  const scores = new Float64Array(tokens);
  for (let k = 0; k < heads; k++) {
    for (let i = 0; i < tokens; i++) {
      let max = -Infinity;
      for (let j = 0; j < tokens; j++) {
        let dot = 0;
        for (let t = 0; t < dh; t++) dot += w[i * inner + k * dh + t] * w[j * inner + k * dh + t];
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
      }
      let sum = 0;
      for (let j = 0; j < tokens; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      const row = (k * tokens + i) * tokens;
      for (let j = 0; j < tokens; j++) attention[row + j] = scores[j] / sum;
      for (let t = 0; t < dh; t++) {
        let acc = 0;
        for (let j = 0; j < tokens; j++) acc += (scores[j] / sum) * w[j * inner + k * dh + t];
        out[i * inner + k * dh + t] = acc;
      }
    }
  }
  return { attention, out };
}

/** One CRATE layer: MSSA with residual, then ISTA without residual (docs/MEASUREMENTS.md §1 step 4). */
export function crateLayer(model: CrateModel, layerIndex: number, z: Float32Array): LayerTrace {
  const { config, shape } = model;
  const layer = model.weights.layers[layerIndex];
  const { tokens, innerDim } = shape;
  const d = config.dim;

  const ln1 = layerNorm(z, tokens, d, layer.mssaNorm);
  const w = linear(ln1, tokens, d, layer.qkv, innerDim);
  const { attention, out } = multiHeadSelfAttention(w, tokens, config.heads, config.dim_head);
  const zHalf = linear(out, tokens, innerDim, layer.outWeight, d, layer.outBias);
  for (let i = 0; i < zHalf.length; i++) zHalf[i] += z[i];

  const ln2 = layerNorm(zHalf, tokens, d, layer.istaNorm);
  const reconstruction = linear(ln2, tokens, d, layer.dictionary, d); // X·Dᵀ
  for (let i = 0; i < reconstruction.length; i++) reconstruction[i] = ln2[i] - reconstruction[i];
  const step = matmul(reconstruction, tokens, d, layer.dictionary, d); // (X − X·Dᵀ)·D
  const shrink = config.eta * config.lambda;
  const zNext = new Float32Array(tokens * d);
  for (let i = 0; i < zNext.length; i++) zNext[i] = Math.max(0, ln2[i] + config.eta * step[i] - shrink);
  return { z, ln1, w, attention, zHalf, ln2, zNext };
}

/** Head: LayerNorm then Linear on the class token (pool 'cls') or on the token mean (pool 'mean'). */
export function classify(model: CrateModel, z: Float32Array): Float32Array {
  const { config, shape, weights } = model;
  const d = config.dim;
  const pooled = new Float32Array(d);
  if (config.pool === 'cls') {
    pooled.set(z.subarray(0, d));
  } else {
    for (let r = 0; r < shape.tokens; r++) for (let i = 0; i < d; i++) pooled[i] += z[r * d + i] / shape.tokens;
  }
  const normed = layerNorm(pooled, 1, d, weights.headNorm);
  return linear(normed, 1, d, weights.headWeight, config.num_classes, weights.headBias);
}

/** Full forward pass of one normalised image [C, H, W], keeping every intermediate. */
export function cpuForward(model: CrateModel, image: Float32Array): ForwardTrace {
  const patches = patchify(model, image);
  let z = embed(model, patches);
  const layers: LayerTrace[] = [];
  for (let l = 0; l < model.config.depth; l++) {
    const trace = crateLayer(model, l, z);
    layers.push(trace);
    z = trace.zNext;
  }
  return { patches, layers, logits: classify(model, z) };
}
