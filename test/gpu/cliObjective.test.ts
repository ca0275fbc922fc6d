/**
 * `crate-explorer run --json` reports each layer as an optimisation step
 * (docs/MEASUREMENTS.md §2.1) beside `logits` and `rate_official`: the GPU
 * engine's numbers against the same measures on the PyTorch fixture's
 * tensors (src/analysis, itself checked against NumPy to 1e-6), ≤ 1e-3
 * relative; and `stats` reports their mean ± std.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headCoherence, meanOffDiagonal } from '../../src/analysis/coherence.ts';
import { meanStd, type StdKind } from '../../src/analysis/dataset.ts';
import { layerObjective, type LayerObjective } from '../../src/analysis/objective.ts';
import { writeNpy } from '../../src/cli/npy.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { modelFromTensors } from '../../src/engine/model.ts';
import { writeSafetensors } from '../../src/engine/safetensors.ts';
import { objectiveOfOutputs } from '../../src/analysis/analyseRun.ts';
import { goldenTensor, loadFixture } from '../helpers/fixtures.ts';
import { randomImage, randomModelTensors } from '../helpers/randomModel.ts';

const ROOT = join(import.meta.dirname, '../..');
const TOLERANCE = 1e-3;

function crateExplorer(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/crate-explorer.mjs', ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-30);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crate-cli-objective-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// grey17: dh 12 (a multiple of 4), N 17; wide31: dh 24, N 31, a non-square grid.
describe.each(['grey17', 'wide31'])('crate-explorer run --json on %s', (name) => {
  const fixture = loadFixture(name);
  const { config, shape } = fixture.model;
  const dims = { tokens: shape.tokens, dim: config.dim, heads: config.heads, dimHead: config.dim_head };

  it('rate_mssa_out, lasso_before, lasso_after and head_coherence per layer, in the object with logits and rate_official', async () => {
    const inputs = [0, 1].map((i) => {
      const path = join(dir, `${name}-${i}.npy`);
      writeFileSync(path, writeNpy([config.channels, shape.imageHeight, shape.imageWidth], goldenTensor(fixture, `input.${i}`)));
      return path;
    });
    const out = join(dir, `${name}.json`);
    const { code, stdout, stderr } = await crateExplorer('run', `fixtures/${name}.model.safetensors`, ...inputs, '--json', out);
    expect(code, stderr).toBe(0);
    expect(stdout.match(/^\s+layer \d+\s+rate out\s+\d+\.\d{4}\s+lasso \d+\.\d{4} -> \d+\.\d{4}$/gm)).toHaveLength(2 * config.depth);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.model.head_coherence_random_reference).toBeCloseTo(config.dim_head / config.dim, 12);
    json.images.forEach((image: Record<string, unknown>, i: number) => {
      expect(Object.keys(image)).toEqual(expect.arrayContaining(['logits', 'rate_official', 'rate_mssa_out', 'lasso_before', 'lasso_after', 'head_coherence']));
      const rateMssaOut = image.rate_mssa_out as number[];
      const lassoBefore = image.lasso_before as number[];
      const lassoAfter = image.lasso_after as number[];
      const coherence = image.head_coherence as number[][][];
      for (const series of [rateMssaOut, lassoBefore, lassoAfter, coherence]) expect(series).toHaveLength(config.depth);
      for (let l = 0; l < config.depth; l++) {
        const layer = `input.${i}.layers.${l}`;
        const weights = fixture.model.weights.layers[l];
        const tensors = { zHalf: goldenTensor(fixture, `${layer}.z_half`), zNext: goldenTensor(fixture, `${layer}.z_next`) };
        const expected = layerObjective(tensors, weights, dims, config.lambda);
        expect(relative(rateMssaOut[l], expected.rateMssaOut), `layer ${l} rate_mssa_out`).toBeLessThanOrEqual(TOLERANCE);
        expect(relative(lassoBefore[l], expected.lassoBefore), `layer ${l} lasso_before`).toBeLessThanOrEqual(TOLERANCE);
        expect(relative(lassoAfter[l], expected.lassoAfter), `layer ${l} lasso_after`).toBeLessThanOrEqual(TOLERANCE);
        const matrix = headCoherence(weights.qkv, config.heads, config.dim_head, config.dim).matrix;
        expect(coherence[l]).toHaveLength(config.heads);
        coherence[l].forEach((row, k) => row.forEach((value, j) => expect(value).toBeCloseTo(matrix[k * config.heads + j], 12)));
      }
    });
  });
});

describe('crate-explorer stats', () => {
  const fixture = loadFixture('grey17');
  const { config, shape } = fixture.model;
  const dims = { tokens: shape.tokens, dim: config.dim, heads: config.heads, dimHead: config.dim_head };

  it('reports mean ± std of rate_mssa_out (sample std), lasso_before and lasso_after (population std) and the off-diagonal head coherence', async () => {
    const count = fixture.inputs;
    expect(count).toBeGreaterThanOrEqual(2);
    const inputs = Array.from({ length: count }, (_, i) => {
      const path = join(dir, `stats-${i}.npy`);
      writeFileSync(path, writeNpy([config.channels, shape.imageHeight, shape.imageWidth], goldenTensor(fixture, `input.${i}`)));
      return path;
    });
    const out = join(dir, 'stats.json');
    const { code, stdout, stderr } = await crateExplorer('stats', 'fixtures/grey17.model.safetensors', ...inputs, '--json', out);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('LASSO before');
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.sample_std).toContain('rate_mssa_out');
    expect(json.sample_std).not.toContain('lasso_before');
    const perImage = Array.from({ length: count }, (_, i) =>
      Array.from({ length: config.depth }, (_, l) => {
        const layer = `input.${i}.layers.${l}`;
        return layerObjective({ zHalf: goldenTensor(fixture, `${layer}.z_half`), zNext: goldenTensor(fixture, `${layer}.z_next`) }, fixture.model.weights.layers[l], dims, config.lambda);
      }),
    );
    const check = (series: string, pick: (v: LayerObjective) => number, kind: StdKind) => {
      const expected = meanStd(perImage.map((layers) => layers.map(pick)), kind);
      for (let l = 0; l < config.depth; l++) {
        expect(relative(json.per_layer[series].mean[l], expected.mean[l]), `${series} mean, layer ${l}`).toBeLessThanOrEqual(TOLERANCE);
        // The spread of a few images is a small difference of large numbers: compare it on the scale of the mean.
        expect(Math.abs(json.per_layer[series].std[l] - expected.std[l]) / Math.abs(expected.mean[l]), `${series} std, layer ${l}`).toBeLessThanOrEqual(TOLERANCE);
      }
    };
    check('rate_mssa_out', (v) => v.rateMssaOut, 'sample');
    check('lasso_before', (v) => v.lassoBefore, 'population');
    check('lasso_after', (v) => v.lassoAfter, 'population');
    // The std check above tells n from n − 1 only if they differ by more than its tolerance on these images.
    const rates = perImage.map((layers) => layers.map((v) => v.rateMssaOut));
    const sample = meanStd(rates, 'sample');
    expect(Math.abs(sample.std[0] - meanStd(rates, 'population').std[0]) / sample.mean[0]).toBeGreaterThan(TOLERANCE);
    for (let l = 0; l < config.depth; l++) {
      const matrix = headCoherence(fixture.model.weights.layers[l].qkv, config.heads, config.dim_head, config.dim).matrix;
      expect(json.per_layer.head_coherence_off_diagonal.mean[l]).toBeCloseTo(meanOffDiagonal(matrix, config.heads), 12);
      expect(json.per_layer.head_coherence_off_diagonal.std[l]).toBeLessThanOrEqual(1e-15);
    }
  });
});

// heads·dh = 32 > d = 20 and N = 37 on the GPU engine; dh = 6 (not a multiple of 4) and d = 18, which the
// WGSL kernels do not take, on the CPU reference the command falls back to, saying so.
describe.each([
  { label: 'heads·dh > d and odd N', dims: { dim: 20, heads: 4, dim_head: 8 }, onCpu: false },
  { label: 'dh = 6, on the CPU reference', dims: { dim: 18, heads: 3, dim_head: 6 }, onCpu: true },
])('crate-explorer run --json with $label on a random model', ({ label, dims, onCpu }) => {
  const { config, tensors } = randomModelTensors({ image_size: 24, patch_size: 4, channels: 1, depth: 2, num_classes: 3, ...dims }, 15);
  const model = modelFromTensors(config, tensors);
  const { heads, dim_head: dh, dim } = dims;

  it('matches the measures on the CPU reference forward pass to 1e-3 relative', async () => {
    const stem = join(dir, label.replace(/\W+/g, '-'));
    writeFileSync(`${stem}.safetensors`, writeSafetensors(tensors, { config: JSON.stringify(config) }));
    const image = randomImage(model, 16);
    writeFileSync(`${stem}.npy`, writeNpy([1, 24, 24], image));
    const { code, stdout, stderr } = await crateExplorer('run', `${stem}.safetensors`, `${stem}.npy`, '--json', `${stem}.json`);
    expect(code, stderr).toBe(0);
    expect(stdout.includes('adapter: none: the CPU reference'), stdout).toBe(onCpu);
    if (onCpu) expect(stderr).toContain('running on the CPU reference instead');
    const json = JSON.parse(readFileSync(`${stem}.json`, 'utf8'));
    expect(json.model).toMatchObject({ dim_head: dh, tokens: 37 });
    const trace = cpuForward(model, image);
    const expected = objectiveOfOutputs(model, { logits: trace.logits, layers: trace.layers });
    const [result] = json.images;
    expected.forEach((v, l) => {
      expect(relative(result.rate_mssa_out[l], v.rateMssaOut), `layer ${l} rate_mssa_out`).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(result.lasso_before[l], v.lassoBefore), `layer ${l} lasso_before`).toBeLessThanOrEqual(TOLERANCE);
      expect(relative(result.lasso_after[l], v.lassoAfter), `layer ${l} lasso_after`).toBeLessThanOrEqual(TOLERANCE);
      const matrix = headCoherence(model.weights.layers[l].qkv, heads, dh, dim).matrix;
      (result.head_coherence[l] as number[][]).forEach((row, k) => row.forEach((value, j) => expect(value).toBeCloseTo(matrix[k * heads + j], 12)));
    });
  });
});
