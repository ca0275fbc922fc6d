import { describe, expect, it } from 'vitest';
import { ConfigError, type CrateConfig } from '../../src/engine/config.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import {
  checkOfficialShapes,
  detectUnsupportedVariant,
  inferConfig,
  modelFromInferredTensors,
  modelFromSafetensorsAuto,
  proposeHeads,
} from '../../src/engine/inferConfig.ts';
import { ModelError, officialTensorShapes, type CrateModel } from '../../src/engine/model.ts';
import { writeSafetensors } from '../../src/engine/safetensors.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { fixtureNames, goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';
import { randomModel } from '../helpers/randomModel.ts';

type Partial = Parameters<typeof randomModel>[0];

function shapesOf(config: Partial): Map<string, number[]> {
  const full = { arch: 'crate', image_size: 224, patch_size: 16, channels: 3, num_classes: 10, eta: 0.1, lambda: 0.1, pool: 'cls', labels: [], mean: [], std: [], ...config } as CrateConfig;
  return new Map(officialTensorShapes(full));
}

function tensorsOf(model: CrateModel): Map<string, Tensor> {
  const w = model.weights;
  const map = new Map<string, Tensor>();
  const shapes = new Map(officialTensorShapes(model.config));
  const put = (name: string, data: Float32Array) => map.set(name, { shape: shapes.get(name)!, data });
  put('cls_token', w.clsToken);
  put('pos_embedding', w.posEmbedding);
  put('to_patch_embedding.1.weight', w.patchNormIn.weight);
  put('to_patch_embedding.1.bias', w.patchNormIn.bias);
  put('to_patch_embedding.2.weight', w.patchWeight);
  put('to_patch_embedding.2.bias', w.patchBias);
  put('to_patch_embedding.3.weight', w.patchNormOut.weight);
  put('to_patch_embedding.3.bias', w.patchNormOut.bias);
  w.layers.forEach((l, i) => {
    const p = `transformer.layers.${i}`;
    put(`${p}.0.norm.weight`, l.mssaNorm.weight);
    put(`${p}.0.norm.bias`, l.mssaNorm.bias);
    put(`${p}.0.fn.qkv.weight`, l.qkv);
    put(`${p}.0.fn.to_out.0.weight`, l.outWeight);
    put(`${p}.0.fn.to_out.0.bias`, l.outBias);
    put(`${p}.1.norm.weight`, l.istaNorm.weight);
    put(`${p}.1.norm.bias`, l.istaNorm.bias);
    put(`${p}.1.fn.weight`, l.dictionary);
  });
  put('mlp_head.0.weight', w.headNorm.weight);
  put('mlp_head.0.bias', w.headNorm.bias);
  put('mlp_head.1.weight', w.headWeight);
  put('mlp_head.1.bias', w.headBias);
  return map;
}

describe('proposeHeads', () => {
  it.each([
    [384, 384, 16, 6],
    [576, 576, 16, 12],
    [768, 768, 16, 12],
    [768, 768, 8, 6], // the B/8 segmentation demo
    [1024, 1024, 16, 16],
  ])('proposes the official heads for width %i (inner %i, patch %i): %i', (dim, inner, patch, heads) => {
    expect(proposeHeads(dim, inner, patch)).toBe(heads);
  });

  it.each([
    [32, 32, 1], // dh 32
    [256, 256, 4], // dh 64
    [200, 200, 5], // dh 40 (multiple of 4, closer to 64 than 100)
    [48, 96, 2], // dh 96 vs 48: 48 is closer (16 vs 32)
    [512, 384, 6], // inner ≠ dim: no official value, dh 64
    [640, 640, 10], // dh 64
    [768, 192, 3], // dh 64
    [504, 504, 7], // dh 56 vs 72: a tie at 8 away → the larger head
    [30, 30, 1], // no divisor is a multiple of 4: the closest to 64 of all (30)
  ])('proposes for width %i and inner %i: %i heads', (dim, inner, heads) => {
    expect(proposeHeads(dim, inner)).toBe(heads);
  });
});

