/**
 * Every figure of docs/MEASUREMENTS.md §2 for one layer of one image at once, from the tensors
 * the engine captures (W, A, Z^{ℓ+½}, Z^{ℓ+1}) and the layer's U: the tests' and the benches'
 * reference for the layer on screen. The app computes the same figures one at a time, when a
 * view shows them, with the same functions (src/state/derived.ts); the per-image figures of
 * every layer (the layer table, charts, §2.1) come from src/analysis/analyseRun.ts.
 */
import { attentionMaps, type AttentionMaps, type GridSize } from './attention.ts';
import { OFFICIAL_EPS_SQUARED, officialCodingRate, rateReduction } from './codingRate.ts';
import { pcaImage, type PcaImage, type PcaOptions } from './pca.ts';
import { scoreSegmentation, segmentHeads, type BestHead, type HeadSegmentation } from './segmentation.ts';
import { logHistogram, sparsity, type LogHistogram, type LogHistogramOptions, type SparsitySummary } from './sparsity.ts';

export interface LayerDims {
  tokens: number;
  dim: number;
  heads: number;
  dimHead: number;
  grid: GridSize;
}

export interface LayerTensors {
  /** W = LN1(Z^ℓ)·Uᵀ, [N, heads·dh]. */
  w: ArrayLike<number>;
  /** A, [heads, N, N]. */
  attention: ArrayLike<number>;
  /** Z^{ℓ+½}, [N, d]. */
  zHalf: ArrayLike<number>;
  /** Z^{ℓ+1}, [N, d]. */
  zNext: ArrayLike<number>;
  /** U = qkv.weight, [heads·dh, d]. */
  qkv: ArrayLike<number>;
}

export interface LayerOptions {
  /** ε² of the paper-formula rates (default 0.01, the official value). */
  epsSquared?: number;
  /** Query token of the attention maps (default 0, the class token). */
  query?: number;
  /** P of the top-P% segmentation (default DEFAULT_TOP_FRACTION, chosen by measurement: segmentation.ts). */
  topFraction?: number;
  /** τ of DINO's attention-mass segmentation (default 0.6, DINO's paper text). */
  massFraction?: number;
  histogram?: LogHistogramOptions;
  pca?: PcaOptions;
  /** Pixel-level ground truth [image.height·image.width], nonzero = object. */
  groundTruth?: { mask: ArrayLike<number>; image: GridSize };
}

export interface LayerFigures {
  /** Official R^c of the MSSA input. */
  rateOfficial: number;
  /** Paper R^c(Z^{ℓ+½}; U). */
  rateCompressed: number;
  /** R(Z^{ℓ+½}). */
  rate: number;
  /** R − R^c on Z^{ℓ+½}. */
  rateReduction: number;
  sparsity: SparsitySummary;
  histogram: LogHistogram;
  attention: AttentionMaps;
  segmentationTop: HeadSegmentation;
  segmentationMass: HeadSegmentation;
  pca: PcaImage;
  /** With ground truth: the best head and IoUs of each method. */
  iou?: { top: BestHead & { union: number }; mass: BestHead & { union: number } };
}

export function analyseLayer(tensors: LayerTensors, dims: LayerDims, options: LayerOptions = {}): LayerFigures {
  const { tokens, dim, heads, dimHead, grid } = dims;
  const epsSquared = options.epsSquared ?? OFFICIAL_EPS_SQUARED;
  const reduction = rateReduction(tensors.zHalf, tokens, dim, tensors.qkv, heads, dimHead, epsSquared);
  const attention = attentionMaps(tensors.attention, heads, tokens, grid, options.query ?? 0);
  const segmentationTop = segmentHeads(attention.heads, { kind: 'top', fraction: options.topFraction });
  const segmentationMass = segmentHeads(attention.heads, { kind: 'mass', fraction: options.massFraction });
  const figures: LayerFigures = {
    rateOfficial: officialCodingRate(tensors.w, tokens, heads, dimHead),
    rateCompressed: reduction.compressedRate,
    rate: reduction.rate,
    rateReduction: reduction.reduction,
    sparsity: sparsity(tensors.zNext),
    histogram: logHistogram(tensors.zNext, options.histogram),
    attention,
    segmentationTop,
    segmentationMass,
    pca: pcaImage(tensors.w, tokens, heads * dimHead, grid, options.pca),
  };
  const truth = options.groundTruth;
  if (truth) {
    const score = (segmentation: HeadSegmentation) => scoreSegmentation(segmentation, grid, truth.mask, truth.image);
    figures.iou = { top: score(segmentationTop), mass: score(segmentationMass) };
  }
  return figures;
}
