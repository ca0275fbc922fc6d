/** `crate-explorer`: argument parsing and the `run` command. See src/cli/README.md. */
import { parseArgs } from 'node:util';
import { checkSupported, CrateGpuEngine } from '../engine/gpu/engine.ts';
import { requestNodeGpu, type NodeGpu } from '../engine/node/nodeGpu.ts';
import { CPU_NOTE, imageReport, imageReportOnGpu, type ImageReport } from './analyse.ts';
import { CliError, UsageError } from './errors.ts';
import { NonFiniteError } from './finite.ts';
import { loadImageFile, type LoadedImage } from './images.ts';
import { isAlphaModel, type AnyCrateModel } from '../engine/alphaModel.ts';
import { atImageSize, runCost } from '../engine/posEmbedding.ts';
import { defaultPreprocessing, describePreprocessing } from '../engine/preprocess.ts';
import { alphaCpuForward } from '../engine/cpu/alphaReference.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import { AlphaGpuEngine } from '../engine/gpu/alphaEngine.ts';
import { isPthPath, loadAnyFamilyModelFile } from './loadModel.ts';
import { describeModel, formatImageReport, JsonReportWriter } from './report.ts';
import { parseStatsCommandLine, runStats, STATS_USAGE } from './stats.ts';
import { printable, printableLines } from './terminalText.ts';

