import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { officialCodingRate } from '../../src/analysis/codingRate.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { isAlphaModel, type CrateAlphaModel } from '../../src/engine/alphaModel.ts';
import { anyModelFromOnnx } from '../../src/engine/onnx/onnxModel.ts';
import { createOrtRunner } from '../../src/engine/ort/ortRunner.ts';
import { sparseCodeOf, type ModelRunner } from '../../src/engine/runner.ts';
import { alphaFixtureModel, alphaFixtureNames, alphaGolden, ALPHA_FIXTURE_DIR, loadAlphaFixture } from '../helpers/alphaFixtures.ts';
import { relativeError } from '../helpers/fixtures.ts';

// The CRATE-α ONNX export (tools/alpha_onnx_export.py) read by our ONNX reader and run by
// onnxruntime-web's WASM EP, against the PyTorch golden values with issue 16's tolerances.
describe.each(alphaFixtureNames())('CRATE-α ONNX export %s', (name) => {
  const fixture = loadAlphaFixture(name);
  const bytes = readFileSync(join(ALPHA_FIXTURE_DIR, `${name}.onnx`));
  let runner: ModelRunner | undefined;
  afterAll(async () => runner?.dispose());

  it('holds the same model as the .pth, config and weights', async () => {
    const { model } = anyModelFromOnnx(bytes);
    expect(isAlphaModel(model)).toBe(true);
    const fromPth = await alphaFixtureModel(fixture);
    const { labels: _a, ...config } = model.config;
    const { labels: _b, ...expected } = fromPth.config;
    expect(config).toEqual(expected);
    const weights = (model as CrateAlphaModel).weights;
    expect(relativeError(weights.patchWeight, fromPth.weights.patchWeight)).toBe(0);
    expect(relativeError(weights.layers[0].decoder, fromPth.weights.layers[0].decoder)).toBe(0);
  });

  for (const input of [0, 1]) {
    it(`runs in onnxruntime-web (WASM) and matches input ${input}`, async () => {
      const { config } = fixture;
      runner ??= await createOrtRunner(ort, bytes, anyModelFromOnnx(bytes).model.config, 'wasm');
      const out = await runner.run(alphaGolden(fixture, `input.${input}`));
      const golden = (key: string) => alphaGolden(fixture, `input.${input}.${key}`);
      const N = 1 + (config.image_size as number) ** 2 / config.patch_size ** 2;
      expect(relativeError(out.logits, golden('logits'))).toBeLessThanOrEqual(1e-4);
      out.layers.forEach((layer, l) => {
        const rate = golden(`layers.${l}.official_rate`)[0];
        expect(Math.abs(officialCodingRate(layer.w, N, config.heads, config.dim_head) - rate) / rate).toBeLessThanOrEqual(1e-3);
        const code = sparseCodeOf(layer);
        expect(code).not.toBe(layer.zNext);
        expect(Math.abs(sparsity(code).zeroFraction - golden(`layers.${l}.sparsity`)[0]), `layer ${l} sparsity`).toBeLessThanOrEqual(2e-3);
        for (let k = 0; k < config.heads; k++) {
          const row = (a: Float32Array) => a.subarray(k * N * N, k * N * N + N);
          expect(relativeError(row(layer.attention), row(golden(`layers.${l}.attention`)))).toBeLessThanOrEqual(1e-4);
        }
        expect(relativeError(layer.zNext, golden(`layers.${l}.z_next`))).toBeLessThanOrEqual(1e-4);
      });
    });
  }
});