describe('inferConfig', () => {
  it.each([
    ['CRATE-T', { dim: 384, depth: 12, heads: 6, dim_head: 64, num_classes: 1000 }],
    ['CRATE-S', { dim: 576, depth: 12, heads: 12, dim_head: 48, num_classes: 1000 }],
    ['CRATE-B', { dim: 768, depth: 12, heads: 12, dim_head: 64, num_classes: 1000 }],
    ['CRATE-L', { dim: 1024, depth: 24, heads: 16, dim_head: 64, num_classes: 1000 }],
    ['demo B/8', { dim: 768, depth: 12, heads: 6, dim_head: 128, num_classes: 21842, patch_size: 8 }],
  ] as [string, Partial][])('infers every official size without help: %s', (_, partial) => {
    const { config, notes } = inferConfig(shapesOf(partial));
    expect(config).toMatchObject({ image_size: 224, patch_size: 16, channels: 3, eta: 0.1, lambda: 0.1, pool: 'cls', ...partial });
    expect(config.mean).toEqual([0.485, 0.456, 0.406]);
    expect(notes.join('\n')).toMatch(/official value/);
  });

  it('infers grey, other patch sizes and grids, and takes the heads it is given', () => {
    const grey = inferConfig(shapesOf({ image_size: 28, patch_size: 7, channels: 1, dim: 48, depth: 3, heads: 4, dim_head: 12 }), { heads: 4 });
    expect(grey.config).toMatchObject({ image_size: 28, patch_size: 7, channels: 1, dim: 48, depth: 3, heads: 4, dim_head: 12, mean: [0], std: [1] });
    const guessed = inferConfig(shapesOf({ image_size: 28, patch_size: 7, channels: 1, dim: 48, depth: 3, heads: 4, dim_head: 12 }));
    expect(guessed.config).toMatchObject({ heads: 1, dim_head: 48 });
    expect(guessed.notes.join('\n')).toMatch(/heads = 1 \(dim_head 48\) is a guess/);
    const fourChannels = inferConfig(shapesOf({ image_size: 32, patch_size: 4, channels: 4, dim: 32, depth: 1, heads: 2, dim_head: 16 }), {
      overrides: { channels: 4 },
    });
    expect(fourChannels.config).toMatchObject({ patch_size: 4, channels: 4, image_size: 32 });
  });

  it('needs image_size for a non-square grid, and checks it', () => {
    const shapes = shapesOf({ image_size: [30, 36], patch_size: 6, channels: 3, dim: 64, depth: 2, heads: 2, dim_head: 24 });
    expect(() => inferConfig(shapes)).toThrow(ConfigError);
    expect(() => inferConfig(shapes)).toThrow('30 patch tokens do not form a square grid; give image_size as [height, width]');
    expect(inferConfig(shapes, { heads: 2, overrides: { image_size: [30, 36] } }).config.image_size).toEqual([30, 36]);
    expect(() => inferConfig(shapes, { heads: 2, overrides: { image_size: [36, 36] } })).toThrow(/pos_embedding/);
  });

  it('refuses heads that do not divide the MSSA width', () => {
    const shapes = shapesOf({ dim: 384, depth: 1, heads: 6, dim_head: 64 });
    expect(() => inferConfig(shapes, { heads: 5 })).toThrow('heads 5 does not divide the MSSA width 384');
    expect(inferConfig(shapes, { heads: 12 }).config).toMatchObject({ heads: 12, dim_head: 32 });
  });

  it('names every missing official tensor when it is the first one missing', () => {
    const base = shapesOf({ image_size: 32, patch_size: 8, dim: 32, depth: 2, heads: 2, dim_head: 16 });
    for (const name of base.keys()) {
      const shapes = new Map(base);
      shapes.delete(name);
      expect(() => inferConfig(shapes, { heads: 2 }), name).toThrow(ModelError);
      expect(() => inferConfig(shapes, { heads: 2 }), name).toThrow(`missing tensor "${name}"`);
    }
  });

  it('names every tensor whose shape is wrong', () => {
    const base = shapesOf({ image_size: 32, patch_size: 8, dim: 32, depth: 2, heads: 2, dim_head: 16 });
    for (const [name, shape] of base) {
      // The anchors define the sizes, so growing one of them is a different model; change a
      // non-anchor dimension instead, or the rank of an anchor.
      const shapes = new Map(base);
      const wrong = name === 'cls_token' || name === 'pos_embedding' ? [...shape, 1] : shape.map((n, i) => (i === shape.length - 1 ? n + 1 : n));
      shapes.set(name, wrong);
      // The anchors' own errors name them too (e.g. a patch dimension that is not P²·C).
      const message = name === 'to_patch_embedding.1.weight' ? `"${name}"` : `tensor "${name}" has shape [${wrong}]`;
      expect(() => inferConfig(shapes, { heads: 2 }), name).toThrow(message);
    }
  });

  it('names an unexpected tensor, and reads depth from the highest layer index', () => {
    const base = shapesOf({ image_size: 32, patch_size: 8, dim: 32, depth: 2, heads: 2, dim_head: 16 });
    const extra = new Map(base).set('transformer.layers.0.0.fn.qkv.bias', [32]);
    expect(() => inferConfig(extra, { heads: 2 })).toThrow('unexpected tensor "transformer.layers.0.0.fn.qkv.bias" [32]');
    const gap = new Map(base).set('transformer.layers.3.1.fn.weight', [32, 32]);
    expect(() => inferConfig(gap, { heads: 2 })).toThrow('missing tensor "transformer.layers.2.0.norm.weight"');
  });

  it('refuses CRATE-MAE by its keys, and CRATE-α keys outside the port layout', () => {
    const alpha = new Map(shapesOf({ dim: 384, depth: 1, heads: 6, dim_head: 64 }));
    alpha.delete('transformer.layers.0.1.fn.weight');
    alpha.set('transformer.layers.0.1.fn.D', [384, 1536]).set('transformer.layers.0.1.fn.D1', [384, 1536]);
    expect(() => inferConfig(alpha)).toThrow('a CRATE-α key ("transformer.layers.0.1.fn.D") in a state dict without the CRATE-α port\'s layout');
    expect(() => detectUnsupportedVariant(['conv_proj.weight', 'cls_token'])).toThrow('without the CRATE-α port\'s layout');
    const mae = new Map(shapesOf({ dim: 384, depth: 1, heads: 6, dim_head: 64 })).set('mask_token', [1, 1, 384]).set('decoder_pos_embed', [1, 197, 256]);
    expect(() => inferConfig(mae)).toThrow(/^not supported yet: CRATE-MAE/);
    expect(() => detectUnsupportedVariant(['decoder.layers.0.0.fn.qkv.weight'])).toThrow('not supported yet: CRATE-MAE');
    expect(() => detectUnsupportedVariant(['enc_to_dec.weight'])).toThrow('not supported yet: CRATE-MAE');
    expect(() => detectUnsupportedVariant(shapesOf({ dim: 384, depth: 2, heads: 6, dim_head: 64 }).keys())).not.toThrow();
  });

  it('checkOfficialShapes accepts exactly the official list', () => {
    const config = inferConfig(shapesOf({ dim: 384, depth: 2, heads: 6, dim_head: 64 })).config;
    expect(() => checkOfficialShapes(config, new Map(officialTensorShapes(config)))).not.toThrow();
  });
});

