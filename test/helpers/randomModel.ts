import { parseConfig, type CrateConfig } from '../../src/engine/config.ts';
import { modelFromTensors, officialTensorShapes, type CrateModel } from '../../src/engine/model.ts';
import { sizeOf, type Tensor } from '../../src/engine/tensor.ts';

/** mulberry32: a tiny seeded generator, so random models are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * Official names and shapes with weights at the scales PyTorch's defaults
 * give: Linear U(±1/√fan_in), LayerNorm near (1, 0), D kaiming-uniform, and
 * unit-scale cls/pos embeddings.
 */
export function randomModel(partial: Partial<CrateConfig> & Pick<CrateConfig, 'dim' | 'depth' | 'heads' | 'dim_head'>, seed: number): CrateModel {
  const { config, tensors } = randomModelTensors(partial, seed);
  return modelFromTensors(config, tensors);
}

/** randomModel's config and tensors under the official names, e.g. to write a model file (writeSafetensors). */
export function randomModelTensors(
  partial: Partial<CrateConfig> & Pick<CrateConfig, 'dim' | 'depth' | 'heads' | 'dim_head'>,
  seed: number,
): { config: CrateConfig; tensors: Map<string, Tensor> } {
  const config = parseConfig({ arch: 'crate', image_size: 224, patch_size: 16, channels: 3, num_classes: 10, ...partial });
  const random = seededRandom(seed);
  const uniform = (bound: number) => (2 * random() - 1) * bound;
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of officialTensorShapes(config)) {
    const data = new Float32Array(sizeOf(shape));
    const fanIn = shape[shape.length - 1];
    for (let i = 0; i < data.length; i++) {
      if (name.endsWith('norm.weight') || /(to_patch_embedding\.[13]|mlp_head\.0)\.weight$/.test(name)) data[i] = 1 + 0.1 * gaussian(random);
      else if (name.endsWith('norm.bias') || /(to_patch_embedding\.[13]|mlp_head\.0)\.bias$/.test(name)) data[i] = 0.1 * gaussian(random);
      else if (name.endsWith('1.fn.weight')) data[i] = uniform(Math.sqrt(6 / fanIn));
      else if (name === 'cls_token' || name === 'pos_embedding') data[i] = 0.5 * gaussian(random);
      else data[i] = uniform(1 / Math.sqrt(fanIn));
    }
    tensors.set(name, { shape, data });
  }
  return { config, tensors };
}

export function randomImage(model: CrateModel, seed: number): Float32Array {
  const random = seededRandom(seed);
  const { config, shape } = model;
  const image = new Float32Array(config.channels * shape.imageHeight * shape.imageWidth);
  for (let i = 0; i < image.length; i++) image[i] = gaussian(random);
  return image;
}
