import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, shapeOf } from '../../src/engine/config.ts';

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
});
