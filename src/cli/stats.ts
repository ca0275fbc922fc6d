/**
 * `crate-explorer stats MODEL DIR|GLOB|IMAGE... [--json OUT.json]`: the dataset
 * view of docs/MEASUREMENTS.md §2 from the command line. Every image goes through the
 * GPU engine; per layer it computes the official R^c of the MSSA input, the
 * paper's R^c(Z^{ℓ+½}; U), R(Z^{ℓ+½}), ΔR and the sparsity of Z^{ℓ+1}, then
 * prints and writes their mean ± std over the images (population std).
 */
import { readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { topClasses } from '../analysis/classes.ts';
import { OFFICIAL_EPS_SQUARED, officialCodingRate, rateReduction } from '../analysis/codingRate.ts';
import { summariseImages, type MeanStd } from '../analysis/dataset.ts';
import { sparsity } from '../analysis/sparsity.ts';
import type { CaptureTensor } from '../engine/gpu/capture.ts';
import { CrateGpuEngine, type RunResult } from '../engine/gpu/engine.ts';
import type { CrateModel } from '../engine/model.ts';
import { requestNodeGpu, type NodeGpu } from '../engine/node/nodeGpu.ts';
import type { CliIo } from './cli.ts';
import { CliError, UsageError } from './errors.ts';
import { loadImageFile } from './images.ts';
import { loadAnyModelFile } from './loadModel.ts';
import { describeModel, modelSummary } from './report.ts';

export const STATS_USAGE = `Usage: crate-explorer stats MODEL DIR|GLOB|IMAGE... [--json OUT.json] [--eps-squared E]

Runs every image of a set through the WebGPU engine and prints, per layer,
the mean ± std over the images of: the official coding rate R^c of the MSSA
input; the paper's R^c(Z^{l+1/2}; U), R(Z^{l+1/2}) and the rate reduction
R - R^c; the zero fraction and the l1 norm of the ISTA output Z^{l+1}.

  MODEL              a .safetensors model in the project format
  DIR                every .png, .jpg, .jpeg and .npy file in it (not recursive)
  GLOB               a quoted pattern with * ? or ** (e.g. 'data/**/*.png')
  IMAGE              a PNG, JPEG or (C, H, W) float32 .npy file
  --json OUT.json    also write the means, stds and every image's values
  --eps-squared E    epsilon^2 of the paper-formula rates (default 0.01)
  -h, --help         show this help

A progress bar goes to stderr when it is a terminal.
`;

/** Per-layer series of one image; the keys are the JSON's names. */
export const STATS_SERIES = ['rate_official', 'rate_compressed', 'rate', 'rate_reduction', 'zero_fraction', 'l1'] as const;
export type StatsSeries = (typeof STATS_SERIES)[number];
export type ImageStats = Record<StatsSeries, number[]>;

const STATS_TENSORS: readonly CaptureTensor[] = ['w', 'zHalf', 'zNext'];
const IMAGE_EXTENSIONS = /\.(png|jpe?g|npy)$/i;

export interface StatsArgs {
  model: string;
  inputs: string[];
  json?: string;
  epsSquared: number;
}

export function parseStatsCommandLine(argv: readonly string[]): { help: true } | ({ help: false } & StatsArgs) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { json: { type: 'string' }, 'eps-squared': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split(/\.\s/)[0].replace(/^Unknown option/, 'unknown option'));
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const [model, ...inputs] = positionals;
  if (model === undefined) throw new UsageError('stats needs a MODEL file and a DIR, GLOB or IMAGE');
  if (inputs.length === 0) throw new UsageError('stats needs a DIR, GLOB or IMAGE after the MODEL file');
  if (values.json === '') throw new UsageError('--json needs a file name');
  const epsSquared = values['eps-squared'] === undefined ? OFFICIAL_EPS_SQUARED : Number(values['eps-squared']);
  if (!(epsSquared > 0 && Number.isFinite(epsSquared))) throw new UsageError(`--eps-squared needs a positive number, got ${JSON.stringify(values['eps-squared'])}`);
  return { help: false, model, inputs, json: values.json, epsSquared };
}

