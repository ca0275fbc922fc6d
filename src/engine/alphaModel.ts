/**
 * CRATE-α models (docs/MEASUREMENTS.md §1.1): the port's state-dict names and shapes, and the
 * weights every CRATE-α engine reads. Kept apart from model.ts's CrateModel so that no engine
 * written for CRATE can be handed a CRATE-α model by mistake: `AnyCrateModel` is the union, told
 * apart by `config.arch`.
 */
import { shapeOf, type CrateAlphaConfig, type CrateShape } from './config.ts';
import { checkedTensorData, type CrateModel, type Norm } from './model.ts';
import type { Tensor } from './tensor.ts';

/** The port's pre-norm LayerNorms use eps 1e-6; its head LayerNorm keeps torch's default 1e-5 (§1.1). */
export const ALPHA_BLOCK_NORM_EPS = 1e-6;
export const ALPHA_HEAD_NORM_EPS = 1e-5;

export interface AlphaLayerWeights {
  /** LN1 (eps 1e-6). */
  mssaNorm: Norm;
  /** U: [heads·dim_head, dim], no bias. */
  qkv: Float32Array;
  /** to_out: [dim, heads·dim_head], no bias. */
  outWeight: Float32Array;
  /** LN2 (eps 1e-6). */
  istaNorm: Norm;
  /** D: [dim, ratio·dim], the analysis dictionary of the two ISTA steps. */
  dictionary: Float32Array;
  /** D1: [dim, ratio·dim], the synthesis dictionary: the block adds z2·D1ᵀ. */
  decoder: Float32Array;
}

export interface AlphaWeights {
  /**
   * The stride-P convolution `conv1.weight` [dim, C, P, P] as a Linear over patches flattened in the
   * official patchify order (p1 p2 c) (docs/MEASUREMENTS.md §1 step 1), [dim, P·P·C], so the CRATE
   * patchify is reused; `conv1.bias` [dim].
   */
  patchWeight: Float32Array;
  patchBias: Float32Array;
  clsToken: Float32Array;
  /** [tokens, dim]. */
  posEmbedding: Float32Array;
  layers: AlphaLayerWeights[];
  /** LayerNorm (eps 1e-5) then Linear on the class token. */
  headNorm: Norm;
  headWeight: Float32Array;
  headBias: Float32Array;
}

export interface CrateAlphaModel {
  config: CrateAlphaConfig;
  shape: CrateShape;
  weights: AlphaWeights;
}

/** A model of either family; `config.arch` tells which. */
export type AnyCrateModel = CrateModel | CrateAlphaModel;

export function isAlphaModel(model: AnyCrateModel): model is CrateAlphaModel {
  return model.config.arch === 'crate-alpha';
}

/** Every state-dict name of the port (docs/MEASUREMENTS.md §1.1) with its shape, in load order. */
export function alphaTensorShapes(config: CrateAlphaConfig): [string, number[]][] {
  const { tokens, innerDim } = shapeOf(config);
  const d = config.dim;
  const P = config.patch_size;
  const wide = config.ratio * d;
  const list: [string, number[]][] = [
    ['conv1.weight', [d, config.channels, P, P]],
    ['conv1.bias', [d]],
    ['pos_embedding', [1, tokens, d]],
    ['cls_token', [1, 1, d]],
  ];
  for (let i = 0; i < config.depth; i++) {
    const p = `transformer.layers.${i}`;
    list.push(
      [`${p}.0.norm.weight`, [d]],
      [`${p}.0.norm.bias`, [d]],
      [`${p}.0.fn.qkv.weight`, [innerDim, d]],
      [`${p}.0.fn.to_out.0.weight`, [d, innerDim]],
      [`${p}.1.norm.weight`, [d]],
      [`${p}.1.norm.bias`, [d]],
      [`${p}.1.fn.D`, [d, wide]],
      [`${p}.1.fn.D1`, [d, wide]],
    );
  }
  list.push(
    ['mlp_head.0.weight', [d]],
    ['mlp_head.0.bias', [d]],
    ['mlp_head.1.weight', [config.num_classes, d]],
    ['mlp_head.1.bias', [config.num_classes]],
  );
  return list;
}

/** conv1.weight [dim, C, P, P] → [dim, P·P·C] with column (p1·P + p2)·C + c, the patchify order. */
export function convToPatchLinear(conv: Float32Array, dim: number, channels: number, patch: number): Float32Array {
  const patchDim = patch * patch * channels;
  const out = new Float32Array(dim * patchDim);
  for (let o = 0; o < dim; o++) {
    for (let c = 0; c < channels; c++) {
      for (let p1 = 0; p1 < patch; p1++) {
        for (let p2 = 0; p2 < patch; p2++) {
          out[o * patchDim + (p1 * patch + p2) * channels + c] = conv[((o * channels + c) * patch + p1) * patch + p2];
        }
      }
    }
  }
  return out;
}

/** Builds a CRATE-α model from tensors named as the port names them; every tensor checked (model.ts checkedTensorData). */
export function alphaModelFromTensors(config: CrateAlphaConfig, tensors: ReadonlyMap<string, Tensor>): CrateAlphaModel {
  const byName = checkedTensorData(alphaTensorShapes(config), tensors);
  const get = (name: string) => byName.get(name)!;
  const norm = (prefix: string): Norm => ({ weight: get(`${prefix}.weight`), bias: get(`${prefix}.bias`) });
  const layers = Array.from({ length: config.depth }, (_, i): AlphaLayerWeights => {
    const p = `transformer.layers.${i}`;
    return {
      mssaNorm: norm(`${p}.0.norm`),
      qkv: get(`${p}.0.fn.qkv.weight`),
      outWeight: get(`${p}.0.fn.to_out.0.weight`),
      istaNorm: norm(`${p}.1.norm`),
      dictionary: get(`${p}.1.fn.D`),
      decoder: get(`${p}.1.fn.D1`),
    };
  });
  return {
    config,
    shape: shapeOf(config),
    weights: {
      patchWeight: convToPatchLinear(get('conv1.weight'), config.dim, config.channels, config.patch_size),
      patchBias: get('conv1.bias'),
      clsToken: get('cls_token'),
      posEmbedding: get('pos_embedding'),
      layers,
      headNorm: norm('mlp_head.0'),
      headWeight: get('mlp_head.1.weight'),
      headBias: get('mlp_head.1.bias'),
    },
  };
}

/** What describes a model of either family to people and files: its config and derived sizes. */
export type ModelDescription = Pick<AnyCrateModel, 'config' | 'shape'>;
