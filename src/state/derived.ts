/**
 * View figures derived from the store: pure, memoised selectors over a RunResult and the view
 * state, each computed with the same src/analysis function the CLI and the tests use
 * (docs/MEASUREMENTS.md §2; src/analysis/layer.ts computes the same figures of a layer at once).
 *
 * Why selectors: switching layer, head, query token, segmentation method or P/τ must never
 * start a new forward pass (docs/ARCHITECTURE.md: data flows engine → analysis → state →
 * views, one way). The run keeps every layer's tensors, so each figure is a function of
 * (run, a few view fields); it is computed on first use and cached per forward pass, so going
 * back to a layer is instant. The cache is keyed by the run's `outputs` object, not the
 * RunResult: the RunResult is replaced when only the per-layer IoU changes (new P/τ) but the
 * tensors are kept, and a new forward pass brings new tensors and so a new cache (WeakMap),
 * so nothing stale can be shown.
 */
import { attentionMaps, type AttentionMaps, type GridSize } from '../analysis/attention.ts';
import { codingRate } from '../analysis/codingRate.ts';
import { pcaImage, type PcaImage } from '../analysis/pca.ts';
import { meanIoU, scoreSegmentation, segmentHeads, type BestHead, type HeadSegmentation } from '../analysis/segmentation.ts';
import { logHistogram, type LogHistogram } from '../analysis/sparsity.ts';
import { sparseCodeOf, type LayerOutputs } from '../engine/runner.ts';
import type { Series } from '../viz/series.ts';
import type { DatasetStats, MeanStd, RunResult } from './store.ts';
import type { DetailView, HeadChoice, RateVariant, SegmentationMethod, UrlState } from './urlState.ts';

/** Cached figures per run; bounded so a long session of clicking cannot grow without limit. */
const MAX_CACHED_PER_RUN = 256;
const caches = new WeakMap<object, Map<string, unknown>>();

function memo<T>(run: RunResult, key: string, compute: () => T): T {
  let cache = caches.get(run.outputs);
  if (!cache) caches.set(run.outputs, (cache = new Map()));
  if (cache.has(key)) return cache.get(key) as T;
  const value = compute();
  if (cache.size >= MAX_CACHED_PER_RUN) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
  return value;
}

/** The (H/P)×(W/P) patch grid (docs/MEASUREMENTS.md §1 step 1). */
export function gridOf(run: RunResult): GridSize {
  const { imageSize, patchSize } = run.model;
  return { height: Math.floor(imageSize[0] / patchSize), width: Math.floor(imageSize[1] / patchSize) };
}

function imageSizeOf(run: RunResult): GridSize {
  return { height: run.image.height, width: run.image.width };
}

/** The layer's tensors, or why there are none (an engine run without per-layer outputs). */
export function layerOutputs(run: RunResult, layer: number): LayerOutputs | string {
  if (run.outputs.layers.length === 0) return 'this run kept no per-layer tensors';
  if (!Number.isInteger(layer) || layer < 0 || layer >= run.outputs.layers.length) {
    return `layer ${layer} does not exist (the model has ${run.outputs.layers.length})`;
  }
  return run.outputs.layers[layer];
}

/** The fraction of the current segmentation method: P for top-P%, τ for attention mass (docs/MEASUREMENTS.md §2). */
export function segmentationFraction(seg: SegmentationMethod, p: number, tau: number): number {
  return seg === 'top' ? p : tau;
}

/** A head choice the model can show: an index past the last head is refused, not clamped silently. */
export function validHead(run: RunResult, head: HeadChoice): boolean {
  return head === 'mean' || (Number.isInteger(head) && head >= 0 && head < run.model.heads);
}

/** ↑/↓ order of head choices: mean, 0, 1, …, heads−1, wrapping around. */
export function cycleHead(head: HeadChoice, heads: number, step: 1 | -1): HeadChoice {
  const order: HeadChoice[] = ['mean', ...Array.from({ length: heads }, (_, k) => k)];
  const at = Math.max(order.indexOf(head), 0);
  return order[(at + step + order.length) % order.length];
}

// ─── Layer detail ────────────────────────────────────────────────────────────

/** Histogram of Z^{ℓ+1}, or of CRATE-α's sparse code z2 (docs/MEASUREMENTS.md §2, §1.1): zeros apart, positive values in log-spaced bins. */
export function histogramOf(run: RunResult, layer: number): LogHistogram | string {
  const out = layerOutputs(run, layer);
  if (typeof out === 'string') return out;
  return memo(run, `hist:${layer}`, () => logHistogram(sparseCodeOf(out)));
}

/** Attention maps of one query token for every head and their mean (docs/MEASUREMENTS.md §2, attention maps). */
export function attentionOf(run: RunResult, layer: number, query: number): AttentionMaps | string {
  const out = layerOutputs(run, layer);
  if (typeof out === 'string') return out;
  const { tokens, heads } = run.model;
  if (!Number.isInteger(query) || query < 0 || query >= tokens) return `query token ${query} does not exist (N = ${tokens})`;
  return memo(run, `attn:${layer}:${query}`, () => attentionMaps(out.attention, heads, tokens, gridOf(run), query));
}

