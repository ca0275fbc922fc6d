/**
 * What an exported figure or table says about itself (issue 19, "exports a
 * paper can use"): a one-line caption (model, image, layer, head, query,
 * method and threshold, variant and ε², as applicable) and the provenance
 * (image file and crop box, resize and mean/std, heads assumed for a .pth,
 * engine, adapter, app version). Pure: the views gather the inputs from the
 * store, src/viz/exportFigure.ts writes them into SVG/PNG metadata and
 * src/export/exporters.ts into the CSV/JSON headers.
 */
import { version as APP_VERSION } from '../../package.json';
import { ENGINE_LABELS } from '../engine/runner.ts';
import type { AdapterStatus } from '../runners/adapter.ts';
import { isSoftwareAdapter } from '../runners/adapter.ts';
import { attentionTitle } from '../state/queryNaming.ts';
import type { LocalImage, LocalModelInfo, RunResult } from '../state/store.ts';
import type { DetailView, UrlState } from '../state/urlState.ts';

/** ε² of every coding rate the app plots (docs/MEASUREMENTS.md §2). */
export const EPSILON_SQUARED = 0.01;

/** A figure that can be exported: a detail view, or one of the per-layer charts. */
export type FigureKind = DetailView | 'rate' | 'sparsity' | 'iou';

export interface ProvenanceInput {
  run: RunResult;
  view: Pick<UrlState, 'layer' | 'head' | 'query' | 'seg' | 'p' | 'tau' | 'rate' | 'dataset'>;
  adapter: AdapterStatus;
  /** The upload or drawing the run used, when it used one. */
  localImage?: LocalImage;
  /** The model file the run used, when it used one. */
  localModel?: LocalModelInfo;
  /** The page's link and the time of the export. */
  link: string;
  exportedAt: string;
}

export interface Provenance {
  app: string;
  appVersion: string;
  exportedAt: string;
  link: string;
  model: { id: string; name: string; heads: number; headsAssumed?: string };
  image: { source: string; name: string; cropBox?: string; size: string };
  preprocessing: { resize: string; mean: number[] | null; std: number[] | null };
  engine: string;
  adapter: string;
}

/** The adapter in one line: its name, and that it is the browser's software GPU when it is one. */
export function adapterLine(adapter: AdapterStatus): string {
  if (adapter.status === 'probing') return 'WebGPU adapter not yet known';
  if (adapter.status === 'unavailable') return `no WebGPU adapter (${adapter.reason})`;
  return `${adapter.name}${isSoftwareAdapter(adapter) ? ' (software GPU)' : ''}`;
}

function imageOf(input: ProvenanceInput): Provenance['image'] {
  const { run, localImage } = input;
  const size = `${run.image.width}×${run.image.height}`;
  if (run.source && run.source !== 'sample') {
    const crop = localImage?.crop;
    return {
      source: run.source,
      name: run.inputName ?? localImage?.name ?? (run.source === 'drawing' ? 'drawing' : 'upload'),
      cropBox: crop ? `x ${crop.x}, y ${crop.y}, ${crop.width}×${crop.height} of ${crop.sourceWidth}×${crop.sourceHeight}` : undefined,
      size,
    };
  }
  const own = run.samplesFrom === undefined || run.samplesFrom === run.modelId;
  return { source: 'sample', name: `sample ${run.sampleIndex} of ${own ? run.model.name : `the ${run.samplesFrom} set`}`, size };
}

function resizeOf(input: ProvenanceInput): string {
  const { run } = input;
  const [h, w] = run.model.imageSize;
  const upload = run.source === 'upload' ? 'crop resampled by area averaging (src/image/resample.ts), then ' : '';
  const same = run.image.width === w && run.image.height === h;
  return `${upload}${same ? `no resize (already ${w}×${h})` : `bilinear ${run.image.width}×${run.image.height} → ${w}×${h}`}; pixels on [0, 1], then (x − mean)/std per channel`;
}

export function provenanceOf(input: ProvenanceInput): Provenance {
  const { run, localModel } = input;
  const local = localModel && localModel.key === run.modelId ? localModel : undefined;
  return {
    app: 'CRATE Explorer',
    appVersion: APP_VERSION,
    exportedAt: input.exportedAt,
    link: input.link,
    model: {
      id: run.model.id,
      name: run.model.name,
      heads: run.model.heads,
      headsAssumed: local ? `${local.heads} heads, ${local.configFrom === 'file' ? "from the file's config" : 'inferred from the weight shapes'} (${local.format} file ${local.name})` : undefined,
    },
    image: imageOf(input),
    preprocessing: { resize: resizeOf(input), mean: run.model.mean ?? null, std: run.model.std ?? null },
    engine: ENGINE_LABELS[run.engine],
    adapter: adapterLine(input.adapter),
  };
}

