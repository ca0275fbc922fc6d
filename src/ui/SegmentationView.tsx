import { useMemo } from 'react';
import { meanIoU } from '../analysis/segmentation.ts';
import { gridOf, segmentationFraction, segmentationOf, type SegmentationFigure } from '../state/derived.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { SEGMENTATION_METHODS, type SegmentationMethod } from '../state/urlState.ts';
import { MASK_COLOUR, SELECT_COLOUR, TRUTH_COLOUR } from '../viz/colours.ts';
import { maskOverlay, pixelMaskOverlay, rasterImage } from '../viz/raster.ts';
import { SegmentedChoice } from './SegmentedChoice.tsx';

const TILE = 120;
const GAP = 14;
const LABEL = 18;
const FOOT = 34;

/**
 * No official CRATE code defines the top-P% mask, so it is not attributed to
 * the paper; the attention-mass mask is DINO's method (docs/MEASUREMENTS.md §2).
 */
const METHOD_LABELS: Record<SegmentationMethod, string> = { top: 'top-P% of patches', mass: 'attention mass τ (DINO’s method)' };

/** Slider positions are hundredths: the URL keeps at most 4 decimals, and 1% steps are fine enough to see. */
const toFraction = (raw: string) => Math.min(1, Math.max(0.01, Math.round(Number(raw) * 100) / 100));

const percent = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * Segmentation from the class token's attention (docs/MEASUREMENTS.md §2): every head's
 * mask and their union by the chosen method, with P and τ on sliders; with a
 * ground-truth mask, each mask's IoU, their mean over heads, and the best
 * head. The best head is picked with the ground truth, so it is labelled as
 * an oracle, and heads that tie for it are all marked, none preferred.
 */