export interface SegmentationFigure extends HeadSegmentation {
  method: SegmentationMethod;
  fraction: number;
  /** Fraction of the grid each head's mask keeps, and the union's. */
  kept: number[];
  unionKept: number;
  /** With a ground-truth mask: per-head IoU, the best head, and the union's IoU. */
  iou?: BestHead & { union: number };
}

/**
 * Segmentation of layer ℓ from the class token's maps (docs/MEASUREMENTS.md §2: the
 * segmentation reads A_k[0, 1:], whatever query the attention view shows),
 * by the current method, per head and as the union over heads.
 */
export function segmentationOf(run: RunResult, layer: number, method: SegmentationMethod, fraction: number): SegmentationFigure | string {
  const maps = attentionOf(run, layer, 0);
  if (typeof maps === 'string') return maps;
  return memo(run, `seg:${layer}:${method}:${fraction}`, () => {
    const grid = gridOf(run);
    const segmentation = segmentHeads(maps.heads, { kind: method, fraction });
    const share = (mask: Uint8Array) => mask.reduce((a, b) => a + b, 0) / mask.length;
    const figure: SegmentationFigure = {
      ...segmentation,
      method,
      fraction,
      kept: segmentation.heads.map(share),
      unionKept: share(segmentation.union),
    };
    if (run.mask) figure.iou = scoreSegmentation(segmentation, grid, run.mask, imageSizeOf(run));
    return figure;
  });
}

/** PCA of the layer's head projections W = LN1(Z^ℓ)Uᵀ as RGB (docs/MEASUREMENTS.md §2, PCA of features). */
export function pcaOf(run: RunResult, layer: number): PcaImage | string {
  const out = layerOutputs(run, layer);
  if (typeof out === 'string') return out;
  const { tokens, heads, dimHead } = run.model;
  return memo(run, `pca:${layer}`, () => pcaImage(out.w, tokens, heads * dimHead, gridOf(run)));
}

// ─── Layer overview ──────────────────────────────────────────────────────────

export interface ChartData {
  series: Series[];
  /** Why a chart has nothing to plot (shown instead of an empty chart). */
  missing?: string;
  /** A caveat printed under the chart. */
  note?: string;
}

/** R(Z^(ℓ+½)) = ½ logdet(I + d/(Nε²) ZᵀZ) per layer (docs/MEASUREMENTS.md §2, paper formula), from the kept tensors. */
export function expansionRates(run: RunResult): number[] {
  return memo(run, 'expansion', () => run.outputs.layers.map((l) => codingRate(l.zHalf, run.model.tokens, run.model.dim)));
}

function datasetReady(stats: DatasetStats | undefined, run: RunResult): DatasetStats | undefined {
  return stats && stats.modelId === run.modelId && stats.layers.length === run.layers.length ? stats : undefined;
}

function meanSeries(id: string, name: string, values: readonly (MeanStd | undefined)[]): Series | undefined {
  if (values.some((v) => !v)) return undefined;
  return { id, name, values: values.map((v) => v!.mean), std: values.map((v) => v!.std) };
}

/**
 * Coding-rate chart. 'official': the official R^c of the MSSA input per layer
 * (docs/MEASUREMENTS.md §2, first item). 'paper': the paper's formula on Z^{ℓ+½} — its
 * R^c(Z^(ℓ+½); U) needs U (qkv.weight), which the run carries only where the
 * pipeline computed it; without it the chart shows R(Z^(ℓ+½)) (no U needed)
 * and says so instead of plotting a made-up R^c.
 */
export function rateChart(run: RunResult, variant: RateVariant, stats?: DatasetStats): ChartData {
  const dataset = datasetReady(stats, run);
  const official: Series = { id: 'official', name: 'Rᶜ official (this image)', values: run.layers.map((l) => l.codingRate), primary: variant === 'official' };
  if (variant === 'official') {
    const series = [official];
    const mean = dataset && meanSeries('official-mean', `Rᶜ official, mean ± std of ${dataset.count} images`, dataset.layers.map((l) => l.codingRate));
    if (mean) series.push(mean);
    return { series };
  }
  const paper = run.layers.map((l) => l.paperRate);
  const expansion = expansionRates(run);
  const series: Series[] = [];
  let note: string;
  if (paper.every((v): v is number => typeof v === 'number')) {
    series.push({ id: 'paper', name: 'Rᶜ(Z^(ℓ+½); U) paper formula', values: paper, primary: true });
    series.push({ id: 'expansion', name: 'R(Z^(ℓ+½))', values: expansion });
    series.push({ id: 'reduction', name: 'ΔR = R − Rᶜ', values: expansion.map((r, i) => r - paper[i]) });
    note = 'Paper formula on Z^(ℓ+½), ε² = 0.01, no normalisation (docs/MEASUREMENTS.md §2); R^c sums K head terms, so it can exceed R and make ΔR negative.';
  } else {
    series.push({ id: 'expansion', name: 'R(Z^(ℓ+½)) paper formula', values: expansion, primary: true });
    series.push({ ...official, primary: false });
    series.push({ id: 'reduction-mixed', name: 'R(Z^(ℓ+½)) − Rᶜ official (mixed measures)', values: expansion.map((r, i) => r - run.layers[i].codingRate) });
    note =
      'The paper’s Rᶜ(Z^(ℓ+½); U) needs the layer’s U, which this run does not carry: shown are R(Z^(ℓ+½)) (ε² = 0.01, no normalisation) and, for reference, its difference from the official Rᶜ — two different measurements, not the paper’s ΔR (docs/MEASUREMENTS.md §2).';
  }
  const mean = dataset && meanSeries('paper-mean', `Rᶜ paper, mean ± std of ${dataset.count} images`, dataset.layers.map((l) => l.paperRate));
  if (mean) series.push(mean);
  return { series, note };
}