describe('safetensors with no config', () => {
  it.each(fixtureNames())('fixture %s: tensors without metadata give the same model and logits', (name) => {
    const fixture = loadFixture(name);
    const c = fixture.model.config;
    const bare = writeSafetensors(tensorsOf(fixture.model));
    const square = typeof c.image_size === 'number';
    const { model, config } = modelFromSafetensorsAuto(bare, {
      heads: c.heads,
      overrides: { ...(square ? {} : { image_size: c.image_size }), pool: c.pool },
    });
    expect(config).toMatchObject({ image_size: c.image_size, patch_size: c.patch_size, channels: c.channels, dim: c.dim, depth: c.depth, heads: c.heads, dim_head: c.dim_head, num_classes: c.num_classes });
    const logits = cpuForward(model, goldenTensor(fixture, 'input.0')).logits;
    expect(relativeError(logits, goldenTensor(fixture, 'input.0.logits'))).toBeLessThanOrEqual(1e-5);
  });

  it('uses the config metadata when it is there', () => {
    const fixture = loadFixture('grey17');
    const withConfig = writeSafetensors(tensorsOf(fixture.model), { config: JSON.stringify(fixture.model.config) });
    const result = modelFromSafetensorsAuto(withConfig);
    expect(result.config).toEqual(fixture.model.config);
    expect(result.notes).toEqual([]);
  });

  it('modelFromInferredTensors round-trips a random CRATE-T-width model', () => {
    const model = randomModel({ dim: 384, depth: 1, heads: 6, dim_head: 64 }, 3);
    const inferred = modelFromInferredTensors(tensorsOf(model));
    expect(inferred.config).toMatchObject({ dim: 384, depth: 1, heads: 6, dim_head: 64, image_size: 224, num_classes: 10 });
    expect(inferred.model.weights.layers[0].qkv).toBe(model.weights.layers[0].qkv);
  });
});
