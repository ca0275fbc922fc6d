/**
 * GPU tier, issue 16: a B/16-shaped CRATE-α checkpoint (depth 12, dim 768, 12
 * heads of 64, patch 16, 224, ratio 4, 1000 classes; random float32 weights,
 * about 350 MB) written by torch (tools/make_random_alpha_checkpoint.py) into a
 * temp folder, read as the app reads a File (openModelBlob over fs.openAsBlob,
 * tensor by tensor), and run on the WGSL engine with every layer read back.
 * Checked against the CPU reference layer by layer, each CPU layer fed the
 * WGSL engine's own input to it (the whole CPU forward at this
 * size takes minutes here): the embedding, layers 0, 5 and 11, and the head.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openAsBlob, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sparsity } from '../../src/analysis/sparsity.ts';
import type { CrateAlphaModel } from '../../src/engine/alphaModel.ts';
import { alphaClassify, alphaEmbed, alphaLayer } from '../../src/engine/cpu/alphaReference.ts';
import { AlphaGpuEngine } from '../../src/engine/gpu/alphaEngine.ts';
import { openModelBlob } from '../../src/models/modelFile.ts';
import { relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';

const ROOT = join(import.meta.dirname, '../..');
let dir: string;
let model: CrateAlphaModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crate-alpha-b16-'));
  const path = join(dir, 'b16.pth');
  execFileSync('/usr/bin/python3', [join(ROOT, 'tools/make_random_alpha_checkpoint.py'), '--out', path, '--dim', '768', '--depth', '12', '--heads', '12', '--patch', '16', '--image', '224', '--ratio', '4'], { stdio: 'pipe', timeout: 240_000 });
  const opened = await openModelBlob('b16.pth', await openAsBlob(path), { heads: 12 });
  if (opened.model.config.arch !== 'crate-alpha') throw new Error(`read as ${opened.model.config.arch}`);
  model = opened.model as CrateAlphaModel;
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a B/16-shaped CRATE-α checkpoint on the WGSL engine', () => {
  it('reads with the B/16 config and matches the CPU reference layer by layer', async () => {
    expect(model.config).toMatchObject({ dim: 768, depth: 12, heads: 12, dim_head: 64, patch_size: 16, image_size: 224, ratio: 4, num_classes: 1000 });
    let seed = 7;
    const image = Float32Array.from({ length: 3 * 224 * 224 }, () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1);
    const engine = AlphaGpuEngine.create((await testGpu()).device, model);
    try {
      expect(engine.dispatchesPerLayer()).toBeLessThanOrEqual(7);
      const started = performance.now();
      const trace = await engine.trace(image);
      console.log(`B/16 checkpoint: WGSL forward with every layer read back ${(performance.now() - started).toFixed(0)} ms (this adapter, first run)`);
      expect(relativeError(trace.layers[0].z, alphaEmbed(model, image)), 'Z⁰').toBeLessThanOrEqual(1e-5);
      for (const l of [0, 5, 11]) {
        const ours = trace.layers[l];
        const reference = alphaLayer(model, l, ours.z);
        expect(relativeError(ours.zHalf, reference.zHalf), `layer ${l} Z½`).toBeLessThanOrEqual(1e-4);
        expect(relativeError(ours.zNext, reference.zNext), `layer ${l} Z⁺`).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(sparsity(ours.sparseCode).zeroFraction - sparsity(reference.sparseCode).zeroFraction), `layer ${l} sparsity`).toBeLessThanOrEqual(2e-3);
      }
      expect(relativeError(trace.logits, alphaClassify(model, trace.layers[11].zNext)), 'logits').toBeLessThanOrEqual(1e-4);
    } finally {
      engine.destroy();
    }
  }, 600_000);
});
