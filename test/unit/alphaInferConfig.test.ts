import { describe, expect, it } from 'vitest';
import { alphaTensorShapes } from '../../src/engine/alphaModel.ts';
import { parseAnyConfig, type CrateAlphaConfig } from '../../src/engine/config.ts';
import { inferAlphaConfig, inferAnyConfig, inferConfig, isAlphaStateDict } from '../../src/engine/inferConfig.ts';

/** The shapes of a released-layout CRATE-α checkpoint (docs/MEASUREMENTS.md §1.1), no data needed. */
function portShapes(partial: Partial<CrateAlphaConfig>): Map<string, number[]> {
  const config = parseAnyConfig({
    arch: 'crate-alpha', ratio: 4, image_size: 224, patch_size: 16, channels: 3, dim: 768, depth: 12, heads: 12, dim_head: 64, num_classes: 1000,
    ...partial,
  }) as CrateAlphaConfig;
  return new Map(alphaTensorShapes(config));
}

describe('CRATE-α config from the port state dict', () => {
  it('B/16: 224 px, patch 16, ratio 4 read from D, 12 heads proposed and said to be proposed', () => {
    const { config, notes } = inferAnyConfig(portShapes({}));
    expect(config).toMatchObject({ arch: 'crate-alpha', image_size: 224, patch_size: 16, channels: 3, dim: 768, depth: 12, heads: 12, dim_head: 64, ratio: 4, num_classes: 1000, pool: 'cls' });
    expect(config.mean).toEqual([0.485, 0.456, 0.406]);
    expect(notes.join('\n')).toMatch(/heads = 12 .*not stored/);
    expect(notes.join('\n')).toMatch(/ratio 4 read from D \[768, 3072\]/);
  });

  it('L/14: 24 layers, 16 heads of 64 proposed', () => {
    const { config } = inferAnyConfig(portShapes({ patch_size: 14, dim: 1024, depth: 24, heads: 16 }));
    expect(config).toMatchObject({ arch: 'crate-alpha', patch_size: 14, image_size: 224, heads: 16, dim_head: 64, depth: 24 });
  });

  it('takes the ratio from D, never assuming 4', () => {
    const { config } = inferAlphaConfig(portShapes({ dim: 30, heads: 5, dim_head: 6, ratio: 2, image_size: 36, patch_size: 6, depth: 2, num_classes: 7 }));
    expect(config.ratio).toBe(2);
  });

  it('uses the head count given, and refuses one that does not divide the MSSA width', () => {
    expect(inferAlphaConfig(portShapes({}), { heads: 6 }).config.dim_head).toBe(128);
    expect(() => inferAlphaConfig(portShapes({}), { heads: 7 })).toThrow(/heads 7 does not divide the MSSA width 768/);
  });

  it('names the tensor that does not fit the layout', () => {
    const extra = portShapes({ depth: 2 });
    extra.set('transformer.layers.0.0.fn.to_out.0.bias', [768]);
    expect(() => inferAnyConfig(extra)).toThrow(/unexpected tensor "transformer\.layers\.0\.0\.fn\.to_out\.0\.bias".*CRATE-α/);
    const badD1 = portShapes({ depth: 2 });
    badD1.set('transformer.layers.1.1.fn.D1', [768, 768]);
    expect(() => inferAnyConfig(badD1)).toThrow(/tensor "transformer\.layers\.1\.1\.fn\.D1" has shape \[768,768\], expected \[768,3072\]/);
    const badD = portShapes({ depth: 1 });
    badD.set('transformer.layers.0.1.fn.D', [768, 1000]);
    expect(() => inferAnyConfig(badD)).toThrow(/1000 columns, not a multiple of the width 768/);
  });

  it('tells the families apart by their own keys; the CRATE-only reader still refuses CRATE-α', () => {
    expect(isAlphaStateDict(portShapes({ depth: 1 }).keys())).toBe(true);
    expect(isAlphaStateDict(['cls_token', 'transformer.layers.0.1.fn.weight'])).toBe(false);
    expect(() => inferConfig(portShapes({ depth: 1 }))).toThrow(/CRATE-α/);
  });
});

describe('parseAnyConfig', () => {
  const base = { arch: 'crate-alpha', image_size: 32, patch_size: 8, channels: 3, dim: 24, depth: 2, heads: 2, dim_head: 12, num_classes: 10 };
  it('needs a positive integer ratio, and the class-token head', () => {
    expect(() => parseAnyConfig(base)).toThrow(/config\.ratio/);
    expect(() => parseAnyConfig({ ...base, ratio: 2.5 })).toThrow(/config\.ratio/);
    expect(() => parseAnyConfig({ ...base, ratio: 4, pool: 'mean' })).toThrow(/pool must be "cls" for CRATE-α/);
    expect(parseAnyConfig({ ...base, ratio: 4 })).toMatchObject({ arch: 'crate-alpha', ratio: 4, eta: 0.1 });
  });
  it('checks the other fields as parseConfig does, and reads CRATE as before', () => {
    expect(() => parseAnyConfig({ ...base, ratio: 4, patch_size: 5 })).toThrow(/does not divide/);
    expect(parseAnyConfig({ ...base, arch: 'crate' }).arch).toBe('crate');
    expect(() => parseAnyConfig({ ...base, arch: 'crate-mae' })).toThrow(/not supported/);
  });
});
