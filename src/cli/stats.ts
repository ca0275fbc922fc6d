/**
 * `crate-explorer stats MODEL DIR|GLOB|IMAGE... [--json OUT.json]`: the dataset
 * view of docs/MEASUREMENTS.md §2 from the command line. Every image goes through the
 * GPU engine; per layer it computes the official R^c of the MSSA input, the
 * paper's R^c(Z^{ℓ+½}; U), R(Z^{ℓ+½}), ΔR and the sparsity of Z^{ℓ+1}, and
 * each layer as an optimisation step (§2.1: R^c of the MSSA output, the LASSO
 * objective before and after ISTA, the mean off-diagonal head coherence), then
 * prints and writes their mean ± std over the images: the sample std (n − 1)
 * for coding rates, the population std (n) for the others (§2, dataset mode).
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { OFFICIAL_EPS_SQUARED } from '../analysis/codingRate.ts';
import { meanOffDiagonal } from '../analysis/coherence.ts';
import { summariseImages, type MeanStdSeries } from '../analysis/dataset.ts';
import type { CaptureTensor } from '../engine/gpu/capture.ts';
import { CrateGpuEngine, type RunResult } from '../engine/gpu/engine.ts';
import type { CrateModel } from '../engine/model.ts';
import { requestNodeGpu, type NodeGpu } from '../engine/node/nodeGpu.ts';
import { analyseImageOutputs, type ImageLayerFigures } from '../analysis/analyseRun.ts';
import type { CliIo } from './cli.ts';
import { CliError, UsageError } from './errors.ts';
import { checkFiniteLayer, checkFiniteLogits, NonFiniteError } from './finite.ts';
import { expandGlob, hasWildcard } from './glob.ts';
import { loadImageFile, type LoadedImage } from './images.ts';
import { loadAnyModelFile } from './loadModel.ts';
import { writeOutputFile } from './outputFile.ts';
import { describeModel, modelSummary } from './report.ts';
import { printable } from './terminalText.ts';

export const STATS_USAGE = `Usage: crate-explorer stats MODEL DIR|GLOB|IMAGE... [--json OUT.json] [--eps-squared E]

Runs every image of a set through the WebGPU engine and prints, per layer,
the mean ± std over the images of: the official coding rate R^c of the MSSA
input; the paper's R^c(Z^{l+1/2}; U), R(Z^{l+1/2}) and the rate reduction
R - R^c; the zero fraction and the l1 norm of the ISTA output Z^{l+1}.

  MODEL              a CRATE model: a project .onnx file, a .safetensors file,
                     or a PyTorch checkpoint (.pth, .pt, .pth.tar); see
                     'crate-explorer run --help'
  DIR                every .png, .jpg, .jpeg and .npy file in it (not recursive)
  GLOB               a quoted pattern with * ? or ** (e.g. 'data/**/*.png')
  IMAGE              a PNG, JPEG or (C, H, W) float32 .npy file
  --json OUT.json    also write the means, stds and every image's values
  --eps-squared E    epsilon^2 of the paper-formula rates (default 0.01)
  -h, --help         show this help

An image that cannot be read, or whose forward pass produces a NaN or an
infinity, is reported on stderr and listed under "failed" in the JSON; the
others still run, and the exit status is then 1.