/** ‖Z^{ℓ+1}‖₀/(d·N) per layer (docs/MEASUREMENTS.md §2, sparsity). */
export function sparsityChart(run: RunResult, stats?: DatasetStats): ChartData {
  const dataset = datasetReady(stats, run);
  const series: Series[] = [{ id: 'sparsity', name: '‖Z‖₀/(dN) (this image)', values: run.layers.map((l) => l.sparsity), primary: true }];
  const mean = dataset && meanSeries('sparsity-mean', `mean ± std of ${dataset.count} images`, dataset.layers.map((l) => l.sparsity));
  if (mean) series.push(mean);
  return { series };
}

/** Best-head IoU of every layer with the ground truth, for the current method and fraction (docs/MEASUREMENTS.md §2). */
export function iouSeries(run: RunResult, method: SegmentationMethod, fraction: number): { best: number[]; union: number[]; heads: number[]; meanOfHeads: number[] } | string {
  if (!run.mask) return 'this sample has no ground-truth mask (only scene models ship masks)';
  if (run.outputs.layers.length === 0) return 'this run kept no per-layer tensors';
  return memo(run, `iou:${method}:${fraction}`, () => {
    const best: number[] = [];
    const union: number[] = [];
    const heads: number[] = [];
    const meanOfHeads: number[] = [];
    for (let l = 0; l < run.outputs.layers.length; l++) {
      const figure = segmentationOf(run, l, method, fraction);
      if (typeof figure === 'string' || !figure.iou) throw new Error(`layer ${l}: ${typeof figure === 'string' ? figure : 'no IoU'}`);
      best.push(figure.iou.iou);
      union.push(figure.iou.union);
      heads.push(figure.iou.head);
      meanOfHeads.push(meanIoU(figure.iou.ious));
    }
    return { best, union, heads, meanOfHeads };
  });
}

export function iouChart(run: RunResult, method: SegmentationMethod, fraction: number, stats?: DatasetStats): ChartData {
  const ious = iouSeries(run, method, fraction);
  if (typeof ious === 'string') return { series: [], missing: ious };
  const dataset = datasetReady(stats, run);
  const series: Series[] = [
    // The best head is picked with the mask: an oracle, labelled so, beside the mean of heads that is not (docs/MEASUREMENTS.md §2).
    { id: 'iou-best', name: 'best head, picked with the mask (oracle)', values: ious.best, primary: true },
    { id: 'iou-union', name: 'union of heads', values: ious.union },
    { id: 'iou-mean-heads', name: 'mean of heads (no oracle)', values: ious.meanOfHeads },
  ];
  const mean = dataset && meanSeries('iou-mean', `best head (oracle), mean ± std of ${dataset.count} images`, dataset.layers.map((l) => l.iou));
  if (mean) series.push(mean);
  return { series };
}

// ─── What the views compute ──────────────────────────────────────────────────

/**
 * Every figure the views compute for a run with `state` on screen, through the selectors they
 * call: the layer panel's three charts (LayerPanel.tsx) and the figure of the detail view in
 * focus (DetailPanel.tsx DetailFigure; the objective, coherence and heads views read figures the
 * worker already made). The bench adds its time to the worker's (src/bench/benchPage.ts).
 */
export function viewFigures(run: RunResult, state: Pick<UrlState, 'layer' | 'view' | 'query' | 'seg' | 'p' | 'tau' | 'rate'>): void {
  const fraction = segmentationFraction(state.seg, state.p, state.tau);
  rateChart(run, state.rate);
  sparsityChart(run);
  iouChart(run, state.seg, fraction);
  const detail: Partial<Record<DetailView, () => unknown>> = {
    attention: () => attentionOf(run, state.layer, state.query),
    segmentation: () => segmentationOf(run, state.layer, state.seg, fraction),
    histogram: () => histogramOf(run, state.layer),
    pca: () => pcaOf(run, state.layer),
  };
  detail[state.view]?.();
}
