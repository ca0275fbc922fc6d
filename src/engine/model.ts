import { ConfigError, parseConfig, shapeOf, type CrateConfig, type CrateShape } from './config.ts';
import { readSafetensors } from './safetensors.ts';
import type { Tensor } from './tensor.ts';

/** A LayerNorm's affine parameters; eps is 1e-5 everywhere in CRATE (docs/MEASUREMENTS.md §1). */
export interface Norm {
  weight: Float32Array;
  bias: Float32Array;
}
export const LAYER_NORM_EPS = 1e-5;

export interface LayerWeights {
  /** LN1 of the MSSA block. */
  mssaNorm: Norm;
  /** U: [heads·dim_head, dim], no bias. */
  qkv: Float32Array;
  /** to_out: [dim, heads·dim_head] and its bias [dim]. */
  outWeight: Float32Array;
  outBias: Float32Array;
  /** LN2 of the ISTA block. */
  istaNorm: Norm;
  /** D: [dim, dim]. */
  dictionary: Float32Array;
}

export interface CrateWeights {
  patchNormIn: Norm;
  /** [dim, patch_dim] and [dim]. */
  patchWeight: Float32Array;
  patchBias: Float32Array;
  patchNormOut: Norm;
  clsToken: Float32Array;
  /** [tokens, dim]. */
  posEmbedding: Float32Array;
  layers: LayerWeights[];
  headNorm: Norm;
  /** [num_classes, dim] and [num_classes]. */
  headWeight: Float32Array;
  headBias: Float32Array;
}

export interface CrateModel {
  config: CrateConfig;
  shape: CrateShape;
  weights: CrateWeights;
}

export class ModelError extends Error {
  override name = 'ModelError';
}

/** Every official state-dict name (docs/MEASUREMENTS.md §1) with the shape it must have, in load order. */
export function officialTensorShapes(config: CrateConfig): [string, number[]][] {
  const { tokens, patchDim, innerDim } = shapeOf(config);
  const d = config.dim;
  const list: [string, number[]][] = [
    ['cls_token', [1, 1, d]],
    ['pos_embedding', [1, tokens, d]],
    ['to_patch_embedding.1.weight', [patchDim]],
    ['to_patch_embedding.1.bias', [patchDim]],
    ['to_patch_embedding.2.weight', [d, patchDim]],
    ['to_patch_embedding.2.bias', [d]],
    ['to_patch_embedding.3.weight', [d]],
    ['to_patch_embedding.3.bias', [d]],
  ];
  for (let i = 0; i < config.depth; i++) {
    const p = `transformer.layers.${i}`;
    list.push(
      [`${p}.0.norm.weight`, [d]],
      [`${p}.0.norm.bias`, [d]],
      [`${p}.0.fn.qkv.weight`, [innerDim, d]],
      [`${p}.0.fn.to_out.0.weight`, [d, innerDim]],
      [`${p}.0.fn.to_out.0.bias`, [d]],
      [`${p}.1.norm.weight`, [d]],
      [`${p}.1.norm.bias`, [d]],
      [`${p}.1.fn.weight`, [d, d]],
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

/** Index of the first NaN or ±Infinity, or -1. (x − x is 0 for finite x and NaN otherwise.) */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) return i;
  return -1;
}

/**
 * The named tensors' data, each checked by name and shape against `expected`; the error names the
 * first that is missing or mismatched, or that holds a NaN or an infinity (a corrupt or diverged
 * checkpoint would otherwise run and show NaN everywhere). Extra tensors are ignored.
 */
export function checkedTensorData(expected: readonly [string, number[]][], tensors: ReadonlyMap<string, Tensor>): Map<string, Float32Array> {
  const byName = new Map<string, Float32Array>();
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) throw new ModelError(`missing tensor "${name}" (expected shape [${shape}])`);
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
      throw new ModelError(`tensor "${name}" has shape [${t.shape}], expected [${shape}]`);
    }
    const bad = firstNonFinite(t.data);
    if (bad >= 0) {
      throw new ModelError(`tensor "${name}" holds ${t.data[bad]} at element ${bad}; a model with NaN or infinite weights cannot run`);
    }
    byName.set(name, t.data);
  }
  return byName;
}

/** Builds a model from tensors named as in the official state dict, checked by checkedTensorData. */
export function modelFromTensors(config: CrateConfig, tensors: ReadonlyMap<string, Tensor>): CrateModel {
  const byName = checkedTensorData(officialTensorShapes(config), tensors);
  const get = (name: string) => byName.get(name)!;
  const norm = (prefix: string): Norm => ({ weight: get(`${prefix}.weight`), bias: get(`${prefix}.bias`) });
  const layers = Array.from({ length: config.depth }, (_, i): LayerWeights => {
    const p = `transformer.layers.${i}`;
    return {
      mssaNorm: norm(`${p}.0.norm`),
      qkv: get(`${p}.0.fn.qkv.weight`),
      outWeight: get(`${p}.0.fn.to_out.0.weight`),
      outBias: get(`${p}.0.fn.to_out.0.bias`),
      istaNorm: norm(`${p}.1.norm`),
      dictionary: get(`${p}.1.fn.weight`),
    };
  });
  return {
    config,
    shape: shapeOf(config),
    weights: {
      patchNormIn: norm('to_patch_embedding.1'),
      patchWeight: get('to_patch_embedding.2.weight'),
      patchBias: get('to_patch_embedding.2.bias'),
      patchNormOut: norm('to_patch_embedding.3'),
      clsToken: get('cls_token'),
      posEmbedding: get('pos_embedding'),
      layers,
      headNorm: norm('mlp_head.0'),
      headWeight: get('mlp_head.1.weight'),
      headBias: get('mlp_head.1.bias'),
    },
  };
}

/** Reads a model in the project's safetensors format: official names, config JSON in `__metadata__.config`. */
export function modelFromSafetensors(bytes: Uint8Array): CrateModel {
  const { tensors, metadata } = readSafetensors(bytes);
  if (metadata.config === undefined) throw new ModelError('safetensors file has no __metadata__.config');
  let raw: unknown;
  try {
    raw = JSON.parse(metadata.config);
  } catch {
    throw new ConfigError('__metadata__.config is not valid JSON');
  }
  return modelFromTensors(parseConfig(raw), tensors);
}