A progress bar goes to stderr when it is a terminal.
`;

/** Per-layer series of one image; the keys are the JSON's names. */
const STATS_SERIES = [
  'rate_official',
  'rate_compressed',
  'rate',
  'rate_reduction',
  'zero_fraction',
  'l1',
  'rate_mssa_out',
  'lasso_before',
  'lasso_after',
  'head_coherence_off_diagonal',
] as const;
/** The coding rates: their std is the sample std (n − 1), as the official coding-rate plot's (docs/MEASUREMENTS.md §2). */
export const STATS_SAMPLE_STD: readonly StatsSeries[] = ['rate_official', 'rate_compressed', 'rate', 'rate_reduction', 'rate_mssa_out'];
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

/**
 * Reads what the statistics need from one run; done before the next run
 * reuses the buffers. A NaN or an infinity throws NonFiniteError (finite.ts).
 */
async function readStatsCaptures(model: CrateModel, result: RunResult): Promise<StatsCaptures[]> {
  const layers: StatsCaptures[] = [];
  for (let l = 0; l < model.config.depth; l++) {
    const layer = { w: await result.captures.read(l, 'w'), zHalf: await result.captures.read(l, 'zHalf'), zNext: await result.captures.read(l, 'zNext') };
    checkFiniteLayer(l, Object.entries(layer) as [keyof StatsCaptures, Float32Array][]);
    layers.push(layer);
  }
  checkFiniteLogits(result.logits);
  return layers;
}

/** One image's per-layer values (docs/MEASUREMENTS.md §2, §2.1), from its captured tensors, through the analysis entry point. */
function imageStats(model: CrateModel, logits: Float32Array, layers: readonly StatsCaptures[], epsSquared: number): { top1: string } & ImageStats {
  const figures = analyseImageOutputs(model, { logits, layers }, { epsSquared, expansionRate: true, topK: 1 });
  const per = (pick: (layer: ImageLayerFigures) => number) => figures.layers.map(pick);
  return {
    top1: figures.top[0].label,
    rate_official: per((l) => l.codingRate),
    rate_compressed: per((l) => l.paperRate!),
    rate: per((l) => l.expansionRate!),
    rate_reduction: per((l) => l.expansionRate! - l.paperRate!),
    zero_fraction: per((l) => l.sparseCode.zeroFraction),
    l1: per((l) => l.sparseCode.l1),
    rate_mssa_out: per((l) => l.rateMssaOut),
    lasso_before: per((l) => l.lassoBefore!),
    lasso_after: per((l) => l.lassoAfter!),
    head_coherence_off_diagonal: per((l) => meanOffDiagonal(l.headCoherence.matrix, model.config.heads)),
  };
}

/** `[#####-----] 3/10 name` on one terminal line, redrawn in place. */
export function progressLine(done: number, total: number, label: string, width = 30): string {
  const filled = Math.round((width * done) / total);
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${printable(label)}`.slice(0, 200) + '\x1b[K';
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

function formatStatsTable(summary: Record<StatsSeries, MeanStdSeries>): string[] {
  const columns: [StatsSeries, string, number][] = [
    ['rate_official', 'R^c official', 4],
    ['rate_compressed', 'R^c(Z½)', 4],
    ['rate', 'R(Z½)', 4],
    ['rate_reduction', 'ΔR(Z½)', 4],
    ['zero_fraction', 'zeros', 4],
    ['l1', '‖Z‖₁', 2],
    ['rate_mssa_out', 'R^c MSSA out', 4],
    ['lasso_before', 'LASSO before', 4],
    ['lasso_after', 'LASSO after', 4],
    ['head_coherence_off_diagonal', 'head coherence', 4],
  ];
  const cell = (name: StatsSeries, l: number, digits: number) => `${fixed(summary[name].mean[l], digits)} ± ${fixed(summary[name].std[l], digits)}`;
  const depth = summary.rate_official.mean.length;
  const widths = columns.map(([name, title, digits]) => Math.max(title.length, ...Array.from({ length: depth }, (_, l) => cell(name, l, digits).length)));
  const lines = [['layer', ...columns.map(([, title], i) => title.padStart(widths[i]))].join('  ')];
  for (let l = 0; l < depth; l++) lines.push([String(l).padStart(5), ...columns.map(([name, , digits], i) => cell(name, l, digits).padStart(widths[i]))].join('  '));
  return lines;
}

const list = (values: ArrayLike<number>) => Array.from(values);

/** An image that gave no result, and why. */
interface FailedImage {
  path: string;
  error: string;
}

/** An image that cannot be read is a result of the set (listed as failed); anything else stops the command. */
const isImageFailure = (error: unknown): error is CliError => error instanceof CliError;

export async function runStats(args: StatsArgs, io: CliIo): Promise<void> {
  const model = await loadAnyModelFile(args.model, { onNote: (line) => io.stderr(`note: ${line}\n`) });
  const paths = expandImageArguments(args.inputs);
  const draw = io.terminal ?? io.stderr;
  const progress = io.stderrIsTTY ? (done: number, label: string) => draw(progressLine(done, paths.length, label)) : undefined;
  const failed: FailedImage[] = [];
  const fail = (path: string, error: CliError) => {
    failed.push({ path, error: error.message });
    const line = `${error.message.includes(path) ? '' : `${path}: `}${error.message}`;
    io.stderr(`${progress ? '\n' : ''}crate-explorer: ${printable(line)}\n`); // one line, whatever the file name holds
  };
  /** The first readable image from index `from` on, recording those that are not; index paths.length when none is left. */
  const loadFrom = (from: number): { index: number; image?: LoadedImage } => {
    for (let i = from; i < paths.length; i++) {
      try {
        return { index: i, image: loadImageFile(paths[i], model) };
      } catch (error) {
        if (!isImageFailure(error)) throw error;
        fail(paths[i], error);
      }
    }
    return { index: paths.length };
  };
  // The first readable image is found before the (slow) GPU start; the others are read one at a time.
  let current = loadFrom(0);
  if (!current.image) throw new CliError(`none of the ${paths.length} image${paths.length === 1 ? '' : 's'} could be read`);
  const request = { layers: 'all' as const, tensors: STATS_TENSORS };
  let gpu: NodeGpu | undefined;
  let engine: CrateGpuEngine | undefined;
  const perImage: (ImageStats & { path: string; top1: string })[] = [];
  try {
    gpu = await requestNodeGpu((message) => io.stderr(`${message}\n`));
    engine = CrateGpuEngine.create(gpu.device, model);
    io.stdout(`${describeModel(printable(args.model), model)}\nadapter: ${gpu.adapterName}${gpu.software ? ' (software)' : ''}\n${paths.length} image${paths.length === 1 ? '' : 's'}\n`);
    progress?.(0, '');
    let pending = engine.run(current.image.tensor, request);
    while (current.image) {
      const result = await pending;
      let layers: StatsCaptures[] | undefined;
      try {
        layers = await readStatsCaptures(model, result);
      } catch (error) {
        if (!(error instanceof NonFiniteError)) throw error;
        fail(current.image.path, error);
      }
      // The GPU runs the next image while the CPU analyses this one.
      const following = loadFrom(current.index + 1);
      if (following.image) pending = engine.run(following.image.tensor, request);
      if (layers) {
        perImage.push({ path: current.image.path, ...imageStats(model, result.logits, layers, args.epsSquared) });
      }
      progress?.(following.index, basename(current.image.path));
      current = following;
    }
    if (progress) io.stderr('\n');
  } finally {
    engine?.destroy();
    gpu?.device.destroy();
  }
  const count = (n: number) => `${n} image${n === 1 ? '' : 's'}`;
  const summary = perImage.length > 0 ? summariseImages(perImage.map((image) => Object.fromEntries(STATS_SERIES.map((name) => [name, image[name]])) as ImageStats), STATS_SAMPLE_STD) : undefined;
  if (summary) {
    io.stdout(`per layer, mean ± std over ${count(perImage.length)} (ε² = ${args.epsSquared} for R^c(Z½), R(Z½), ΔR):\n${formatStatsTable(summary).join('\n')}\n`);
  } else io.stdout('no image gave a result\n');
  if (args.json !== undefined) {
    writeOutputFile(
      args.json,
      `${JSON.stringify({
        model: modelSummary(args.model, model),
        adapter: gpu.adapterName,
        eps_squared: args.epsSquared,
        sample_std: STATS_SAMPLE_STD,
        images: perImage.length,
        per_layer: summary ? Object.fromEntries(STATS_SERIES.map((name) => [name, { mean: list(summary[name].mean), std: list(summary[name].std) }])) : null,
        per_image: perImage,
        failed,
      })}\n`,
    );
    io.stdout(`wrote ${printable(args.json)}\n`);
  }
  if (failed.length > 0) throw new CliError(`${failed.length} of ${count(paths.length)} gave no result (listed above${args.json === undefined ? '' : ' and in the JSON'})`);
}