/** "key: value" lines, the form of the CSV header, the SVG <desc> and the PNG text. */
export function provenanceLines(p: Provenance): string[] {
  const lines = [
    `app: ${p.app} ${p.appVersion}`,
    `exported: ${p.exportedAt}`,
    `link: ${p.link}`,
    `model: ${p.model.name} (${p.model.id}), ${p.model.heads} heads`,
  ];
  if (p.model.headsAssumed) lines.push(`heads assumed: ${p.model.headsAssumed}`);
  lines.push(`image: ${p.image.name} (${p.image.source}, ${p.image.size})`);
  if (p.image.cropBox) lines.push(`crop box: ${p.image.cropBox}`);
  lines.push(
    `resize: ${p.preprocessing.resize}`,
    `mean: ${p.preprocessing.mean ? p.preprocessing.mean.join(', ') : 'unknown'}; std: ${p.preprocessing.std ? p.preprocessing.std.join(', ') : 'unknown'}`,
    `engine: ${p.engine}`,
    `adapter: ${p.adapter}`,
  );
  return lines;
}

const FIGURE_TITLES: Partial<Record<FigureKind, string>> = {
  attention: 'Attention maps',
  segmentation: 'Segmentation from class-token attention',
  histogram: 'Histogram of the ISTA output Z^(ℓ+1)',
  pca: 'PCA of the head projections W',
  objective: 'Objective staircase: Rᶜ under U^ℓ across MSSA, LASSO across ISTA',
  coherence: 'Head coherence ‖Q_kᵀQ_j‖²/dh with the random reference dh/d',
  heads: 'Class-token attention of each head on sample images',
  rate: 'Coding rate per layer',
  sparsity: 'Sparsity ‖Z^(ℓ+1)‖₀/(d·N) per layer',
  iou: 'Segmentation IoU per layer',
};

/** "top 60% of patches" or "attention mass τ = 0.6". */
export function methodLabel(view: Pick<UrlState, 'seg' | 'p' | 'tau'>): string {
  return view.seg === 'top' ? `top ${Math.round(view.p * 100)}% of patches` : `attention mass τ = ${view.tau}`;
}

/** The variant's name as the charts use it. */
export function rateVariantLabel(rate: UrlState['rate']): string {
  return rate === 'official' ? 'Rᶜ official (MSSA input)' : 'paper formula on Z^(ℓ+½)';
}

/** One caption line: what the figure shows, with every setting it depends on. */
export function figureCaption(kind: FigureKind, input: ProvenanceInput, gridWidth: number): string {
  const { run, view } = input;
  const parts = [FIGURE_TITLES[kind] ?? `${kind[0].toUpperCase()}${kind.slice(1)}`, `model ${run.model.name}`, `image ${imageOf(input).name}`];
  const perLayer = kind === 'rate' || kind === 'sparsity' || kind === 'iou';
  if (!perLayer) parts.push(`layer ${view.layer}`);
  if (kind === 'attention') parts.push(attentionTitle(view.head, view.query, gridWidth));
  if (kind === 'segmentation') parts.push(view.head === 'mean' ? 'all heads' : `head ${view.head}`, methodLabel(view));
  if (kind === 'iou') parts.push(`best head, ${methodLabel(view)}`);
  if (kind === 'histogram') parts.push('exact zeros apart, positive values in log bins');
  if (kind === 'rate') parts.push(`variant: ${rateVariantLabel(view.rate)}`, `ε² = ${EPSILON_SQUARED}`);
  if (perLayer && view.dataset) parts.push('with the dataset mean ± std');
  return parts.join('; ');
}

/** Text a PNG tEXt chunk can hold (ISO 8859-1): common symbols spelled out, anything else as \uXXXX. */
export function latin1(text: string): string {
  const spelled: Record<string, string> = { 'ℓ': 'l', 'ᶜ': '^c', 'ε': 'eps', '²': '^2', 'τ': 'tau', '‖': '||', '₀': '_0', '½': '1/2', '→': '->', '−': '-', '·': '*', 'Δ': 'Delta' };
  return Array.from(text, (c) => spelled[c] ?? (c.charCodeAt(0) <= 0xff ? c : `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`)).join('');
}
