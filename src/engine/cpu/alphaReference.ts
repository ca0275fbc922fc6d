/**
 * The CPU reference CRATE-α forward pass: docs/MEASUREMENTS.md §1.1 step by step, with no fusion.
 * The oracle for CRATE-α engines and the engine the CLI and the app run CRATE-α files with where
 * no other engine does yet. Shares patchify, the attention and the float64-accumulating linear
 * algebra with the CRATE reference (reference.ts, linalg.ts).
 */
import { ALPHA_BLOCK_NORM_EPS, ALPHA_HEAD_NORM_EPS, type CrateAlphaModel } from '../alphaModel.ts';
import type { ForwardOutputs, ModelRunner } from '../runner.ts';
import { layerNorm, linear, matmul } from './linalg.ts';
import { multiHeadSelfAttention, patchify } from './reference.ts';

export interface AlphaLayerTrace {
  /** Z^ℓ, [N, d]. */
  z: Float32Array;
  /** W = LN1(Z^ℓ)·Uᵀ, [N, heads·dh]: the official coding rate's input. */
  w: Float32Array;
  /** A_k, [heads, N, N]. */
  attention: Float32Array;
  /** Z^{ℓ+½} = Z^ℓ + O·to_outᵀ (no bias), [N, d]. */
  zHalf: Float32Array;
  /** The sparse code z2, [N, r·d]. */
  sparseCode: Float32Array;
  /** Z^{ℓ+1} = Z^{ℓ+½} + z2·D1ᵀ, [N, d]. */
  zNext: Float32Array;
}

export interface AlphaForwardTrace {
  layers: AlphaLayerTrace[];
  logits: Float32Array;
}

/** Patch embedding (the stride-P convolution as a Linear over patches, with bias), class token, position: Z^0. */
export function alphaEmbed(model: CrateAlphaModel, image: Float32Array): Float32Array {
  const { weights, config, shape } = model;
  const d = config.dim;
  const embedded = linear(patchify(model, image), shape.tokens - 1, shape.patchDim, weights.patchWeight, d, weights.patchBias);
  const z = new Float32Array(shape.tokens * d);
  z.set(weights.clsToken, 0);
  z.set(embedded, d);
  for (let i = 0; i < z.length; i++) z[i] += weights.posEmbedding[i];
  return z;
}

/**
 * Two ISTA steps from zero on the rows of `a` [N, d] with the dictionary D [d, wide]:
 * z1 = ReLU(η·a·D − ηλ), z2 = ReLU(z1 − η·(z1·Dᵀ − a)·D − ηλ). Returns z2 [N, wide].
 */
export function sparseCode(a: Float32Array, tokens: number, d: number, dictionary: Float32Array, wide: number, eta: number, lambda: number): Float32Array {
  const shrink = eta * lambda;
  const z1 = matmul(a, tokens, d, dictionary, wide);
  for (let i = 0; i < z1.length; i++) z1[i] = Math.max(0, eta * z1[i] - shrink);
  const residual = linear(z1, tokens, wide, dictionary, d); // z1·Dᵀ
  for (let i = 0; i < residual.length; i++) residual[i] -= a[i];
  const gradient = matmul(residual, tokens, d, dictionary, wide);
  const z2 = new Float32Array(tokens * wide);
  for (let i = 0; i < z2.length; i++) z2[i] = Math.max(0, z1[i] - eta * gradient[i] - shrink);
  return z2;
}

/** One CRATE-α layer: MSSA with residual (to_out has no bias), then the overcomplete ISTA block with residual. */
export function alphaLayer(model: CrateAlphaModel, layerIndex: number, z: Float32Array): AlphaLayerTrace {
  const { config, shape } = model;
  const layer = model.weights.layers[layerIndex];
  const { tokens, innerDim } = shape;
  const d = config.dim;
  const wide = config.ratio * d;

  const w = linear(layerNorm(z, tokens, d, layer.mssaNorm, ALPHA_BLOCK_NORM_EPS), tokens, d, layer.qkv, innerDim);
  const { attention, out } = multiHeadSelfAttention(w, tokens, config.heads, config.dim_head);
  const zHalf = linear(out, tokens, innerDim, layer.outWeight, d);
  for (let i = 0; i < zHalf.length; i++) zHalf[i] += z[i];

  const a = layerNorm(zHalf, tokens, d, layer.istaNorm, ALPHA_BLOCK_NORM_EPS);
  const code = sparseCode(a, tokens, d, layer.dictionary, wide, config.eta, config.lambda);
  const zNext = linear(code, tokens, wide, layer.decoder, d); // z2·D1ᵀ
  for (let i = 0; i < zNext.length; i++) zNext[i] += zHalf[i];
  return { z, w, attention, zHalf, sparseCode: code, zNext };
}

/** Head: LayerNorm (eps 1e-5) then Linear on the class token. */
export function alphaClassify(model: CrateAlphaModel, z: Float32Array): Float32Array {
  const { config, weights } = model;
  const normed = layerNorm(z.subarray(0, config.dim), 1, config.dim, weights.headNorm, ALPHA_HEAD_NORM_EPS);
  return linear(normed, 1, config.dim, weights.headWeight, config.num_classes, weights.headBias);
}

/** Full forward pass of one normalised image [C, H, W], keeping every intermediate. */
export function alphaCpuForward(model: CrateAlphaModel, image: Float32Array): AlphaForwardTrace {
  let z = alphaEmbed(model, image);
  const layers: AlphaLayerTrace[] = [];
  for (let l = 0; l < model.config.depth; l++) {
    const trace = alphaLayer(model, l, z);
    layers.push(trace);
    z = trace.zNext;
  }
  return { layers, logits: alphaClassify(model, z) };
}

/** The CRATE-α CPU reference behind the runner interface (runner.ts); layers carry the sparse code. */
export function createAlphaCpuRunner(model: CrateAlphaModel): ModelRunner {
  return {
    kind: 'cpu',
    async run(image, options = {}): Promise<ForwardOutputs> {
      const trace = alphaCpuForward(model, image);
      const layers =
        options.layers === false ? [] : trace.layers.map(({ w, attention, zHalf, zNext, sparseCode }) => ({ w, attention, zHalf, zNext, sparseCode }));
      return { logits: trace.logits, layers };
    },
    async dispose() {},
  };
}