const USAGE = `Usage: crate-explorer run MODEL IMAGE... [--json OUT.json] [--capture all] [--heads N] [--size S|HxW]

Runs a CRATE model with the WebGPU engine (Dawn; the SwiftShader software
driver when there is no GPU driver) and prints, for each image, the top-5
classes and, for each layer, the official coding rate R^c of the MSSA input,
the fraction of exact zeros in the ISTA output Z^{l+1}, and the layer as an
optimisation step: R^c of the MSSA output, the LASSO objective before and
after the ISTA step, and the coherence of the heads' subspaces.

  MODEL            a CRATE model: a project .onnx file (config in its
                   metadata; the WGSL engine runs its weights), a .safetensors
                   file (config in its metadata, or inferred from the tensor
                   shapes), or a PyTorch checkpoint (.pth, .pt, .pth.tar:
                   official CRATE state dict, or CRATE-alpha's plain state
                   dict; read without Python, config inferred from the
                   weights). Both families run on the WebGPU engine, or
                   on the CPU reference where dim or dim_head is not a
                   multiple of 4 (said in a note); CRATE-alpha's sparsity is
                   the zero fraction of its sparse code z2
  IMAGE            a PNG or JPEG image (for a 3-channel 224x224 model the
                   ImageNet evaluation transform: shorter side to 256,
                   centre 224 crop; otherwise resized to the model's size;
                   then normalised as the model's config says; the command
                   prints which), or a float32 .npy array of shape (C, H, W),
                   used as the model input as it is
  --json OUT.json  also write logits, top-5, rates, zero fractions and the
                   class token's attention rows to OUT.json
  --capture all    with --json: also write every layer's Z, W, A, Z^{l+1/2}
                   and Z^{l+1} (row-major, shapes given in the file)
  --size S|HxW     run at S×S or H×W pixels (a multiple of the patch size)
                   for finer attention maps: the positional embedding is
                   interpolated bicubically (DINO's interpolate_pos_encoding)
  --heads N        with a .pth MODEL: the number of attention heads (not
                   stored in the weights; default: the official value for
                   the width, e.g. 6 for d = 384; CRATE-alpha B/16 12,
                   L/14 16)
  -h, --help       show this help

An image whose forward pass produces a NaN or an infinity is reported as its
result ("layer 3 produced NaN in ..."); the other images still run.

Exit status: 0 on success, 1 on an error (unreadable or invalid file, no GPU
adapter, wrong image shape) or when an image gave no result, 2 on bad usage.

       crate-explorer stats MODEL DIR|GLOB|IMAGE... [--json OUT.json]
per-layer mean ± std over an image set; 'crate-explorer stats --help' for more.
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: progress bars are drawn on it. */
  stderrIsTTY?: boolean;
  /** stderr without escaping, for the progress bar's own \r and ESC[K (its text escaped by progressLine). */
  terminal?: (text: string) => void;
}

/** Everything printed through `io` has its control characters escaped (terminalText.ts), line feeds kept. */
function printableIo(io: CliIo): CliIo {
  return {
    stdout: (text) => io.stdout(printableLines(text)),
    stderr: (text) => io.stderr(printableLines(text)),
    stderrIsTTY: io.stderrIsTTY,
    terminal: io.stderr,
  };
}

interface RunArgs {
  model: string;
  images: string[];
  json?: string;
  captureAll: boolean;
  heads?: number;
  /** --size: run at this [height, width] (a multiple of the patch size), the positional embedding interpolated. */
  size?: [number, number];
}

type Parsed = { help: true } | ({ help: false } & RunArgs);

export function parseCommandLine(argv: readonly string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'string' },
        capture: { type: 'string' },
        heads: { type: 'string' },
        size: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // Node's messages run on with advice about '--'; the first sentence is the point.
    const message = (error as Error).message;
    throw new UsageError(message.split(/\.\s/)[0].replace(/^Unknown option/, 'unknown option'));
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') return { help: true };
  if (positionals.length === 0) throw new UsageError('no command given');
  const [command, model, ...images] = positionals;
  if (command !== 'run') throw new UsageError(`unknown command ${JSON.stringify(command)} (the commands are "run" and "stats")`);
  if (model === undefined) throw new UsageError('run needs a MODEL file and at least one IMAGE');
  if (images.length === 0) throw new UsageError('run needs at least one IMAGE after the MODEL file');
  if (values.capture !== undefined && values.capture !== 'all') {
    throw new UsageError(`--capture takes "all", got ${JSON.stringify(values.capture)}`);
  }
  const captureAll = values.capture === 'all';
  if (captureAll && values.json === undefined) throw new UsageError('--capture all only adds to the JSON output; give --json OUT.json too');
  if (values.json === '') throw new UsageError('--json needs a file name');
  return { help: false, model, images, json: values.json, captureAll, heads: parseHeads(values.heads, model), size: parseSize(values.size) };
}

/** `--size 448` or `--size 448x320` (height × width). */
function parseSize(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const m = /^([1-9]\d{0,4})(?:x([1-9]\d{0,4}))?$/.exec(value);
  if (!m) throw new UsageError(`--size takes a side or HEIGHTxWIDTH in pixels, e.g. 448 or 448x320, got ${JSON.stringify(value)}`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function parseHeads(value: string | undefined, model: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,3}$/.test(value)) throw new UsageError(`--heads takes a positive integer, got ${JSON.stringify(value)}`);
  if (!isPthPath(model) && !model.toLowerCase().endsWith('.safetensors')) {
    throw new UsageError('--heads only applies to a .pth checkpoint or a safetensors file without a config (ONNX files carry their config)');
  }
  return Number(value);
}

async function run(args: RunArgs, io: CliIo): Promise<void> {
  // Every file is read and checked before the (slow) GPU start.
  const loaded = await loadAnyFamilyModelFile(args.model, { heads: args.heads, onNote: (line) => io.stderr(`note: ${line}\n`) });
  const model = args.size ? resizedModel(loaded, args.size, io) : loaded;
  const images: LoadedImage[] = args.images.map((path) => loadImageFile(path, model));
  const json = args.json === undefined ? undefined : new JsonReportWriter(args.json, model);
  let gpu: NodeGpu | undefined;
  let engine: CrateGpuEngine | AlphaGpuEngine | undefined;
  try {
    let analyse: (image: Float32Array) => Promise<ImageReport>;
    let adapter: string;
    if (isAlphaModel(model) && !gpuSupported(model, io)) {
      analyse = async (image) => {
        const trace = alphaCpuForward(model, image);
        return imageReport(model, trace.logits, trace.layers, args.captureAll);
      };
      adapter = CPU_NOTE;
    } else if (isAlphaModel(model)) {
      gpu = await requestNodeGpu((message) => io.stderr(`${message}\n`));
      const alphaEngine = (engine = AlphaGpuEngine.create(gpu.device, model));
      analyse = async (image) => {
        const trace = await alphaEngine.trace(image);
        return imageReport(model, trace.logits, trace.layers, args.captureAll);
      };
      adapter = `${gpu.adapterName}${gpu.software ? ' (software)' : ''}`;
    } else if (!gpuSupported(model, io)) {
      analyse = async (image) => {
        const trace = cpuForward(model, image);
        return imageReport(model, trace.logits, trace.layers, args.captureAll);
      };
      adapter = CPU_NOTE;
    } else {
      gpu = await requestNodeGpu((message) => io.stderr(`${message}\n`));
      const crateEngine = (engine = CrateGpuEngine.create(gpu.device, model));
      analyse = (image) => imageReportOnGpu(crateEngine, model, image, args.captureAll);
      adapter = `${gpu.adapterName}${gpu.software ? ' (software)' : ''}`;
    }
    io.stdout(`${describeModel(printable(args.model), model)}\nadapter: ${adapter}\n`);
    if (images.some((image) => image.format !== 'npy')) io.stdout(`preprocessing: ${describePreprocessing(defaultPreprocessing(model.config), model.config)}\n`);
    json?.begin(args.model, gpu?.adapterName ?? adapter);
    let failed = 0;
    for (const image of images) {
      let report: ImageReport;
      try {
        report = await analyse(image.tensor);
      } catch (error) {
        if (!(error instanceof NonFiniteError)) throw error;
        io.stdout(`\nimage: ${printable(image.path)}\n  no result: ${error.message}\n`);
        json?.addFailedImage(image.path, error.message);
        failed++;
        continue;
      }
      const shown = { ...report, top5: report.top5.map((c) => ({ ...c, label: printable(c.label) })) };
      io.stdout(`\n${formatImageReport(printable(image.path), shown, model.config.arch).join('\n')}\n`);
      json?.addImage(image.path, report);
    }
    json?.finish();
    if (json) io.stdout(`\nwrote ${printable(args.json!)}\n`);
    if (failed > 0) throw new CliError(`${failed} of ${images.length} image${images.length === 1 ? '' : 's'} gave no result`);
  } catch (error) {
    json?.abandon();
    throw error;
  } finally {
    engine?.destroy();
    gpu?.device.destroy();
  }
}

/** Shapes the WGSL kernels take run on the GPU; the others on the CPU reference, said in a note. */
function gpuSupported(model: AnyCrateModel, io: CliIo): boolean {
  try {
    checkSupported(model);
    return true;
  } catch (error) {
    io.stderr(`note: ${(error as Error).message}; running on the CPU reference instead\n`);
    return false;
  }
}

/** The model at another image size (finer maps, posEmbedding.ts), with its token count and cost said first. */
function resizedModel(model: AnyCrateModel, [height, width]: [number, number], io: CliIo): AnyCrateModel {
  let resized: AnyCrateModel;
  try {
    resized = atImageSize(model, height, width);
  } catch (error) {
    throw new UsageError(`--size: ${(error as Error).message}`);
  }
  const before = runCost(model, model.shape.imageHeight, model.shape.imageWidth);
  const after = runCost(model, height, width);
  io.stderr(
    `note: running at ${height}×${width}: ${after.tokens} tokens (trained: ${before.tokens}), ${(after.multiplyAdds / 1e9).toFixed(2)} G multiply-adds per image ` +
      `(${(after.multiplyAdds / before.multiplyAdds).toFixed(1)}×); positional embedding interpolated bicubically as DINO's interpolate_pos_encoding\n`,
  );
  return resized;
}

/** Runs the command line; returns the exit status. Errors become one line on stderr. */
export async function runCli(argv: readonly string[], rawIo: CliIo): Promise<number> {
  const io = printableIo(rawIo);
  try {
    if (argv[0] === 'stats') {
      const stats = parseStatsCommandLine(argv.slice(1));
      if (stats.help) io.stdout(STATS_USAGE);
      else await runStats(stats, io);
      return 0;
    }
    const parsed = parseCommandLine(argv);
    if (parsed.help) {
      io.stdout(USAGE);
      return 0;
    }
    await run(parsed, io);
    return 0;
  } catch (error) {
    const exitCode = error instanceof CliError ? error.exitCode : 1;
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
    io.stderr(`crate-explorer: ${message}\n`);
    if (exitCode === 2) io.stderr(`${argv.length === 0 ? USAGE : "Try 'crate-explorer --help'.\n"}`);
    if (process.env.CRATE_EXPLORER_DEBUG && error instanceof Error) io.stderr(`${error.stack}\n`);
    return exitCode;
  }
}
