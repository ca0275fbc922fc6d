/**
 * `crate-explorer stats` on a small image set (grey17 fixture model, PNGs in
 * a temp folder): the GPU command's per-image values and per-layer mean ± std
 * against the CPU reference forward pass and the analysis functions.
 */
import { execFile, execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codingRate, officialCodingRate, paperCodingRate } from '../../src/analysis/codingRate.ts';
import { meanStd } from '../../src/analysis/dataset.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { runCli } from '../../src/cli/cli.ts';
import { loadImageFile } from '../../src/cli/images.ts';
import { writeNpy } from '../../src/cli/npy.ts';
import { expandGlob } from '../../src/cli/glob.ts';
import { expandImageArguments, parseStatsCommandLine, progressLine, STATS_SAMPLE_STD } from '../../src/cli/stats.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { crateExplorerLimited, ownLines } from '../helpers/cliProcess.ts';
import { loadFixture } from '../helpers/fixtures.ts';
import { OVERFLOWING_LAYER, writeOverflowingModel } from '../helpers/hostileModels.ts';

const ROOT = join(import.meta.dirname, '../..');
const MODEL = 'fixtures/grey17.model.safetensors';
const TOLERANCE = 1e-4;

function crateExplorer(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/crate-explorer.mjs', ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A grey picture: a diamond whose place and size depend on `k`, over a gradient. */
function writePng(path: string, k: number, width = 28, height = 28): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = Math.abs(x - 8 - 4 * k) + Math.abs(y - 10 - 2 * k) < 5 + 2 * k;
      const v = inside ? 255 : (x * 7 + y * (3 + k)) % 200;
      png.data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  writeFileSync(path, PNG.sync.write(png));
}

const SERIES = ['rate_official', 'rate_compressed', 'rate', 'rate_reduction', 'zero_fraction', 'l1'] as const;
type Series = (typeof SERIES)[number];

interface StatsJson {
  model: { depth: number; tokens: number };
  eps_squared: number;
  images: number;
  per_layer: Record<Series, { mean: number[]; std: number[] }>;
  per_image: (Record<Series, number[]> & { path: string; top1: string })[];
}

