/**
 * Pure serialisers for the "export" buttons: the per-layer numbers of the
 * current run as CSV and JSON, and file names. No DOM here (the PNG/SVG
 * figure export lives in src/viz/exportFigure.ts), so these are unit-tested
 * in Node (test/unit/exporters.test.ts).
 */
import { expansionRates, iouSeries } from '../state/derived.ts';
import type { DatasetStats, RunResult } from '../state/store.ts';
import type { Provenance } from './provenance.ts';
import { queryFileTag } from '../state/queryNaming.ts';
import type { DetailView, SegmentationMethod, UrlState } from '../state/urlState.ts';

export interface Column {
  key: string;
  /** What the number is, with its unit; becomes the CSV header and JSON's "columns" description. */
  label: string;
}

export interface LayerTable {
  columns: Column[];
  /** One row per layer; a missing value is undefined (an empty CSV cell, JSON null). */
  rows: Record<string, number | undefined>[];
}

export interface TableOptions {
  method: SegmentationMethod;
  fraction: number;
  /** Dataset statistics to add as mean/std columns (only when they belong to this run's model). */
  dataset?: DatasetStats;
}

/**
 * Every per-layer figure the overview charts plot (docs/MEASUREMENTS.md §2): official
 * R^c, sparsity, R(Z^{ℓ+½}), the paper R^c where the run carries it, the IoU
 * columns where the sample has a ground-truth mask, and dataset mean ± std.
 */
export function layerTable(run: RunResult, options: TableOptions): LayerTable {
  const columns: Column[] = [
    { key: 'layer', label: 'layer' },
    { key: 'codingRate', label: 'R^c official, MSSA input (nats)' },
    { key: 'sparsity', label: '||Z^{l+1}||_0/(dN)' },
    { key: 'rateZHalf', label: 'R(Z^{l+1/2}) paper formula (nats)' },
  ];
  const expansion = run.outputs.layers.length === run.layers.length ? expansionRates(run) : undefined;
  const paper = run.layers.map((l) => l.paperRate);
  const hasPaper = paper.every((v) => typeof v === 'number');
  if (hasPaper) columns.push({ key: 'paperRate', label: 'R^c(Z^{l+1/2}; U) paper formula (nats)' });
  const ious = iouSeries(run, options.method, options.fraction);
  const what = `${options.method === 'top' ? 'top-P' : 'mass tau'} = ${options.fraction}`;
  if (typeof ious !== 'string') {
    columns.push(
      { key: 'iouBest', label: `IoU best head (${what})` },
      { key: 'iouBestHead', label: 'best head' },
      { key: 'iouUnion', label: `IoU union of heads (${what})` },
    );
  }
  const stats = options.dataset && options.dataset.modelId === run.modelId && options.dataset.layers.length === run.layers.length ? options.dataset : undefined;
  if (stats) {
    for (const [key, label] of [
      ['codingRate', 'R^c official'],
      ['paperRate', 'R^c paper'],
      ['sparsity', 'sparsity'],
      ['iou', 'IoU best head'],
    ] as const) {
      if (stats.layers.every((l) => l[key])) {
        columns.push({ key: `${key}Mean`, label: `${label}, mean of ${stats.count} images` }, { key: `${key}Std`, label: `${label}, std of ${stats.count} images` });
      }
    }
  }
  const rows = run.layers.map((l, i) => {
    const row: Record<string, number | undefined> = { layer: l.layer, codingRate: l.codingRate, sparsity: l.sparsity, rateZHalf: expansion?.[i] };
    if (hasPaper) row.paperRate = paper[i];
    if (typeof ious !== 'string') {
      row.iouBest = ious.best[i];
      row.iouBestHead = ious.heads[i];
      row.iouUnion = ious.union[i];
    }
    if (stats) {
      const s = stats.layers[i];
      for (const key of ['codingRate', 'paperRate', 'sparsity', 'iou'] as const) {
        const value = s[key];
        if (columns.some((c) => c.key === `${key}Mean`) && value) {
          row[`${key}Mean`] = value.mean;
          row[`${key}Std`] = value.std;
        }
      }
    }
    return row;
  });
  return { columns, rows };
}