const hasWildcard = (text: string) => /[*?[]/.test(text);

/** A glob segment or path as a RegExp: `**` any number of folders, `*` and `?` within one name, `[…]` a class. */
function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      source += pattern[i + 2] === '/' ? '(?:[^/]*/)*' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) source += '\\[';
      else {
        source += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function walk(folder: string, out: string[]): void {
  for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else out.push(path);
  }
}

/** Paths matching a glob, sorted; searched below the pattern's longest folder without wildcards. */
export function expandGlob(pattern: string): string[] {
  const normalised = pattern.split(sep).join('/');
  const segments = normalised.split('/');
  const fixed = segments.findIndex(hasWildcard);
  const root = fixed <= 0 ? (normalised.startsWith('/') ? '/' : '.') : segments.slice(0, fixed).join('/') || '/';
  let files: string[] = [];
  try {
    walk(root, files);
  } catch {
    return [];
  }
  const matcher = globToRegExp(normalised.replace(/^\.\//, ''));
  files = files.map((f) => f.split(sep).join('/'));
  return files.filter((f) => matcher.test(root === '.' ? f.replace(/^\.\//, '') : f)).sort();
}

/** DIR, GLOB and IMAGE arguments → image paths, in argument order, each folder and glob sorted. */
export function expandImageArguments(inputs: readonly string[]): string[] {
  const paths: string[] = [];
  for (const input of inputs) {
    let isDirectory = false;
    try {
      isDirectory = statSync(input).isDirectory();
    } catch {
      // Not a path: a glob, or a missing file that loadImageFile reports.
    }
    if (isDirectory) {
      const files = readdirSync(input)
        .filter((name) => IMAGE_EXTENSIONS.test(name))
        .sort()
        .map((name) => join(input, name));
      if (files.length === 0) throw new CliError(`${input}: no .png, .jpg, .jpeg or .npy files in this folder`);
      paths.push(...files);
    } else if (hasWildcard(input)) {
      const files = expandGlob(input);
      if (files.length === 0) throw new CliError(`${input}: no file matches this pattern`);
      paths.push(...files);
    } else {
      paths.push(input);
    }
  }
  return paths;
}

export interface StatsCaptures {
  w: Float32Array;
  zHalf: Float32Array;
  zNext: Float32Array;
}

/** Reads what the statistics need from one run; done before the next run reuses the buffers. */
export async function readStatsCaptures(model: CrateModel, result: RunResult): Promise<StatsCaptures[]> {
  const layers: StatsCaptures[] = [];
  for (let l = 0; l < model.config.depth; l++) {
    layers.push({ w: await result.captures.read(l, 'w'), zHalf: await result.captures.read(l, 'zHalf'), zNext: await result.captures.read(l, 'zNext') });
  }
  return layers;
}

/** One image's per-layer values (docs/MEASUREMENTS.md §2), from its captured tensors and the layers' U. */
export function imageStats(model: CrateModel, layers: readonly StatsCaptures[], epsSquared: number): ImageStats {
  const { config, shape } = model;
  const stats: ImageStats = { rate_official: [], rate_compressed: [], rate: [], rate_reduction: [], zero_fraction: [], l1: [] };
  layers.forEach(({ w, zHalf, zNext }, l) => {
    const reduction = rateReduction(zHalf, shape.tokens, config.dim, model.weights.layers[l].qkv, config.heads, config.dim_head, epsSquared);
    const zeros = sparsity(zNext);
    stats.rate_official.push(officialCodingRate(w, shape.tokens, config.heads, config.dim_head));
    stats.rate_compressed.push(reduction.compressedRate);
    stats.rate.push(reduction.rate);
    stats.rate_reduction.push(reduction.reduction);
    stats.zero_fraction.push(zeros.zeroFraction);
    stats.l1.push(zeros.l1);
  });
  return stats;
}

/** `[#####-----] 3/10 name` on one terminal line, redrawn in place. */
export function progressLine(done: number, total: number, label: string, width = 30): string {
  const filled = Math.round((width * done) / total);
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`.slice(0, 200) + '\x1b[K';
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

export function formatStatsTable(summary: Record<StatsSeries, MeanStd>): string[] {
  const columns: [StatsSeries, string, number][] = [
    ['rate_official', 'R^c official', 4],
    ['rate_compressed', 'R^c(Z½)', 4],
    ['rate', 'R(Z½)', 4],
    ['rate_reduction', 'ΔR(Z½)', 4],
    ['zero_fraction', 'zeros', 4],
    ['l1', '‖Z‖₁', 2],
  ];
  const cell = (name: StatsSeries, l: number, digits: number) => `${fixed(summary[name].mean[l], digits)} ± ${fixed(summary[name].std[l], digits)}`;
  const depth = summary.rate_official.mean.length;
  const widths = columns.map(([name, title, digits]) => Math.max(title.length, ...Array.from({ length: depth }, (_, l) => cell(name, l, digits).length)));
  const lines = [['layer', ...columns.map(([, title], i) => title.padStart(widths[i]))].join('  ')];
  for (let l = 0; l < depth; l++) lines.push([String(l).padStart(5), ...columns.map(([name, , digits], i) => cell(name, l, digits).padStart(widths[i]))].join('  '));
  return lines;
}

function writeJsonAtomically(path: string, value: unknown): void {
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    writeFileSync(temporary, `${JSON.stringify(value)}\n`);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot write ${path}: ${code === 'ENOENT' ? 'no such directory' : (error as Error).message}`);
  }
}

const list = (values: ArrayLike<number>) => Array.from(values);

export async function runStats(args: StatsArgs, io: CliIo): Promise<void> {
  const model = await loadAnyModelFile(args.model, { onNote: (line) => io.stderr(`note: ${line}\n`) });
  const paths = expandImageArguments(args.inputs);
  // The first image is checked before the (slow) GPU start; the others are read one at a time.
  let next = loadImageFile(paths[0], model);
  const progress = io.stderrIsTTY ? (done: number, label: string) => io.stderr(progressLine(done, paths.length, label)) : undefined;
  const request = { layers: 'all' as const, tensors: STATS_TENSORS };
  let gpu: NodeGpu | undefined;
  let engine: CrateGpuEngine | undefined;
  const perImage: (ImageStats & { path: string; top1: string })[] = [];
  try {
    gpu = await requestNodeGpu((message) => io.stderr(`${message}\n`));
    engine = CrateGpuEngine.create(gpu.device, model);
    io.stdout(`${describeModel(args.model, model)}\nadapter: ${gpu.adapterName}${gpu.software ? ' (software)' : ''}\n${paths.length} image${paths.length === 1 ? '' : 's'}\n`);
    progress?.(0, '');
    let pending = engine.run(next.tensor, request);
    for (let i = 0; i < paths.length; i++) {
      const result = await pending;
      const layers = await readStatsCaptures(model, result);
      // The GPU runs the next image while the CPU analyses this one.
      if (i + 1 < paths.length) {
        next = loadImageFile(paths[i + 1], model);
        pending = engine.run(next.tensor, request);
      }
      const top1 = topClasses(result.logits, model.config.labels, 1)[0].label;
      perImage.push({ path: paths[i], top1, ...imageStats(model, layers, args.epsSquared) });
      progress?.(i + 1, basename(paths[i]));
    }
    if (progress) io.stderr('\n');
  } finally {
    engine?.destroy();
    gpu?.device.destroy();
  }
  const summary = summariseImages(perImage.map((image) => Object.fromEntries(STATS_SERIES.map((name) => [name, image[name]])) as ImageStats));
  io.stdout(`per layer, mean ± std over ${paths.length} image${paths.length === 1 ? '' : 's'} (ε² = ${args.epsSquared} for R^c(Z½), R(Z½), ΔR):\n${formatStatsTable(summary).join('\n')}\n`);
  if (args.json !== undefined) {
    writeJsonAtomically(args.json, {
      model: modelSummary(args.model, model),
      adapter: gpu.adapterName,
      eps_squared: args.epsSquared,
      images: paths.length,
      per_layer: Object.fromEntries(STATS_SERIES.map((name) => [name, { mean: list(summary[name].mean), std: list(summary[name].std) }])),
      per_image: perImage,
    });
    io.stdout(`wrote ${args.json}\n`);
  }
}
