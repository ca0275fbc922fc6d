/** The command's two outputs: lines for people, and a JSON file for programs. */
import type { ModelDescription } from '../engine/alphaModel.ts';
import type { AnyCrateConfig } from '../engine/config.ts';
import { defaultPreprocessing, describePreprocessing } from '../engine/preprocess.ts';
import { captureShapes, type ImageReport } from './analyse.ts';
import { openOutputFile, type OutputFile } from './outputFile.ts';

export function describeModel(path: string, model: ModelDescription): string {
  const { config, shape } = model;
  return (
    `model: ${path} (${config.arch === 'crate-alpha' ? `CRATE-α, ratio ${config.ratio}, ` : ''}${config.channels}×${shape.imageHeight}×${shape.imageWidth}, patch ${config.patch_size}, ` +
    `d ${config.dim}, ${config.depth} layers, ${config.heads} heads × ${config.dim_head}, ${shape.tokens} tokens, ${config.num_classes} classes)`
  );
}

/** The per-image block of the printed report. */
export function formatImageReport(path: string, report: ImageReport, arch: AnyCrateConfig['arch'] = 'crate'): string[] {
  const alpha = arch === 'crate-alpha';
  const width = Math.max(...report.top5.map((c) => c.label.length));
  const lines = [`image: ${path}`, '  top-5 classes (softmax probability):'];
  report.top5.forEach((c, i) => lines.push(`    ${i + 1}. ${c.label.padEnd(width)}  ${c.probability.toFixed(6)}`));
  lines.push(`  per layer: official coding rate R^c of the MSSA input, zero fraction of ${alpha ? 'the sparse code z2' : 'Z^{l+1}'}:`);
  const digits = String(report.rateOfficial.length - 1).length;
  const layer = (l: number) => `    layer ${String(l).padStart(digits)}`;
  report.rateOfficial.forEach((rate, l) => lines.push(`${layer(l)}  rate ${rate.toFixed(4).padStart(10)}  zeros ${report.zeroFraction[l].toFixed(4)}`));
  if (alpha) {
    // docs/MEASUREMENTS.md §2.1's LASSO step is CRATE's; CRATE-α's block is not that step (analyse.ts).
    lines.push('  per layer: R^c of the MSSA output (same U); the LASSO before/after ISTA is not defined for CRATE-α:');
    report.rateMssaOut.forEach((rate, l) => lines.push(`${layer(l)}  rate out ${rate.toFixed(4).padStart(10)}`));
    return lines;
  }
  lines.push('  per layer, each step under its own weights: R^c of the MSSA output (same U), LASSO objective before -> after ISTA:');
  report.rateMssaOut.forEach((rate, l) =>
    lines.push(`${layer(l)}  rate out ${rate.toFixed(4).padStart(10)}  lasso ${report.lassoBefore[l].toFixed(4)} -> ${report.lassoAfter[l].toFixed(4)}`),
  );
  return lines;
}

export function modelSummary(path: string, model: ModelDescription): Record<string, unknown> {
  const { config, shape } = model;
  return {
    path,
    ...(config.arch === 'crate-alpha' ? { arch: config.arch, ratio: config.ratio } : {}),
    image_size: [shape.imageHeight, shape.imageWidth],
    patch_size: config.patch_size,
    channels: config.channels,
    dim: config.dim,
    depth: config.depth,
    heads: config.heads,
    dim_head: config.dim_head,
    tokens: shape.tokens,
    num_classes: config.num_classes,
    eta: config.eta,
    lambda: config.lambda,
    // docs/MEASUREMENTS.md §2.1: the off-diagonal head coherence of independent random subspaces.
    head_coherence_random_reference: config.dim_head / config.dim,
    pool: config.pool,
    mean: config.mean,
    std: config.std,
    preprocessing: describePreprocessing(defaultPreprocessing(config), config),
  };
}

const list = (values: ArrayLike<number>) => Array.from(values);
/** A row-major K×K matrix as K rows. */
const rows = (matrix: ArrayLike<number>, k: number) => Array.from({ length: k }, (_, i) => Array.from(matrix).slice(i * k, (i + 1) * k));

/**
 * Writes `{ model, adapter, images: [...] }` one image at a time (captures of
 * big models would not fit in one string), through openOutputFile: a
 * temporary file renamed over a regular target only when everything was
 * written; links, devices and the command's own stdout are written through.
 */
export class JsonReportWriter {
  private readonly file: OutputFile;
  private images = 0;

  constructor(
    path: string,
    private readonly model: ModelDescription,
  ) {
    this.file = openOutputFile(path);
  }

  private write(text: string): void {
    this.file.write(text);
  }

  begin(modelPath: string, adapter: string): void {
    this.write(`{"model":${JSON.stringify(modelSummary(modelPath, this.model))},"adapter":${JSON.stringify(adapter)},"images":[`);
  }

  addImage(path: string, report: ImageReport): void {
    const entry = {
      path,
      logits: list(report.logits),
      top5: report.top5,
      rate_official: report.rateOfficial,
      sparsity_zero_fraction: report.zeroFraction,
      rate_mssa_out: report.rateMssaOut,
      lasso_before: report.lassoBefore,
      lasso_after: report.lassoAfter,
      head_coherence: report.headCoherence.map((matrix) => rows(matrix, this.model.config.heads)),
      cls_attention: report.clsAttention.map((heads) => heads.map(list)),
    };
    let text = JSON.stringify(entry);
    if (report.captures) {
      // Same object, one more key, written layer by layer.
      this.write(`${this.images > 0 ? ',' : ''}${text.slice(0, -1)},"captures":{"shapes":${JSON.stringify(captureShapes(this.model))},"layers":[`);
      report.captures.forEach((layer, l) => {
        const flat = Object.fromEntries(Object.entries(layer).map(([name, values]) => [name, list(values)]));
        this.write(`${l > 0 ? ',' : ''}${JSON.stringify(flat)}`);
      });
      text = ']}}';
    } else if (this.images > 0) {
      text = `,${text}`;
    }
    this.write(text);
    this.images++;
  }

  /** An image that gave no result (e.g. a NaN activation): its path and why, in place of its values. */
  addFailedImage(path: string, error: string): void {
    this.write(`${this.images > 0 ? ',' : ''}${JSON.stringify({ path, error })}`);
    this.images++;
  }

  finish(): void {
    this.write(']}\n');
    this.file.commit();
  }

  /** Leaves no partial file behind (where the target was a temporary file). */
  abandon(): void {
    this.file.abandon();
  }
}
