/**
 * Hostile inputs to `crate-explorer` (issue 20, defects 9–15), each refused
 * quickly, cheaply and with a clear message: the command is spawned under a
 * time limit and a memory watchdog (test/helpers/cliProcess.ts). Everything
 * here is refused before the GPU starts, so this file needs no GPU; the cases
 * that need a forward pass are in test/gpu/cli.test.ts and cliStats.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.ts';
import { compileGlob } from '../../src/cli/glob.ts';
import { writeNpy } from '../../src/cli/npy.ts';
import { writeOutputFile } from '../../src/cli/outputFile.ts';
import { readSafetensors, writeSafetensors } from '../../src/engine/safetensors.ts';
import { crateExplorerLimited, ROOT, type LimitedRun } from '../helpers/cliProcess.ts';

const MODEL = 'fixtures/grey17.model.safetensors';
/** A refusal before the GPU starts takes well under a second (tsx start-up included) and under 200 MiB; these leave room for a busy machine. */
const QUICK = { seconds: 15, killAtMiB: 1024 };
const MAX_PEAK_MIB = 400;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crate-hostile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Exit status 1 (or `status`) and one `crate-explorer:` line matching `message`, within the time and memory limits. */
function expectRefused(run: LimitedRun, message: RegExp, status = 1): void {
  const summary = `${run.seconds.toFixed(1)} s, peak ${run.peakMiB?.toFixed(0)} MiB, killed: ${run.killed}, stderr: ${run.stderr}`;
  expect(run.killed, summary).toBeUndefined();
  expect(run.code, summary).toBe(status);
  expect(run.stderr.split('\n')[0], summary).toMatch(message);
  if (run.peakMiB !== undefined) expect(run.peakMiB, summary).toBeLessThan(MAX_PEAK_MIB);
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** A valid-looking PNG declaring width × height 8-bit grey pixels, with a few bytes of image data. */
function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, grey, deflate, filter 0, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(8))), pngChunk('IEND', new Uint8Array(0))]);
}

