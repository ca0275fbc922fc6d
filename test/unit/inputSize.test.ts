import { describe, expect, it } from 'vitest';
import { parseAnyConfig, type AnyCrateConfig } from '../../src/engine/config.ts';
import { atImageSize, configRunCost, runCost } from '../../src/engine/posEmbedding.ts';
import { describeInputSize, inputSizeChoices, MAX_ATTENTION_BYTES, resolveInputSize, sizeConfigOfSummary } from '../../src/image/inputSize.ts';
import { randomModel } from '../helpers/randomModel.ts';

/** Finer maps (issue 16): the sides offered, their cost, and the check of the link's `size`. */
const base = { eta: 0.1, lambda: 0.1 };
const b16 = parseAnyConfig({ ...base, arch: 'crate', image_size: 224, patch_size: 16, channels: 3, dim: 768, depth: 12, heads: 12, dim_head: 64, num_classes: 1000 });
const alphaB16 = parseAnyConfig({ ...base, arch: 'crate-alpha', ratio: 4, image_size: 224, patch_size: 16, channels: 3, dim: 768, depth: 12, heads: 12, dim_head: 64, num_classes: 1000 });
/** The shipped digits model's sizes: one channel, 28 px (not a multiple of 8 or of 16), patch 4. */
const digits = parseAnyConfig({ ...base, arch: 'crate', image_size: 28, patch_size: 4, channels: 1, dim: 96, depth: 6, heads: 4, dim_head: 24, num_classes: 10 });
const oblong = parseAnyConfig({ ...base, arch: 'crate', image_size: [32, 48], patch_size: 8, channels: 3, dim: 8, depth: 1, heads: 2, dim_head: 4, num_classes: 10 });

describe('inputSizeChoices', () => {
  it('offers 1×, 1.5×, 2× of a B/16, with tokens and the cost counted by hand', () => {
    const choices = inputSizeChoices(b16);
    // 3× (672, 1,765 tokens) would keep 12·12·1765²·4 B = 1.7 GiB of attention: over the bound.
    expect(choices.map((c) => c.side)).toEqual([224, 336, 448]);
    const [own, , double] = choices;
    expect(own).toMatchObject({ side: 224, tokens: 197, native: true, relativeCost: 1 });
    // Per layer N·(2·d·inner + 2·d²) + 2·N²·inner, 12 layers, d = inner = 768.
    expect(own.multiplyAdds).toBe(6_292_703_232);
    expect(double).toMatchObject({ side: 448, tokens: 785, native: false, multiplyAdds: 33_582_827_520 });
    expect(double.relativeCost).toBeCloseTo(33_582_827_520 / 6_292_703_232, 12);
    expect(double.attentionBytes).toBe(12 * 12 * 785 * 785 * 4);
    for (const c of choices) expect(c.attentionBytes).toBeLessThanOrEqual(MAX_ATTENTION_BYTES);
  });

  it('counts CRATE-α\'s overcomplete ISTA block: 448 on an α-B/16 costs 4.3×', () => {
    const double = inputSizeChoices(alphaB16).find((c) => c.side === 448)!;
    expect(double.relativeCost).toBeCloseTo(4.314, 3);
    expect(describeInputSize(double)).toBe('448 × 448 · 785 tokens · 4.3× the cost');
  });

  it('rounds each multiple to the patch size on a 1-channel 28 px model with patch 4', () => {
    // 1.5·28 = 42 is 10.5 patches: rounded to 11, 44 px.
    const choices = inputSizeChoices(digits);
    expect(choices.map((c) => c.side)).toEqual([28, 44, 56, 84, 112]);
    expect(choices.map((c) => c.tokens)).toEqual([50, 122, 197, 442, 785]);
    for (const c of choices) expect(c.side % 4).toBe(0);
    expect(describeInputSize(choices[0])).toBe('28 × 28 · 50 tokens · the model’s own size');
    expect(describeInputSize(choices[2])).toBe(`56 × 56 · 197 tokens · ${choices[2].relativeCost.toFixed(1)}× the cost`);
    expect(choices[2].relativeCost).toBeCloseTo(88_281_216 / 13_939_200, 12);
  });

  it('offers a non-square model nothing to choose (it runs at its own size only)', () => {
    expect(inputSizeChoices(oblong)).toEqual([]);
  });

  it('counts as runCost does on the model, at the model\'s size and resized', () => {
    const model = randomModel({ image_size: 24, patch_size: 4, channels: 1, dim: 12, depth: 2, heads: 3, dim_head: 5, num_classes: 3 }, 7);
    for (const side of [24, 36, 48]) {
      expect(configRunCost(model.config, side, side)).toEqual(runCost(model, side, side));
      const resized = atImageSize(model, side, side);
      expect(configRunCost(model.config, side, side).tokens).toBe(resized.shape.tokens);
    }
  });
});

