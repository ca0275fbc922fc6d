import { describe, expect, it } from 'vitest';
import { officialCodingRate } from '../../src/analysis/codingRate.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { alphaCpuForward, createAlphaCpuRunner, sparseCode } from '../../src/engine/cpu/alphaReference.ts';
import { maxRelativeDeviation, sparseCodeOf } from '../../src/engine/runner.ts';
import { alphaFixtureModel, alphaFixtureNames, alphaGolden, loadAlphaFixture } from '../helpers/alphaFixtures.ts';
import { relativeError } from '../helpers/fixtures.ts';

// Issue 16's tolerances for every engine against the fixtures.
const LOGITS = 1e-4;
const RATE = 1e-3;
const SPARSITY = 2e-3;
const ATTENTION = 1e-4;

describe('CRATE-α fixtures', () => {
  it('cover ratio 4 and others, a head size not a multiple of 4 and an odd grid', () => {
    const configs = alphaFixtureNames().map((name) => loadAlphaFixture(name).config);
    expect(configs.map((c) => c.ratio)).toContain(4);
    expect(configs.some((c) => c.ratio !== 4)).toBe(true);
    expect(configs.some((c) => c.dim_head % 4 !== 0)).toBe(true);
    expect(configs.some((c) => ((c.image_size as number) / c.patch_size) % 2 === 1)).toBe(true);
  });
});

describe.each(alphaFixtureNames())('CRATE-α CPU reference against PyTorch fixture %s', (name) => {
  const fixture = loadAlphaFixture(name);

  it('reads the .pth as CRATE-α with the generator config (ratio from D)', async () => {
    const model = await alphaFixtureModel(fixture);
    const { labels: _a, ...read } = model.config;
    const { labels: _b, ...expected } = fixture.config;
    expect(read).toEqual(expected);
  });

  for (const input of [0, 1]) {
    it(`reproduces logits, official Rᶜ, sparsity of z2 and class-token attention of input ${input}`, async () => {
      const model = await alphaFixtureModel(fixture);
      const { config, shape } = model;
      const golden = (key: string) => alphaGolden(fixture, `input.${input}.${key}`);
      const trace = alphaCpuForward(model, alphaGolden(fixture, `input.${input}`));
      expect(relativeError(trace.logits, golden('logits')), 'logits').toBeLessThanOrEqual(LOGITS);
      expect(trace.layers).toHaveLength(config.depth);
      trace.layers.forEach((layer, l) => {
        const at = `layer ${l}`;
        const rate = officialCodingRate(layer.w, shape.tokens, config.heads, config.dim_head);
        const goldenRate = golden(`layers.${l}.official_rate`)[0];
        expect(Math.abs(rate - goldenRate) / Math.abs(goldenRate), `${at} Rᶜ`).toBeLessThanOrEqual(RATE);
        expect(layer.sparseCode).toHaveLength(shape.tokens * config.ratio * config.dim);
        expect(Math.abs(sparsity(layer.sparseCode).zeroFraction - golden(`layers.${l}.sparsity`)[0]), `${at} sparsity`).toBeLessThanOrEqual(SPARSITY);
        const N = shape.tokens;
        for (let k = 0; k < config.heads; k++) {
          const row = (a: Float32Array) => a.subarray(k * N * N, k * N * N + N);
          expect(relativeError(row(layer.attention), row(golden(`layers.${l}.attention`))), `${at} head ${k} class-token attention`).toBeLessThanOrEqual(ATTENTION);
        }
        for (const [ours, theirs] of [[layer.zHalf, 'z_half'], [layer.sparseCode, 'z2'], [layer.zNext, 'z_next'], [layer.w, 'w']] as const) {
          expect(relativeError(ours, golden(`layers.${l}.${theirs}`)), `${at} ${theirs}`).toBeLessThanOrEqual(1e-4);
        }
      });
    });
  }

  it('the runner hands the sparse code to the measures', async () => {
    const model = await alphaFixtureModel(fixture);
    const out = await createAlphaCpuRunner(model).run(alphaGolden(fixture, 'input.1'));
    const code = sparseCodeOf(out.layers[0]);
    expect(code).not.toBe(out.layers[0].zNext);
    expect(code).toHaveLength(model.shape.tokens * model.config.ratio * model.config.dim);
    // Z^{ℓ+1} of CRATE-α has a residual: it is not sparse, so measuring it would be wrong.
    expect(sparsity(out.layers[0].zNext).zeroFraction).toBeLessThan(0.01);
    expect(sparsity(code).zeroFraction).toBeGreaterThan(0.1);
  });
});

describe('sparseCode', () => {
  it('is two ISTA steps from zero, written out by hand for one token', () => {
    // d = 2, r·d = 3; D = [[1, 0, 2], [0, 1, -1]], a = [1, 2], η = 0.5, λ = 0.2.
    const D = new Float32Array([1, 0, 2, 0, 1, -1]);
    const a = new Float32Array([1, 2]);
    // z1 = ReLU(0.5·[1, 2, 0] − 0.1) = [0.4, 0.9, 0]; z1·Dᵀ = [0.4, 0.9]; (z1·Dᵀ − a)·D = [−0.6, −1.1, −0.1];
    // z2 = ReLU([0.4 + 0.3, 0.9 + 0.55, 0 + 0.05] − 0.1) = [0.6, 1.35, 0].
    const z2 = sparseCode(a, 1, 2, D, 3, 0.5, 0.2);
    expect(Array.from(z2).map((v) => Number(v.toFixed(6)))).toEqual([0.6, 1.35, 0]);
  });
});

describe('engine comparison with a sparse code', () => {
  const layer = (code?: number) => ({
    w: new Float32Array([1, 2]),
    attention: new Float32Array([1]),
    zHalf: new Float32Array([1]),
    zNext: new Float32Array([3]),
    ...(code === undefined ? {} : { sparseCode: new Float32Array([code, 1]) }),
  });
  it('CRATE layers are measured on Z^{ℓ+1}, CRATE-α layers on z2', () => {
    expect(Array.from(sparseCodeOf(layer()))).toEqual([3]);
    expect(Array.from(sparseCodeOf(layer(0)))).toEqual([0, 1]);
  });
  it('maxRelativeDeviation sees a difference in the sparse code alone', () => {
    const a = { logits: new Float32Array([1]), layers: [layer(0)] };
    const b = { logits: new Float32Array([1]), layers: [layer(0.5)] };
    expect(maxRelativeDeviation(a, a).layers).toBe(0);
    expect(maxRelativeDeviation(a, b).layers).toBeCloseTo(0.5, 6);
  });
});