describe('crate-explorer stats', () => {
  const { model } = loadFixture('grey17');
  const { config, shape } = model;
  let dir: string;
  let images: string[];

  /** What the command must print for `path`: the CPU reference trace through the analysis functions. */
  const expectedFor = (path: string, epsSquared: number): Record<Series, number[]> => {
    const trace = cpuForward(model, loadImageFile(path, model).tensor);
    const out: Record<Series, number[]> = { rate_official: [], rate_compressed: [], rate: [], rate_reduction: [], zero_fraction: [], l1: [] };
    trace.layers.forEach((layer, l) => {
      const compressed = paperCodingRate(layer.zHalf, shape.tokens, config.dim, model.weights.layers[l].qkv, config.heads, config.dim_head, epsSquared);
      const rate = codingRate(layer.zHalf, shape.tokens, config.dim, epsSquared);
      out.rate_official.push(officialCodingRate(layer.w, shape.tokens, config.heads, config.dim_head));
      out.rate_compressed.push(compressed);
      out.rate.push(rate);
      out.rate_reduction.push(rate - compressed);
      out.zero_fraction.push(sparsity(layer.zNext).zeroFraction);
      out.l1.push(sparsity(layer.zNext).l1);
    });
    return out;
  };

  const close = (name: Series, actual: number, expected: number, scale: number) =>
    // Zero fractions move by whole entries where a value sits at the ReLU edge: 1e-3 of them may.
    name === 'zero_fraction' ? Math.abs(actual - expected) <= 1e-3 : Math.abs(actual - expected) <= TOLERANCE * Math.max(Math.abs(scale), 1);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crate-stats-'));
    mkdirSync(join(dir, 'set'));
    images = [0, 1, 2].map((k) => join(dir, 'set', `image${k}.png`));
    images.forEach((path, k) => writePng(path, k, k === 2 ? 40 : 28, k === 2 ? 32 : 28)); // one image needs a resize
    writeFileSync(join(dir, 'set', 'notes.txt'), 'not an image');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes per-image values and per-layer mean ± std equal to the CPU reference + analysis', async () => {
    const out = join(dir, 'stats.json');
    const { code, stdout, stderr } = await crateExplorer('stats', MODEL, join(dir, 'set'), '--json', out, '--eps-squared', '0.05');
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`wrote ${out}`);
    expect(stderr).not.toContain('\r'); // no progress bar when stderr is not a terminal
    const tableLines = stdout.split('\n').filter((line) => /^\s+\d+\s+-?\d+\.\d{4} ± \d+\.\d{4}/.test(line));
    expect(tableLines).toHaveLength(config.depth);

    const json: StatsJson = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.images).toBe(3);
    expect(json.eps_squared).toBe(0.05);
    expect(json.model).toMatchObject({ depth: config.depth, tokens: shape.tokens });
    expect(json.per_image.map((image) => image.path)).toEqual(images); // notes.txt skipped, names sorted

    const expected = images.map((path) => expectedFor(path, 0.05));
    json.per_image.forEach((image, i) => {
      expect(config.labels).toContain(image.top1);
      for (const name of SERIES) {
        expect(image[name]).toHaveLength(config.depth);
        image[name].forEach((value, l) => expect(close(name, value, expected[i][name][l], expected[i][name][l]), `${image.path} ${name} layer ${l}: ${value} vs ${expected[i][name][l]}`).toBe(true));
      }
    });
    for (const name of SERIES) {
      const { mean, std } = meanStd(expected.map((e) => e[name]), STATS_SAMPLE_STD.includes(name) ? 'sample' : 'population'); // n − 1 for coding rates (docs/MEASUREMENTS.md §2)
      for (let l = 0; l < config.depth; l++) {
        expect(close(name, json.per_layer[name].mean[l], mean[l], mean[l]), `${name} mean, layer ${l}`).toBe(true);
        // The std is a difference of nearly equal numbers: held to the tolerance of the values it comes from.
        expect(close(name, json.per_layer[name].std[l], std[l], mean[l]), `${name} std, layer ${l}`).toBe(true);
      }
      // The images differ, so the spread is real and must be reported.
      if (name !== 'zero_fraction') expect(Math.max(...json.per_layer[name].std)).toBeGreaterThan(0);
    }
  });

  it('takes a glob and draws a progress bar on a terminal (in process)', async () => {
    const out = join(dir, 'glob.json');
    let stdout = '';
    let stderr = '';
    const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), stderrIsTTY: true };
    const code = await runCli(['stats', MODEL, join(dir, 'set', 'image[01].png'), '--json', out], io);
    expect(code, stderr).toBe(0);
    const json: StatsJson = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.per_image.map((image) => image.path)).toEqual(images.slice(0, 2));
    expect(json.eps_squared).toBe(0.01);
    const expected = images.slice(0, 2).map((path) => expectedFor(path, 0.01));
    const { mean } = meanStd(expected.map((e) => e.rate_official));
    json.per_layer.rate_official.mean.forEach((m, l) => expect(Math.abs(m - mean[l]) / mean[l]).toBeLessThanOrEqual(TOLERANCE));
    expect(stderr).toContain(progressLine(0, 2, ''));
    expect(stderr).toContain(progressLine(2, 2, 'image1.png'));
    expect(stderr.endsWith('\n')).toBe(true);
  });

  it('refuses bad input with one line and exit status 1 or 2', async () => {
    const cases: [string[], number, RegExp][] = [
      [['stats', MODEL, join(dir, 'missing', '*.png')], 1, /missing\/\*\.png: no file matches this pattern/],
      [['stats', MODEL, join(dir, 'set', 'notes.txt')], 1, /notes\.txt: not a PNG, JPEG or \.npy file/],
      [['stats', MODEL], 2, /stats needs a DIR, GLOB or IMAGE after the MODEL file/],
      [['stats', MODEL, dir, '--eps-squared=-1'], 2, /--eps-squared needs a positive number/],
    ];
    for (const [args, status, message] of cases) {
      let stderr = '';
      const code = await runCli(args, { stdout: () => {}, stderr: (t) => void (stderr += t) });
      expect(code, stderr).toBe(status);
      expect(stderr.split('\n')[0]).toMatch(message);
    }
  });

  it('expands folders, globs (*, ?, [..], **) and plain files in argument order', () => {
    const nested = join(dir, 'nested', 'deeper');
    mkdirSync(nested, { recursive: true });
    writePng(join(nested, 'b.png'), 0);
    writePng(join(dir, 'nested', 'a.png'), 0);
    expect(expandGlob(join(dir, 'nested', '**', '*.png'))).toEqual([join(dir, 'nested', 'a.png'), join(nested, 'b.png')]);
    expect(expandGlob(join(dir, 'set', 'image?.png'))).toEqual(images);
    expect(expandImageArguments([join(dir, 'nested', 'a.png'), join(dir, 'set')])).toEqual([join(dir, 'nested', 'a.png'), ...images]);
    expect(parseStatsCommandLine(['m.safetensors', 'x', '--eps-squared', '0.5'])).toEqual({ help: false, model: 'm.safetensors', inputs: ['x'], json: undefined, epsSquared: 0.5 });
    expect(progressLine(1, 4, 'a.png', 8)).toBe('\r[##------] 1/4 a.png\x1b[K');
  });
});