describe('resolveInputSize', () => {
  it('runs the model as it is for 0 and for its own side', () => {
    expect(resolveInputSize(b16, 0)).toEqual({ side: 224, native: true });
    expect(resolveInputSize(b16, 224)).toEqual({ side: 224, native: true });
    expect(resolveInputSize(oblong, 0)).toEqual({ side: 32, native: true });
  });

  it('takes any multiple of the patch within the bounds, offered or not', () => {
    expect(resolveInputSize(b16, 448)).toEqual({ side: 448, native: false });
    expect(resolveInputSize(b16, 160)).toEqual({ side: 160, native: false });
    expect(resolveInputSize(digits, 60)).toEqual({ side: 60, native: false });
    expect(resolveInputSize(digits, 112)).toEqual({ side: 112, native: false });
  });

  it('falls back to the model\'s own size with a notice that says why', () => {
    const cases: [AnyCrateConfig, number, RegExp][] = [
      [b16, 450, /450 is not a multiple of the patch size 16 \(the nearest are 448 and 464\)/],
      [b16, 8, /8 is not a whole number of patches of 16 pixels/],
      [b16, 912, /912 is more than 4× the model's own 224/],
      [b16, 672, /672×672 gives 1765 tokens, whose attention over 12 layers × 12 heads would take 1711 MiB \(at most 512 MiB\)/],
      [digits, 30, /not a multiple of the patch size 4 \(the nearest are 28 and 32\)/],
      [digits, 116, /more than 4× the model's own 28/],
      [oblong, 64, /the model's input is 32×48, not square/],
    ];
    for (const [config, side, why] of cases) {
      const resolved = resolveInputSize(config, side);
      expect(resolved.native, `${side}`).toBe(true);
      expect(resolved.side).toBe(typeof config.image_size === 'number' ? config.image_size : config.image_size[0]);
      expect(resolved.notice, `${side}`).toMatch(why);
      expect(resolved.notice).toMatch(/; running at the model's own \d+×\d+$/);
    }
  });
});

describe('sizeConfigOfSummary', () => {
  it('gives the same choices from a model summary as from the config, and says when CRATE-α\'s ratio is assumed', () => {
    const summary = { imageSize: [224, 224] as const, patchSize: 16, dim: 768, depth: 12, heads: 12, dimHead: 64 };
    expect(inputSizeChoices(sizeConfigOfSummary(summary).config)).toEqual(inputSizeChoices(b16));
    // The summary of a finer run (448) still gives the choices of the model's own 224.
    const finer = sizeConfigOfSummary({ ...summary, imageSize: [448, 448], ownImageSize: [224, 224] }).config;
    expect(inputSizeChoices(finer)).toEqual(inputSizeChoices(b16));
    expect(resolveInputSize(finer, 448)).toEqual({ side: 448, native: false });
    const alpha = sizeConfigOfSummary({ ...summary, arch: 'crate-alpha' });
    expect(alpha.assumedRatio).toBe(true);
    expect(inputSizeChoices(alpha.config)).toEqual(inputSizeChoices(alphaB16));
    const r2 = sizeConfigOfSummary({ ...summary, arch: 'crate-alpha', ratio: 2 });
    expect(r2.assumedRatio).toBe(false);
    expect(inputSizeChoices(r2.config)[2].relativeCost).not.toBeCloseTo(inputSizeChoices(alphaB16)[2].relativeCost, 3);
  });
});
