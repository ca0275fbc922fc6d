import { afterAll, describe, expect, it } from 'vitest';
import { officialCodingRate } from '../../src/analysis/codingRate.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { alphaCpuForward } from '../../src/engine/cpu/alphaReference.ts';
import { AlphaGpuEngine, ALPHA_DISPATCHES_PER_LAYER, checkAlphaSupported } from '../../src/engine/gpu/alphaEngine.ts';
import { alphaFixtureModel, alphaFixtureNames, alphaGolden, loadAlphaFixture } from '../helpers/alphaFixtures.ts';
import { sparseCodeOf } from '../../src/engine/runner.ts';
import { relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';

const engines: AlphaGpuEngine[] = [];
afterAll(() => engines.forEach((engine) => engine.destroy()));

describe('CRATE-α on the WGSL kernels against the PyTorch fixtures', () => {
  it('runs alpha_r4 within the issue tolerances, every layer tensor included', async () => {
    const fixture = loadAlphaFixture('alpha_r4');
    const model = await alphaFixtureModel(fixture);
    const engine = AlphaGpuEngine.create((await testGpu()).device, model);
    engines.push(engine);
    const { config, shape } = model;
    const N = shape.tokens;
    for (const input of [0, 1, 0]) {
      const golden = (key: string) => alphaGolden(fixture, `input.${input}.${key}`);
      const out = await engine.run(alphaGolden(fixture, `input.${input}`));
      expect(relativeError(out.logits, golden('logits')), 'logits').toBeLessThanOrEqual(1e-4);
      out.layers.forEach((layer, l) => {
        const rate = golden(`layers.${l}.official_rate`)[0];
        expect(Math.abs(officialCodingRate(layer.w, N, config.heads, config.dim_head) - rate) / rate, `layer ${l} Rᶜ`).toBeLessThanOrEqual(1e-3);
        const code = sparseCodeOf(layer);
        expect(Math.abs(sparsity(code).zeroFraction - golden(`layers.${l}.sparsity`)[0]), `layer ${l} sparsity`).toBeLessThanOrEqual(2e-3);
        for (let k = 0; k < config.heads; k++) {
          const row = (a: Float32Array) => a.subarray(k * N * N, k * N * N + N);
          expect(relativeError(row(layer.attention), row(golden(`layers.${l}.attention`))), `layer ${l} head ${k}`).toBeLessThanOrEqual(1e-4);
        }
        for (const [ours, theirs] of [[layer.zHalf, 'z_half'], [code, 'z2'], [layer.zNext, 'z_next']] as const) {
          expect(relativeError(ours, golden(`layers.${l}.${theirs}`)), `layer ${l} ${theirs}`).toBeLessThanOrEqual(1e-4);
        }
      });
      // The logits-only plan shares buffers between layers; it must give the same logits.
      const fast = await engine.run(alphaGolden(fixture, `input.${input}`), { layers: false });
      expect(fast.layers).toHaveLength(0);
      expect(relativeError(fast.logits, out.logits)).toBeLessThanOrEqual(1e-6);
    }
    expect(ALPHA_DISPATCHES_PER_LAYER).toBeLessThanOrEqual(7);
    expect(engine.dispatchesPerLayer(), 'dispatches per layer in the plan').toBe(ALPHA_DISPATCHES_PER_LAYER);
  });

  it.each(alphaFixtureNames().filter((name) => name !== 'alpha_r4'))('refuses %s (dh or d not a multiple of 4) with a clear message', async (name) => {
    const model = await alphaFixtureModel(loadAlphaFixture(name));
    expect(() => checkAlphaSupported(model)).toThrow(/needs (dim|dim_head) to be a multiple of 4/);
  });

  it('runs a B/16-width layer (d 768, 12 heads of 64, ratio 4, 197 tokens) as the CPU reference does', async () => {
    // One layer of B/16's shapes, random weights at the port's scales; the full depth only multiplies the time.
    const { parseAnyConfig } = await import('../../src/engine/config.ts');
    const { alphaModelFromTensors, alphaTensorShapes } = await import('../../src/engine/alphaModel.ts');
    const config = parseAnyConfig({ arch: 'crate-alpha', ratio: 4, image_size: 224, patch_size: 16, channels: 3, dim: 768, depth: 1, heads: 12, dim_head: 64, num_classes: 1000 });
    if (config.arch !== 'crate-alpha') throw new Error('not CRATE-α');
    let seed = 16;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    const tensors = new Map(
      alphaTensorShapes(config).map(([name, shape]) => {
        const size = shape.reduce((a, b) => a * b, 1);
        const fanIn = shape.length > 1 ? size / shape[0] : 1;
        const scale = /norm|mlp_head\.0/.test(name) ? 0.1 : /\.D1?$/.test(name) ? Math.sqrt(6 / shape[1]) : /pos_embedding|cls_token/.test(name) ? 0.5 : 1 / Math.sqrt(fanIn);
        const data = Float32Array.from({ length: size }, () => (/norm\.weight|mlp_head\.0\.weight/.test(name) ? 1 : 0) + scale * random());
        return [name, { shape, data }] as const;
      }),
    );
    const model = alphaModelFromTensors(config, tensors);
    const image = Float32Array.from({ length: 3 * 224 * 224 }, random);
    const engine = AlphaGpuEngine.create((await testGpu()).device, model);
    engines.push(engine);
    const started = performance.now();
    const out = await engine.run(image);
    const gpuMs = performance.now() - started;
    const reference = alphaCpuForward(model, image);
    console.log(`B/16-width layer: WGSL (this adapter) ${gpuMs.toFixed(0)} ms for one layer and the head`);
    expect(relativeError(out.logits, reference.logits)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(out.layers[0].zNext, reference.layers[0].zNext)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(sparsity(sparseCodeOf(out.layers[0])).zeroFraction - sparsity(reference.layers[0].sparseCode).zeroFraction)).toBeLessThanOrEqual(2e-3);
  }, 600_000);
});