describe('crate-explorer stats with images that give no result (issue 20, defects 9, 10, 15)', () => {
  const LIMITS = { seconds: 120, killAtMiB: 2048 };
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crate-stats-hostile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records an unreadable image, a FIFO and a NaN .npy as failed, goes on with the rest and still writes its JSON', async () => {
    const set = join(dir, 'set');
    mkdirSync(set);
    writePng(join(set, 'a.png'), 0);
    execFileSync('mkfifo', [join(set, 'b.png')]);
    const nan = new Float32Array(28 * 28);
    nan[7] = Number.NaN;
    writeFileSync(join(set, 'c.npy'), writeNpy([1, 28, 28], nan));
    writePng(join(set, 'd.png'), 1);
    const target = join(dir, 'target.json');
    const link = join(dir, 'stats.json');
    writeFileSync(target, 'old');
    symlinkSync(target, link); // defect 9: the link is written through, not replaced

    const run = await crateExplorerLimited(['stats', MODEL, set, '--json', link], LIMITS);
    expect(run.killed, run.stderr).toBeUndefined();
    expect(run.code, run.stderr).toBe(1);
    expect(ownLines(run.stderr)).toEqual([
      expect.stringMatching(/b\.png: a FIFO \(named pipe\), not a regular file$/),
      expect.stringMatching(/c\.npy: value at \(channel 0, row 0, column 7\) is NaN/),
      'crate-explorer: 2 of 4 images gave no result (listed above and in the JSON)',
    ]);
    expect(run.stdout).toMatch(/mean ± std over 2 images/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const json: StatsJson & { failed: { path: string; error: string }[] } = JSON.parse(readFileSync(target, 'utf8'));
    expect(json.images).toBe(2);
    expect(json.per_image.map((image) => image.path)).toEqual([join(set, 'a.png'), join(set, 'd.png')]);
    expect(json.per_layer.rate_official.mean).toHaveLength(3);
    expect(json.failed.map((f) => f.path)).toEqual([join(set, 'b.png'), join(set, 'c.npy')]);
  });

  it('reports NaN activations per image ("layer 1 produced NaN") and writes the JSON when no image gives a result', async () => {
    const model = join(dir, 'overflow.safetensors');
    writeOverflowingModel(model);
    const images = [0, 1].map((k) => join(dir, `image${k}.png`));
    images.forEach((path, k) => writePng(path, k));
    const out = join(dir, 'overflow.json');
    const run = await crateExplorerLimited(['stats', model, ...images, '--json', out], LIMITS);
    expect(run.killed, run.stderr).toBeUndefined();
    expect(run.code, run.stderr).toBe(1);
    // stats captures no attention: the first NaN it sees is the MSSA output's, which the attention feeds.
    const failure = `layer ${OVERFLOWING_LAYER} produced NaN in the MSSA output Z^{l+1/2}`;
    expect(ownLines(run.stderr)).toEqual([...images.map((path) => `crate-explorer: ${path}: ${failure}`), 'crate-explorer: 2 of 2 images gave no result (listed above and in the JSON)']);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json).toMatchObject({ images: 0, per_layer: null, per_image: [], failed: images.map((path) => ({ path, error: failure })) });
  });
});
