import { describe, expect, it } from 'vitest';
import { ConfigError, MAX_HEADS, parseConfig, shapeOf, VALUE_RANGES } from '../../src/engine/config.ts';

const base = { arch: 'crate', image_size: 224, patch_size: 16, channels: 3, dim: 384, depth: 12, heads: 6, dim_head: 64, num_classes: 1000 };

describe('model config', () => {
  it('derives the CRATE-T token count and fills the documented defaults', () => {
    const config = parseConfig(base);
    expect(shapeOf(config).tokens).toBe(197);
    expect(config.eta).toBe(0.1);
    expect(config.lambda).toBe(0.1);
    expect(config.pool).toBe('cls');
    expect(config.labels).toHaveLength(1000);
  });

  it('accepts non-square images', () => {
    expect(shapeOf(parseConfig({ ...base, image_size: [32, 48], patch_size: 8 })).tokens).toBe(1 + 4 * 6);
  });

  it.each([
    [{ ...base, dim: 0 }, /config.dim must be an integer/],
    [{ ...base, depth: 1e6 }, /config.depth/],
    [{ ...base, patch_size: 15 }, /does not divide/],
    [{ ...base, arch: 'crate-alpha' }, /not supported/],
    [{ ...base, labels: ['a'] }, /labels must be 1000 strings/],
    [{ ...base, std: [1, 0, 1] }, /std must not contain 0/],
    [{ ...base, eta: 'x' }, /eta must be a finite number/],
    [[1, 2], /JSON object/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseConfig(raw)).toThrowError(ConfigError);
    expect(() => parseConfig(raw)).toThrowError(message);
  });

  // Issue 20 defect 15: absurd values passed and only failed on the GPU ("pivot 0 = NaN").
  it.each([
    [{ ...base, std: [1e-40, 1, 1] }, /config\.std\[0\] must be in \[0\.000001, 1000000\], got 1e-40/],
    [{ ...base, std: [1, -0.5, 1] }, /config\.std\[1\] must be in \[/],
    [{ ...base, eta: 1e38 }, /config\.eta must be in \(0, 10\], got 1e\+38/],
    [{ ...base, eta: 0 }, /config\.eta must be in \(0, 10\]/],
    [{ ...base, lambda: -1e38 }, /config\.lambda must be in \[0, 100\], got -1e\+38/],
    [{ ...base, mean: [0, 0, 1e308] }, /config\.mean\[2\] must be in \[-1000000, 1000000\], got 1e\+308/],
    [{ ...base, heads: MAX_HEADS + 1 }, new RegExp(`config\\.heads must be an integer in \\[1, ${MAX_HEADS}\\]`)],
  ])('refuses out-of-range values, naming the field and the range: %j', (raw, message) => {
    expect(() => parseConfig(raw)).toThrowError(ConfigError);
    expect(() => parseConfig(raw)).toThrowError(message);
  });

  it('accepts the edges of every range', () => {
    const { eta, lambda, mean, std } = VALUE_RANGES;
    const config = parseConfig({ ...base, heads: MAX_HEADS, eta: eta.max, lambda: lambda.min, mean: [mean.min, 0, mean.max], std: [std.min, 1, std.max] });
    expect(config.heads).toBe(256);
    expect(parseConfig({ ...base, lambda: lambda.max }).lambda).toBe(100);
  });
});
