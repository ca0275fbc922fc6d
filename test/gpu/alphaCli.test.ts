import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.ts';
import { writeNpy } from '../../src/cli/npy.ts';
import { alphaFixtureNames, alphaGolden, ALPHA_FIXTURE_DIR, loadAlphaFixture } from '../helpers/alphaFixtures.ts';
import { relativeError } from '../helpers/fixtures.ts';

const ROOT = join(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'alpha-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function crateExplorer(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

describe.each(alphaFixtureNames())('crate-explorer run on the CRATE-α checkpoint %s', (name) => {
  it('reports the fixture logits, official Rᶜ, z2 sparsity and class-token attention', async () => {
    const fixture = loadAlphaFixture(name);
    const { config } = fixture;
    const N = 1 + (config.image_size as number) ** 2 / config.patch_size ** 2;
    const input = join(work, `${name}.npy`);
    writeFileSync(input, writeNpy([3, config.image_size as number, config.image_size as number], alphaGolden(fixture, 'input.1')));
    const out = join(work, `${name}.json`);
    const { code, stdout, stderr } = await crateExplorer('run', join(ALPHA_FIXTURE_DIR, `${name}.pth`), input, '--heads', String(config.heads), '--json', out);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    // Shapes the WGSL kernels take run there; the others on the CPU reference, said in a note.
    const onGpu = config.dim % 4 === 0 && config.dim_head % 4 === 0;
    expect(stdout).toMatch(onGpu ? /adapter: (?!none)/ : /adapter: none: the CPU reference/);
    if (!onGpu) expect(stderr).toMatch(/note: the WebGPU engine needs dim(_head)? to be a multiple of 4 .*running on the CPU reference instead/);
    expect(stdout).toContain(`CRATE-α, ratio ${config.ratio}`);
    expect(stdout).toContain('zero fraction of the sparse code z2');
    expect(stdout).not.toContain('preprocessing:'); // a .npy is the model input as it is
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.model).toMatchObject({ arch: 'crate-alpha', ratio: config.ratio, heads: config.heads, tokens: N });
    const image = json.images[0];
    const golden = (key: string) => alphaGolden(fixture, `input.1.${key}`);
    expect(relativeError(image.logits, golden('logits'))).toBeLessThanOrEqual(1e-4);
    for (let l = 0; l < config.depth; l++) {
      const rate = golden(`layers.${l}.official_rate`)[0];
      expect(Math.abs(image.rate_official[l] - rate) / rate, `layer ${l} Rᶜ`).toBeLessThanOrEqual(1e-3);
      expect(Math.abs(image.sparsity_zero_fraction[l] - golden(`layers.${l}.sparsity`)[0]), `layer ${l} sparsity`).toBeLessThanOrEqual(2e-3);
      expect(image.lasso_before[l]).toBeNull(); // not defined for CRATE-α's ISTA block
      for (let k = 0; k < config.heads; k++) {
        const row = golden(`layers.${l}.attention`).subarray(k * N * N + 1, k * N * N + N);
        expect(relativeError(image.cls_attention[l][k], row), `layer ${l} head ${k}`).toBeLessThanOrEqual(1e-4);
      }
    }
  });
});

describe('crate-explorer run on a photo with an ImageNet-layout CRATE-α model', () => {
  it('matches torchvision’s PIL-path preprocessing followed by the reference', async () => {
    const photo = '/usr/lib/python3/dist-packages/skimage/data/chelsea.png';
    execFileSync('/usr/bin/python3', [join(ROOT, 'tools/alpha_photo_reference.py'), photo, work]);
    const expected = JSON.parse(readFileSync(join(work, 'expected.json'), 'utf8'));
    const out = join(work, 'photo.json');
    const { code, stdout, stderr } = await crateExplorer('run', join(work, 'model.pth'), photo, '--heads', String(expected.heads), '--json', out);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/preprocessing: ImageNet evaluation transform: shorter side resized to 256/);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.model.preprocessing).toMatch(/centre 224×224 crop/);
    const error = relativeError(json.images[0].logits, expected.logits);
    console.log(`chelsea.png logits: max |CLI − PIL path + reference| / max |reference| = ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(5e-3);
  });

  it('without --heads proposes a count and says so', async () => {
    const name = alphaFixtureNames()[0];
    const input = join(work, 'noheads.npy');
    const fixture = loadAlphaFixture(name);
    const size = fixture.config.image_size as number;
    writeFileSync(input, writeNpy([3, size, size], alphaGolden(fixture, 'input.0')));
    const { code, stderr } = await crateExplorer('run', join(ALPHA_FIXTURE_DIR, `${name}.pth`), input);
    expect(code).toBe(0);
    expect(stderr).toMatch(/note: heads = \d+ .*not stored in the weights/);
  });
});

describe('crate-explorer run --size', () => {
  it('runs a CRATE-α model at a finer grid, saying the tokens and the cost first', async () => {
    const fixture = loadAlphaFixture('alpha_r4');
    const input = join(work, 'fine.npy');
    writeFileSync(input, writeNpy([3, 64, 48], new Float32Array(3 * 64 * 48).fill(0.5)));
    const out = join(work, 'fine.json');
    const { code, stderr } = await crateExplorer('run', join(ALPHA_FIXTURE_DIR, 'alpha_r4.pth'), input, '--heads', String(fixture.config.heads), '--size', '64x48', '--json', out);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/note: running at 64×48: 49 tokens \(trained: 17\), [\d.]+ G multiply-adds per image/);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.model).toMatchObject({ image_size: [64, 48], tokens: 49 });
    expect(json.images[0].cls_attention[0][0]).toHaveLength(48);
  });

  it('refuses a size that is not a multiple of the patch size, as a usage error', async () => {
    const { code, stderr } = await crateExplorer('run', join(ALPHA_FIXTURE_DIR, 'alpha_r4.pth'), 'x.npy', '--size', '60');
    expect(code).toBe(2);
    expect(stderr).toMatch(/--size: 60×60 is not a multiple of the patch size 8/);
    expect((await crateExplorer('run', 'm.pth', 'x.npy', '--size', '4x')).stderr).toMatch(/--size takes a side or HEIGHTxWIDTH/);
  });
});