/** A CSV field per RFC 4180; text that a spreadsheet would run as a formula is prefixed with ' (CSV injection). */
export function csvField(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The table as CSV: the provenance as '#' comment lines (issue 19; readers
 * such as pandas take them with comment='#'), a header of labels, then one
 * line per layer, full float precision, CRLF line ends.
 */
export function tableToCsv(table: LayerTable, provenance: readonly string[] = []): string {
  const lines = provenance.map((line) => `# ${line.replace(/[\r\n]+/g, ' ')}`);
  lines.push(table.columns.map((c) => csvField(c.label)).join(','));
  for (const row of table.rows) lines.push(table.columns.map((c) => csvField(row[c.key])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export interface ExportContext {
  /** The page's link (location.href), so a file says where its numbers came from. */
  link: string;
  view: Partial<UrlState>;
  run: RunResult;
  /** ISO time of the export. */
  exportedAt: string;
  /** Image, preprocessing, heads, engine, adapter and app version (src/export/provenance.ts). */
  provenance?: Provenance;
}

/** The table as JSON with what produced it: model, sample, engine, view state, link. Non-finite numbers become null. */
export function tableToJson(table: LayerTable, context: ExportContext): string {
  const { run } = context;
  const document = {
    format: 'crate-explorer/layers@1',
    exportedAt: context.exportedAt,
    link: context.link,
    model: { id: run.model.id, name: run.model.name, tokens: run.model.tokens, dim: run.model.dim, depth: run.model.depth, heads: run.model.heads, dimHead: run.model.dimHead },
    sample: { index: run.sampleIndex, label: run.label ?? null },
    engine: run.engine,
    provenance: context.provenance ?? null,
    view: context.view,
    columns: table.columns,
    layers: table.rows.map((row) => Object.fromEntries(table.columns.map((c) => [c.key, finiteOrNull(row[c.key])]))),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

function finiteOrNull(value: number | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * A file name for an export: crate-<model>-s<sample>[-l<layer>]-<what>[-<tag>…].<ext>.
 * The tags make the name unique per view (issue 19: a second head's export
 * must not overwrite the first): head, query token, segmentation method,
 * coding-rate variant, as `figureFileTags` gives them. The model id may be a
 * URL from a link (untrusted), so only [A-Za-z0-9._-] survive and the name is bounded.
 */
export function exportFileName(parts: { model: string; sample: number; layer?: number; what: string; tags?: readonly string[] }, extension: 'png' | 'svg' | 'csv' | 'json'): string {
  const clean = (text: string) => text.replace(/^https?:\/\//, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/\.{2,}/g, '.').replace(/^[-.]+|[-.]+$/g, '').slice(0, 48) || 'model';
  const layer = parts.layer === undefined ? '' : `-l${parts.layer}`;
  const tags = (parts.tags ?? []).map((t) => `-${clean(t)}`).join('');
  return `crate-${clean(parts.model)}-s${parts.sample}${layer}-${clean(parts.what)}${tags}.${extension}`;
}

/** What a figure depends on besides model, sample and layer: the tags of its file name. */
export function figureFileTags(what: DetailView | 'layers', view: Pick<UrlState, 'head' | 'query' | 'seg' | 'p' | 'tau' | 'rate'>): string[] {
  const head = view.head === 'mean' ? 'hmean' : `h${view.head}`;
  const method = view.seg === 'top' ? `top${Math.round(view.p * 100)}` : `mass${Math.round(view.tau * 100)}`;
  switch (what) {
    case 'attention':
      return [head, queryFileTag(view.query)];
    case 'segmentation':
      return [head, method];
    case 'layers':
      return [`rate-${view.rate}`, method];
    default:
      return [];
  }
}
