/**
 * The `crate-explorer` command, spawned as a user would run it
 * (node bin/crate-explorer.mjs …), checked against the PyTorch fixture grey17.
 */
import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { officialCodingRate } from '../../src/analysis/codingRate.ts';
import { sparsity } from '../../src/analysis/sparsity.ts';
import { readNpy, writeNpy } from '../../src/cli/npy.ts';
import { crateExplorerLimited, ownLines } from '../helpers/cliProcess.ts';
import { goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';
import { OVERFLOWING_LAYER, writeOverflowingModel, writeRelabelledModel } from '../helpers/hostileModels.ts';

const ROOT = join(import.meta.dirname, '../..');
const MODEL = 'fixtures/grey17.model.safetensors';
const TOLERANCE = 1e-4;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function crateExplorer(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/crate-explorer.mjs', ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}


interface JsonImage {
  path: string;
  logits: number[];
  top5: { label: string; probability: number }[];
  rate_official: number[];
  sparsity_zero_fraction: number[];
  cls_attention: number[][][];
  captures?: { shapes: Record<string, number[]>; layers: Record<string, number[]>[] };
}

describe('crate-explorer run', () => {
  const fixture = loadFixture('grey17');
  const { config, shape } = fixture.model;
  const N = shape.tokens;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crate-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const writeInputNpy = (input: number) => {
    const path = join(dir, `input${input}.npy`);
    writeFileSync(path, writeNpy([config.channels, shape.imageHeight, shape.imageWidth], goldenTensor(fixture, `input.${input}`)));
    return path;
  };

  it('matches the PyTorch fixture on a .npy input: logits, official coding rate, sparsity, class-token attention', async () => {
    const input = writeInputNpy(0);
    const out = join(dir, 'out.json');
    const { code, stdout, stderr } = await crateExplorer('run', MODEL, input, '--json', out);
    expect(ownLines(stderr).filter((l) => !/software Vulkan driver/.test(l)), stderr).toEqual([]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`wrote ${out}`);

    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(Object.keys(json)).toEqual(['model', 'adapter', 'images']);
    expect(json.model).toMatchObject({ depth: config.depth, heads: config.heads, dim_head: config.dim_head, tokens: N, num_classes: config.num_classes });
    expect(typeof json.adapter).toBe('string');
    expect(json.images).toHaveLength(1);
    const image: JsonImage = json.images[0];
    expect(image.path).toBe(input);
    expect(image.captures).toBeUndefined();

    const goldenLogits = goldenTensor(fixture, 'input.0.logits');
    expect(image.logits).toHaveLength(config.num_classes);
    expect(relativeError(image.logits, goldenLogits), 'logits').toBeLessThanOrEqual(TOLERANCE);

    expect(image.top5).toHaveLength(5);
    const best = goldenLogits.indexOf(Math.max(...goldenLogits));
    expect(image.top5[0].label).toBe(config.labels[best]);
    for (let i = 0; i < 5; i++) {
      expect(config.labels).toContain(image.top5[i].label);
      expect(image.top5[i].probability).toBeGreaterThan(0);
      if (i > 0) expect(image.top5[i].probability).toBeLessThanOrEqual(image.top5[i - 1].probability);
    }
    expect(image.top5.reduce((s, c) => s + c.probability, 0)).toBeLessThanOrEqual(1 + 1e-9);

    expect(image.rate_official).toHaveLength(config.depth);
    expect(image.sparsity_zero_fraction).toHaveLength(config.depth);
    expect(image.cls_attention).toHaveLength(config.depth);
    for (let l = 0; l < config.depth; l++) {
      const layer = `input.0.layers.${l}`;
      const rate = officialCodingRate(goldenTensor(fixture, `${layer}.w`), N, config.heads, config.dim_head);
      expect(Math.abs(image.rate_official[l] - rate) / Math.abs(rate), `layer ${l} rate`).toBeLessThanOrEqual(TOLERANCE);

      const zeros = image.sparsity_zero_fraction[l];
      expect(zeros).toBeGreaterThanOrEqual(0);
      expect(zeros).toBeLessThanOrEqual(1);
      expect(Math.abs(zeros - sparsity(goldenTensor(fixture, `${layer}.z_next`)).zeroFraction), `layer ${l} zeros`).toBeLessThanOrEqual(1e-3);

      const attention = goldenTensor(fixture, `${layer}.attention`);
      expect(image.cls_attention[l]).toHaveLength(config.heads);
      for (let h = 0; h < config.heads; h++) {
        const row = image.cls_attention[l][h];
        expect(row).toHaveLength(N - 1);
        const golden = attention.subarray(h * N * N + 1, h * N * N + N);
        expect(relativeError(row, golden), `layer ${l} head ${h} class-token attention`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('--capture all writes every layer tensor, equal to the fixture', async () => {
    const input = writeInputNpy(1);
    const out = join(dir, 'all.json');
    const { code, stderr } = await crateExplorer('run', MODEL, input, '--json', out, '--capture', 'all');
    expect(code, stderr).toBe(0);
    const image: JsonImage = JSON.parse(readFileSync(out, 'utf8')).images[0];
    expect(relativeError(image.logits, goldenTensor(fixture, 'input.1.logits'))).toBeLessThanOrEqual(TOLERANCE);
    const captures = image.captures!;
    expect(captures.shapes).toEqual({ z: [N, config.dim], w: [N, shape.innerDim], attention: [config.heads, N, N], zHalf: [N, config.dim], zNext: [N, config.dim] });
    expect(captures.layers).toHaveLength(config.depth);
    const names = { z: 'z', w: 'w', attention: 'attention', zHalf: 'z_half', zNext: 'z_next' };
    for (let l = 0; l < config.depth; l++) {
      for (const [tensor, golden] of Object.entries(names)) {
        const error = relativeError(captures.layers[l][tensor], goldenTensor(fixture, `input.1.layers.${l}.${golden}`));
        expect(error, `layer ${l} ${tensor}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('reads PNG and JPEG images and prints 5 classes and one line per layer for each', async () => {
    const width = 40;
    const height = 30;
    const png = new PNG({ width, height });
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = Math.abs(x - 20) + Math.abs(y - 15) < 10 ? 255 : 0;
        png.data.set([v, v, v, 255], (y * width + x) * 4);
      }
    }
    const pngPath = join(dir, 'diamond.png');
    const jpegPath = join(dir, 'diamond.jpg');
    writeFileSync(pngPath, PNG.sync.write(png));
    writeFileSync(jpegPath, jpeg.encode({ width, height, data: png.data }, 95).data);

    const { code, stdout, stderr } = await crateExplorer('run', MODEL, pngPath, jpegPath);
    expect(code, stderr).toBe(0);
    const blocks = stdout.split(/^image: /m).slice(1);
    expect(blocks).toHaveLength(2);
    expect(blocks[0].startsWith(pngPath)).toBe(true);
    expect(blocks[1].startsWith(jpegPath)).toBe(true);
    for (const block of blocks) {
      const classLines = block.split('\n').filter((line) => /^\s+\d+\. class \d+\s+\d\.\d{6}$/.test(line));
      const layerLines = block.split('\n').filter((line) => /^\s+layer \d+\s+rate\s+-?\d+\.\d{4}\s+zeros [01]\.\d{4}$/.test(line));
      expect(classLines, block).toHaveLength(5);
      expect(layerLines, block).toHaveLength(config.depth);
    }
  });

  it('refuses bad model files with one line on stderr and exit status 1', async () => {
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, Buffer.from('this is not a safetensors file at all'));
    const pngNamedOnnx = join(dir, 'fake.onnx');
    writeFileSync(pngNamedOnnx, PNG.sync.write(Object.assign(new PNG({ width: 2, height: 2 }), { data: Buffer.alloc(16, 255) })));
    const input = writeInputNpy(0);
    const cases: [string, RegExp][] = [
      ['fixtures/grey17.golden.safetensors', /grey17\.golden\.safetensors: not a valid CRATE model: missing tensor "cls_token"/],
      [garbage, /garbage\.safetensors: not a valid CRATE model: header length/],
      [join(dir, 'missing.safetensors'), /cannot read model file .*missing\.safetensors: no such file/],
      [join(dir, 'missing.onnx'), /cannot read model file .*missing\.onnx: no such file/],
      [pngNamedOnnx, /fake\.onnx: not a valid CRATE model: not a valid ONNX file/],
      [join(dir, 'model.bin'), /model\.bin: unsupported model file extension "\.bin"/],
    ];
    for (const [model, message] of cases) {
      const { code, stdout, stderr } = await crateExplorer('run', model, input);
      expect(code, `${model}: ${stderr}`).toBe(1);
      expect(stdout).toBe('');
      const lines = stderr.trimEnd().split('\n');
      expect(lines, stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^crate-explorer: /);
      expect(lines[0]).toMatch(message);
    }
  });

  it('refuses a .npy input of the wrong shape, naming both shapes', async () => {
    const wrong = join(dir, 'wrong.npy');
    writeFileSync(wrong, writeNpy([1, 27, 28], new Float32Array(27 * 28)));
    const { code, stdout, stderr } = await crateExplorer('run', MODEL, wrong);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`crate-explorer: ${wrong}: array has shape (1, 27, 28); the model needs (C, H, W) = (1, 28, 28)\n`);
  });

  it('prints usage on --help (status 0) and on bad usage (status 2)', async () => {
    const help = await crateExplorer('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: crate-explorer run MODEL IMAGE/);
    const none = await crateExplorer();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: crate-explorer run/);
    const unknown = await crateExplorer('run', MODEL, 'x.png', '--frob');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^crate-explorer: unknown option '--frob'\n/);
  });
});

/** A .npy file with a given version and header text, for the parser's refusals. */
function npy(version: number, header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const lengthBytes = version === 1 ? 2 : 4;
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + lengthBytes + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(text, 8 + lengthBytes);
  out.set(data, 8 + lengthBytes + text.length);
  return out;
}

describe('the .npy reader the command uses', () => {
  const values = new Float32Array([1.5, -2, 3.25, 0, 7, -0.125]);
  const bytes = new Uint8Array(values.buffer);
  const header = (descr: string, fortran: string, shape: string) => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

  it('reads what it writes, and versions 2.0 and 3.0', () => {
    expect(readNpy(writeNpy([1, 2, 3], values))).toEqual({ shape: [1, 2, 3], data: values });
    for (const version of [2, 3]) expect(readNpy(npy(version, header('<f4', 'False', '(2, 3)'), bytes))).toEqual({ shape: [2, 3], data: values });
    expect(readNpy(npy(1, header('<f4', 'False', '(6,)'), bytes)).shape).toEqual([6]);
  });

  it('refuses anything but C-ordered little-endian float32 with the right amount of data', () => {
    const refusals: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('PK not numpy'), /no \\x93NUMPY magic/],
      [npy(4, header('<f4', 'False', '(6,)'), bytes), /version 4\.0 is not supported/],
      [npy(1, header('<f8', 'False', '(6,)'), bytes), /dtype '<f8' is not supported/],
      [npy(1, header('>f4', 'False', '(6,)'), bytes), /dtype '>f4' is not supported/],
      [npy(1, header('<f4', 'True', '(2, 3)'), bytes), /fortran_order True is not supported/],
      [npy(1, header('<f4', 'False', '(2, 4)'), bytes), /needs 32 data bytes but the file has 24/],
      [npy(1, header('<f4', 'False', '(2, -3)'), bytes), /not a tuple of non-negative integers/],
      [npy(1, "{'descr': '<f4', 'shape': (6,)}", bytes), /must have the keys/],
      [npy(1, '{"descr": "<f4"}', bytes), /cannot parse the header dict/],
    ];
    for (const [file, message] of refusals) expect(() => readNpy(file)).toThrow(message);
  });
});

describe('crate-explorer run with an ONNX model', () => {
  it('gives the same top class as the safetensors file of the same weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crate-cli-onnx-'));
    const fixture = loadFixture('grey17');
    const input = join(dir, 'input.npy');
    writeFileSync(input, writeNpy([1, 28, 28], goldenTensor(fixture, 'input.1')));
    const onnx = await crateExplorer('run', 'fixtures/grey17.onnx', input, '--json', join(dir, 'onnx.json'));
    const safetensors = await crateExplorer('run', 'fixtures/grey17.model.safetensors', input, '--json', join(dir, 'st.json'));
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(safetensors.code, safetensors.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(dir, 'onnx.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(dir, 'st.json'), 'utf8'));
    expect(a.logits).toEqual(b.logits);
  });
});

describe('crate-explorer run on hostile models and outputs (issue 20)', () => {
  const fixture = loadFixture('grey17');
  /** A forward pass on SwiftShader takes seconds; these limits catch a hang or a runaway, not a slow machine. */
  const LIMITS = { seconds: 120, killAtMiB: 2048 };
  let dir: string;
  let input: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'crate-cli-hostile-'));
    input = join(dir, 'input.npy');
    writeFileSync(input, writeNpy([1, 28, 28], goldenTensor(fixture, 'input.0')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("issue 17: Dawn's raw Vulkan warnings are not printed; the fallback is said once, in the command's words", async () => {
    // Without a driver named, Dawn first probes the system's Vulkan drivers and warns from C++ where there are none.
    const env = { ...process.env };
    delete env.VK_ICD_FILENAMES;
    delete env.VK_DRIVER_FILES;
    const run = await crateExplorerLimited(['run', MODEL, input], LIMITS, env);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stderr.split('\n').filter(Boolean);
    expect(lines.every((line) => line.startsWith('crate-explorer: ')), run.stderr).toBe(true);
    expect(lines.filter((line) => /SwiftShader/.test(line)).length).toBeLessThanOrEqual(1);
  });

  it('defect 9: --json through a symbolic link writes the target and keeps the link', async () => {
    const target = join(dir, 'target.json');
    const link = join(dir, 'link.json');
    writeFileSync(target, 'old');
    symlinkSync(target, link);
    const run = await crateExplorerLimited(['run', MODEL, input, '--json', link], LIMITS);
    expect(run.code, run.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(target, 'utf8')).images).toHaveLength(1);
  });

  it('defect 9: --json to a copy of /dev/stdout (a link to /proc/self/fd/1) prints the report, then the JSON', async () => {
    const stdoutLink = join(dir, 'stdout');
    symlinkSync('/proc/self/fd/1', stdoutLink);
    const run = await crateExplorerLimited(['run', MODEL, input, '--json', stdoutLink], LIMITS);
    expect(run.code, run.stderr).toBe(0);
    expect(lstatSync(stdoutLink).isSymbolicLink()).toBe(true);
    expect(run.stdout).toMatch(/^image: .*input\.npy$/m);
    const jsonLine = run.stdout.split('\n').find((line) => line.startsWith('{"model"'));
    expect(JSON.parse(jsonLine!).images[0].top5).toHaveLength(5);
    expect(run.stdout.indexOf('{"model"')).toBeGreaterThan(run.stdout.indexOf('image: '));
  });

  it('defect 12: labels with ANSI, OSC and bidi sequences are printed escaped, and kept as they are in the JSON', async () => {
    const model = join(dir, 'labels.safetensors');
    const labels = (label: string, i: number) => (i % 2 ? `\x1b]8;;http://evil.example/\x07${label}\x1b]8;;\x07` : `\x1b[2J\x1b]0;title\x07${label}\n\u202e`);
    writeRelabelledModel(model, labels);
    const out = join(dir, 'labels.json');
    const run = await crateExplorerLimited(['run', model, input, '--json', out], LIMITS);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    expect(run.stdout).toMatch(/\\x1b\]8;;http:\/\/evil\.example\/\\x07class \d\\x1b\]8;;\\x07|\\x1b\[2J\\x1b\]0;title\\x07class \d\\x0a\\u\{202e\}/);
    const top1 = JSON.parse(readFileSync(out, 'utf8')).images[0].top5[0].label;
    expect(fixture.model.config.labels.map(labels)).toContain(top1);
  });

  it('defect 15: a forward pass that produces NaN is each image’s result, the JSON is written, and the status is 1', async () => {
    const model = join(dir, 'overflow.safetensors');
    writeOverflowingModel(model);
    const out = join(dir, 'overflow.json');
    const run = await crateExplorerLimited(['run', model, input, input, '--json', out], LIMITS);
    expect(run.killed, run.stderr).toBeUndefined();
    expect(run.code, run.stderr).toBe(1);
    const results = run.stdout.split('\n').filter((line) => line.includes('no result:'));
    expect(results).toEqual(Array(2).fill(`  no result: layer ${OVERFLOWING_LAYER} produced NaN in the attention A`));
    expect(ownLines(run.stderr).at(-1)).toBe('crate-explorer: 2 of 2 images gave no result');
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.images).toEqual([input, input].map((path) => ({ path, error: `layer ${OVERFLOWING_LAYER} produced NaN in the attention A` })));
  });
});