/** SOI, an APP0 segment, a baseline SOF0 declaring width × height (3 components), EOI. */
function jpegDeclaring(width: number, height: number): Buffer {
  const app0 = [0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof = [0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1];
  return Buffer.from([0xff, 0xd8, ...app0, ...sof, 0xff, 0xd9]);
}

describe('defect 10: inputs must be regular files of bounded size, checked before reading', () => {
  it('refuses /dev/zero as an image at once', async () => {
    expectRefused(await crateExplorerLimited(['run', MODEL, '/dev/zero'], QUICK), /cannot read image \/dev\/zero: a character device, not a regular file/);
  });

  it('refuses a FIFO named b.png in a stats folder, and a FIFO named as a model, without blocking', async () => {
    const set = join(dir, 'fifo-set');
    mkdirSync(set);
    execFileSync('mkfifo', [join(set, 'b.png'), join(dir, 'fifo.onnx')]);
    const stats = await crateExplorerLimited(['stats', MODEL, set], QUICK);
    expectRefused(stats, /cannot read image .*b\.png: a FIFO \(named pipe\), not a regular file/);
    expect(stats.stderr).toMatch(/none of the 1 image could be read/);
    expectRefused(await crateExplorerLimited(['run', join(dir, 'fifo.onnx'), '/dev/null'], QUICK), /cannot read model file .*fifo\.onnx: a FIFO/);
  });

  it('refuses an image file larger than any usable image before reading it (a sparse 1.5 GiB file)', async () => {
    const big = join(dir, 'big.png');
    const fd = openSync(big, 'w');
    closeSync(fd);
    execFileSync('truncate', ['-s', '1536M', big]);
    expectRefused(await crateExplorerLimited(['run', MODEL, big], QUICK), /cannot read image .*big\.png: 1536\.0 MiB, over the 128\.0 MiB that any usable image can take/);
  });

  it('refuses a directory given as an image', async () => {
    expectRefused(await crateExplorerLimited(['run', MODEL, dir], QUICK), /cannot read image .*: a directory, not a regular file/);
  });
});

describe('defect 11: the declared pixel size is checked before decoding', () => {
  it('refuses a small PNG declaring 32000×32000 from its IHDR', async () => {
    const bomb = join(dir, 'bomb.png');
    writeFileSync(bomb, pngDeclaring(32000, 32000));
    expect(statSync(bomb).size).toBeLessThan(100);
    expectRefused(await crateExplorerLimited(['run', MODEL, bomb], QUICK), /bomb\.png: image is 32000×32000, over 256 megapixels/);
  });

  it('refuses a JPEG declaring 65000×65000 from its SOF0', async () => {
    const bomb = join(dir, 'bomb.jpg');
    writeFileSync(bomb, jpegDeclaring(65000, 65000));
    expectRefused(await crateExplorerLimited(['run', MODEL, bomb], QUICK), /bomb\.jpg: image is 65000×65000, over 256 megapixels/);
  });
});

describe('defect 12: control characters are escaped in everything printed', () => {
  const hostile = '\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil';
  const expectClean = (text: string) => expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);

  it('in file names', async () => {
    const run = await crateExplorerLimited(['run', MODEL, join(dir, `${hostile}.png`)], QUICK);
    expectRefused(run, /cannot read image .*\\x1b\]0;pwned\\x07\\x1b\[2J\\x9b31m\\u\{202e\}evil\.png: no such file/);
    expectClean(run.stderr);
  });

  it('in tensor names quoted by errors', async () => {
    const fixture = readSafetensors(readFileSync(join(ROOT, MODEL)));
    const tensors = new Map(fixture.tensors);
    tensors.set(`transformer.layers.0.0.fn.qkv.weight${hostile}`, { shape: [1], data: new Float32Array(1) });
    const model = join(dir, 'extra.safetensors');
    writeFileSync(model, writeSafetensors(tensors)); // no config: the shapes are read, the stray tensor refused
    const run = await crateExplorerLimited(['run', model, '/dev/null'], QUICK);
    expectRefused(run, /unexpected tensor "transformer\.layers\.0\.0\.fn\.qkv\.weight\\x1b\]0;pwned/);
    expectClean(run.stderr);
  });
});

describe('defect 13: globs match in linear time; bad patterns are usage errors', () => {
  it('answers a pathological pattern against a 40-character name at once', async () => {
    const set = join(dir, 'glob-set');
    mkdirSync(set);
    writeFileSync(join(set, `${'x'.repeat(36)}.png`), '');
    const pattern = join(set, `${'**x'.repeat(12)}**y.png`);
    expectRefused(await crateExplorerLimited(['stats', MODEL, pattern], QUICK), /no file matches this pattern/);
  });

  it('refuses a reversed range as bad usage (status 2)', async () => {
    expectRefused(await crateExplorerLimited(['stats', MODEL, join(dir, '[z-a].png')], QUICK), /bad pattern ".*\[z-a\]\.png": range "z-a" is reversed/, 2);
  });

  it('matches *, ?, [..], [!..], ** and **/ as before', () => {
    const cases: [string, string, boolean][] = [
      ['a/*.png', 'a/b.png', true],
      ['a/*.png', 'a/b/c.png', false],
      ['a/?.png', 'a/b.png', true],
      ['a/?.png', 'a/bc.png', false],
      ['a/image[01].png', 'a/image1.png', true],
      ['a/image[01].png', 'a/image2.png', false],
      ['a/image[!01].png', 'a/image2.png', true],
      ['a/image[a-c].png', 'a/imageb.png', true],
      ['a/**/*.png', 'a/x.png', true],
      ['a/**/*.png', 'a/x/y/z.png', true],
      ['a/**/*.png', 'b/x.png', false],
      ['a/**.png', 'a/x/y.png', true],
      ['a/[.png', 'a/[.png', true],
      ['**x**x**y.png', 'xxy.png', true],
      ['**x**x**y.png', 'xxxx.png', false],
    ];
    for (const [pattern, path, expected] of cases) expect(compileGlob(pattern)(path), `${pattern} vs ${path}`).toBe(expected);
  });

  it('costs time linear in the name: 200 stars against a 2000-character near-miss in well under a second', () => {
    const match = compileGlob(`${'*x'.repeat(200)}y`);
    const start = performance.now();
    expect(match('x'.repeat(2000))).toBe(false);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('defect 14: help lists what the command runs', () => {
  const help = async (...argv: string[]) => {
    let stdout = '';
    expect(await runCli(argv, { stdout: (t) => void (stdout += t), stderr: () => {} })).toBe(0);
    return stdout;
  };

  it('run --help does not call ONNX unsupported; run and stats --help name every model format', async () => {
    const run = await help('run', '--help');
    const stats = await help('stats', '--help');
    expect(run).not.toMatch(/not supported/i);
    for (const text of [run, stats]) for (const format of ['.onnx', '.safetensors', '.pth', '.pt', '.pth.tar']) expect(text).toContain(format);
  });
});

describe('defect 15: .npy inputs must be finite and of a sane size', () => {
  const cases: [string, number, RegExp][] = [
    ['nan', Number.NaN, /is NaN; a model input must be finite/],
    ['inf', Number.POSITIVE_INFINITY, /is Infinity; a model input must be finite/],
    ['huge', 3e38, /is 3\.00e\+38, beyond ±1e\+6/],
  ];
  for (const [name, value, message] of cases) {
    it(`refuses ${name} before the GPU starts, naming where it is`, async () => {
      const data = new Float32Array(28 * 28);
      data[3 * 28 + 5] = value;
      const path = join(dir, `${name}.npy`);
      writeFileSync(path, writeNpy([1, 28, 28], data));
      const run = await crateExplorerLimited(['run', MODEL, path], QUICK);
      expectRefused(run, new RegExp(`${name}\\.npy: value at \\(channel 0, row 3, column 5\\) ${message.source}`));
      expect(run.stdout).toBe(''); // refused before the model line: nothing ran
    });
  }
});

describe('defect 9: --json never replaces a link, a device or a FIFO (the writer both commands use)', () => {
  // End to end, through `run --json` and `stats --json`: test/gpu/cli.test.ts and cliStats.test.ts.
  const writeReport = (path: string) => writeOutputFile(path, '{"rate_official":[0.5]}\n');
  const expectReport = (text: string) => expect(JSON.parse(text).rate_official).toEqual([0.5]);

  const links: [string, (target: string, name: string) => void, (name: string) => boolean][] = [
    ['writes through a symbolic link to a file, which stays a link', symlinkSync, (name) => lstatSync(name).isSymbolicLink()],
    ['rewrites a hard-linked file in place, so both names keep the JSON', linkSync, (name) => statSync(name).nlink === 2],
  ];
  for (const [title, makeLink, stillLinked] of links) {
    it(title, () => {
      const target = join(dir, `${makeLink.name}-target.json`);
      const name = join(dir, `${makeLink.name}-name.json`);
      writeFileSync(target, 'old');
      makeLink(target, name);
      writeReport(name);
      expect(stillLinked(name)).toBe(true);
      expectReport(readFileSync(target, 'utf8'));
    });
  }

  it('writes through a link to /dev/null, which stays a link to a character device', () => {
    const link = join(dir, 'null.json');
    symlinkSync('/dev/null', link);
    writeReport(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('writes into a FIFO that has a reader, and refuses one without a reader at once', async () => {
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => writeReport(fifo)).toThrow(/cannot write .*out\.fifo: a FIFO \(named pipe\) with no reader/);
    const reader = spawn('cat', [fifo]);
    let read = '';
    reader.stdout.on('data', (chunk) => (read += chunk));
    const done = new Promise((resolve) => reader.on('close', resolve));
    // cat opens the FIFO asynchronously: retry until it is there.
    for (let tries = 0; ; tries++) {
      try {
        writeReport(fifo);
        break;
      } catch (error) {
        if (tries > 200) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    await done;
    expectReport(read);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('refuses a directory', () => {
    expect(() => writeReport(dir)).toThrow(/cannot write .*: is a directory/);
  });

  it('replaces a plain file atomically, leaving no temporary file', () => {
    const plain = join(dir, 'plain.json');
    writeFileSync(plain, 'old');
    writeReport(plain);
    expectReport(readFileSync(plain, 'utf8'));
    expect(execFileSync('ls', ['-a', dir], { encoding: 'utf8' })).not.toMatch(/tmp-/);
  });
});
