import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/cli/npy.ts';
import { alphaCpuForward } from '../../src/engine/cpu/alphaReference.ts';
import { atImageSize, interpolatePosEmbedding, runCost } from '../../src/engine/posEmbedding.ts';
import { alphaFixtureModel, ALPHA_FIXTURE_DIR, loadAlphaFixture } from '../helpers/alphaFixtures.ts';
import { relativeError } from '../helpers/fixtures.ts';

const ROOT = join(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'alpha-finer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** tools/interpolate_pos_ref.py: torch's F.interpolate as DINO calls it, then the reference forward. */
function torchReference(name: string, heads: number, image: Float32Array, height: number, width: number) {
  const input = join(work, `${name}-${height}x${width}.npy`);
  writeFileSync(input, writeNpy([3, height, width], image));
  const out = join(work, `${name}-${height}x${width}.json`);
  execFileSync('/usr/bin/python3', [join(ROOT, 'tools/interpolate_pos_ref.py'), join(ALPHA_FIXTURE_DIR, `${name}.pth`), String(heads), input, out]);
  return JSON.parse(readFileSync(out, 'utf8')) as { pos_embedding: number[]; logits: number[] };
}

function noise(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out[i] = seed / 2147483648 * 4 - 2;
  }
  return out;
}

describe('finer maps: the positional embedding interpolated as DINO does', () => {
  // 4×4 → 9×9 (upsampling, the paper's use), 4×4 → 7×5 (non-square), 5×5 → 3×3 (downsampling).
  for (const [name, height, width] of [['alpha_r4', 72, 72], ['alpha_r4', 56, 40], ['alpha_r3_odd40', 24, 24]] as const) {
    it(`${name} at ${height}×${width}: embedding and logits match torch`, async () => {
      const fixture = loadAlphaFixture(name);
      const model = await alphaFixtureModel(fixture);
      const image = noise(3 * height * width, height * 1000 + width);
      const reference = torchReference(name, fixture.config.heads, image, height, width);
      const resized = atImageSize(model, height, width);
      expect(resized.shape.tokens).toBe(1 + (height / 8) * (width / 8));
      expect(relativeError(resized.weights.posEmbedding, reference.pos_embedding), 'pos_embedding').toBeLessThanOrEqual(1e-5);
      expect(relativeError(alphaCpuForward(resized, image).logits, reference.logits), 'logits').toBeLessThanOrEqual(1e-4);
      // The trained model is untouched.
      expect(model.shape.tokens).toBe(fixture.config.image_size === 32 ? 17 : 26);
    });
  }

  it('keeps the embedding at the trained size, and the class token always', () => {
    const pos = noise(17 * 3, 7);
    expect(interpolatePosEmbedding(pos, 4, 4, 3, 4, 4)).toEqual(pos);
    expect(interpolatePosEmbedding(pos, 4, 4, 3, 8, 8).subarray(0, 3)).toEqual(pos.subarray(0, 3));
  });

  it('refuses a size that is not a multiple of the patch size, and reports the cost', async () => {
    const model = await alphaFixtureModel(loadAlphaFixture('alpha_r4'));
    expect(() => atImageSize(model, 60, 64)).toThrow(/not a multiple of the patch size 8/);
    const trained = runCost(model, 32, 32);
    const fine = runCost(model, 64, 64);
    expect(trained.tokens).toBe(17);
    expect(fine.tokens).toBe(65);
    expect(fine.multiplyAdds / trained.multiplyAdds).toBeGreaterThan(65 / 17);
  });
});