export function SegmentationView({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const seg = useApp((s) => s.seg);
  const p = useApp((s) => s.p);
  const tau = useApp((s) => s.tau);
  const head = useApp((s) => s.head);
  const select = useApp((s) => s.select);
  const fraction = segmentationFraction(seg, p, tau);
  const figure = useMemo(() => segmentationOf(result, layer, seg, fraction), [result, layer, seg, fraction]);
  // The pipeline replaces the RunResult when P/τ change (new IoUs) but keeps model, image and mask: depend on those.
  const grid = useMemo(() => gridOf(result), [result.model]); // eslint-disable-line react-hooks/exhaustive-deps
  const { image, mask } = result;
  const images = useMemo(() => {
    if (typeof figure === 'string') return undefined;
    const overlay = (kept: Uint8Array) => rasterImage(maskOverlay(image, kept, grid, MASK_COLOUR), TILE);
    return {
      truth: mask ? rasterImage(pixelMaskOverlay(image, mask, TRUTH_COLOUR), TILE) : undefined,
      union: overlay(figure.union),
      heads: figure.heads.map(overlay),
    };
  }, [figure, image, mask, grid]);
  const controls = (
    <div className="view-controls">
      <SegmentedChoice label="Segmentation method" name="seg" options={SEGMENTATION_METHODS} labels={METHOD_LABELS} value={seg} onChange={(m) => select({ seg: m })} testIdPrefix="seg-method-" />
      <label className={seg === 'top' ? 'slider active' : 'slider'}>
        <span>P</span>
        <input type="range" min={0.01} max={1} step={0.01} value={p} onChange={(e) => select({ p: toFraction(e.target.value), seg: 'top' })} data-testid="slider-p" aria-label="P, share of patches kept" />
        <output data-testid="slider-p-value">{Math.round(p * 100)}%</output>
      </label>
      <label className={seg === 'mass' ? 'slider active' : 'slider'}>
        <span>τ</span>
        <input type="range" min={0.01} max={1} step={0.01} value={tau} onChange={(e) => select({ tau: toFraction(e.target.value), seg: 'mass' })} data-testid="slider-tau" aria-label="τ, share of attention mass kept" />
        <output data-testid="slider-tau-value">{tau.toFixed(2)}</output>
      </label>
      {seg === 'mass' && (
        <p className="muted small" data-testid="segmentation-mass-source">
          DINO’s method; τ = 0.6 is the value in DINO’s paper text (its code’s default is None, no threshold).
        </p>
      )}
    </div>
  );
  if (typeof figure === 'string' || !images) {
    return (
      <div className="segmentation-view">
        {controls}
        <p className="muted">No segmentation: {figure as string}.</p>
      </div>
    );
  }
  const aspect = result.image.height / result.image.width;
  const tileHeight = TILE * aspect;
  type Tile = { key: string; testId: string; title: string; image: { href: string }; kept?: number; iou?: number; best?: boolean; selected?: boolean };
  const tiles: Tile[] = [];
  if (images.truth) tiles.push({ key: 'truth', testId: 'segmentation-truth', title: 'ground truth', image: images.truth });
  tiles.push({ key: 'union', testId: 'segmentation-union', title: 'union of heads', image: images.union, kept: figure.unionKept, iou: figure.iou?.union });
  figure.heads.forEach((_, k) =>
    tiles.push({
      key: `h${k}`,
      testId: `segmentation-head-${k}`,
      title: `head ${k}`,
      image: images.heads[k],
      kept: figure.kept[k],
      iou: figure.iou?.ious[k],
      best: figure.iou?.tied.includes(k),
      selected: head === k,
    }),
  );
  const tied = (figure.iou?.tied.length ?? 0) > 1;
  const cols = Math.min(tiles.length, 6);
  const rows = Math.ceil(tiles.length / cols);
  const width = cols * (TILE + GAP) - GAP;
  const height = rows * (LABEL + tileHeight + FOOT) + 20;
  return (
    <div className="segmentation-view">
      {controls}
      <p className="small" data-testid="segmentation-summary">
        {seg === 'top' ? `Each head keeps the top ${Math.round(p * 100)}% of its ${grid.height * grid.width} patches` : `Each head keeps the fewest patches holding ${Math.round(tau * 100)}% of its attention`}{' '}
        (class-token maps, layer {layer}).{' '}
        {figure.iou ? (
          <IouSummary iou={figure.iou} />
        ) : (
          <span className="muted">This sample has no ground-truth mask, so there is no IoU (scene models ship masks).</span>
        )}
      </p>
      <svg
        className="figure-svg"
        viewBox={`0 0 ${width} ${height}`}
        data-figure="segmentation"
        data-testid="segmentation"
        data-method={seg}
        data-fraction={fraction}
        data-union-kept={figure.unionKept}
        role="group"
        aria-label={`Segmentation masks of layer ${layer}`}
      >
        {tiles.map((tile, i) => {
          const x = (i % cols) * (TILE + GAP);
          const y = Math.floor(i / cols) * (LABEL + tileHeight + FOOT);
          return (
            <g key={tile.key} transform={`translate(${x},${y})`} data-testid={tile.testId} data-kept={tile.kept} data-iou={tile.iou} data-best={tile.best ? 'true' : undefined}>
              <text className="figure-label" y={13} fill={tile.best ? SELECT_COLOUR : undefined}>
                {tile.title}
                {tile.best ? (tied ? ' ★ tied best' : ' ★ best') : ''}
              </text>
              <image href={tile.image.href} y={LABEL} width={TILE} height={tileHeight} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
              <rect y={LABEL} width={TILE} height={tileHeight} fill="none" stroke={tile.best || tile.selected ? SELECT_COLOUR : '#c9ced8'} strokeWidth={tile.best || tile.selected ? 3 : 1} />
              {tile.kept !== undefined && (
                <text className="figure-small" y={LABEL + tileHeight + 14}>
                  kept {percent(tile.kept)}
                </text>
              )}
              {tile.iou !== undefined && (
                <text className="figure-small" y={LABEL + tileHeight + 28}>
                  IoU {tile.iou.toFixed(3)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

/** IoU line: mean of heads (no oracle) first, then the union, then the best head labelled as the oracle it is, ties as ties. */
function IouSummary({ iou }: { iou: NonNullable<SegmentationFigure['iou']> }) {
  const mean = meanIoU(iou.ious);
  const tied = iou.tied.length > 1;
  const best = tied
    ? iou.tied.length === iou.ious.length
      ? `all ${iou.ious.length} heads tie at IoU ${iou.iou.toFixed(3)}, so there is no best head`
      : `heads ${iou.tied.join(', ')} tie at IoU ${iou.iou.toFixed(3)}`
    : `head ${iou.head}, IoU ${iou.iou.toFixed(3)}`;
  return (
    <strong data-testid="segmentation-best" data-head={tied ? undefined : iou.head} data-tied={iou.tied.join(',')} data-iou={iou.iou} data-mean-iou={mean}>
      Mean of heads IoU {mean.toFixed(3)}; union IoU {iou.union.toFixed(3)}; best head, picked with the mask (an oracle): {best}.
    </strong>
  );
}
