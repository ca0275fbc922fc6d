import { useMemo } from 'react';
import { officialPca } from '../analysis/pca.ts';
import { gridOf, layerOutputs, pcaOf } from '../state/derived.ts';
import { sampleTensorsFor } from '../dataset/sampleTensors.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { PCA_MODES, type PcaMode } from '../state/urlState.ts';
import { imageRaster, rasterImage, rgbGridRaster } from '../viz/raster.ts';
import { SegmentedChoice } from './SegmentedChoice.tsx';

const TILE = 200;
const GAP = 20;
const LABEL = 18;

interface Tile {
  key: string;
  title: string;
  image: { href: string };
  testId?: string;
}

/** A row of titled image tiles, TILE wide, as both PCA figures draw them. */
function TileRow({ tiles, height }: { tiles: readonly Tile[]; height: number }) {
  return tiles.map((tile, i) => (
    <g key={tile.key} transform={`translate(${i * (TILE + GAP)},0)`} data-testid={tile.testId}>
      <text className="figure-label" y={13}>
        {tile.title}
      </text>
      <image href={tile.image.href} y={LABEL} width={TILE} height={height} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
      <rect y={LABEL} width={TILE} height={height} fill="none" stroke="#c9ced8" />
    </g>
  ));
}

const MODE_LABELS: Record<PcaMode, string> = { image: 'this image alone', official: 'official procedure (joint over samples)' };

/** The switch between the per-image PCA and the official procedure (URL `pca`). */
function PcaModeSwitch() {
  const mode = useApp((s) => s.pca);
  const select = useApp((s) => s.select);
  return (
    <div className="view-controls">
      <SegmentedChoice label="PCA procedure" name="pca-mode" options={PCA_MODES} labels={MODE_LABELS} value={mode} onChange={(m) => select({ pca: m })} testIdPrefix="pca-mode-" />
    </div>
  );
}


/**
 * PCA of the patch tokens' head projections, the rows of W = LN1(Z^ℓ)Uᵀ
 * without the class token (docs/MEASUREMENTS.md §2, PCA of features): the top three
 * components as RGB, with and without the background cut on the first one.
 */
export function PcaView({ result }: { result: RunResult }) {
  const mode = useApp((s) => s.pca);
  return (
    <>
      <PcaModeSwitch />
      {mode === 'official' ? <OfficialPcaView result={result} /> : <ImagePcaView result={result} />}
    </>
  );
}

function ImagePcaView({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const pca = useMemo(() => pcaOf(result, layer), [result, layer]);
  const grid = useMemo(() => gridOf(result), [result.model]); // eslint-disable-line react-hooks/exhaustive-deps
  const image = result.image;
  const images = useMemo(() => {
    if (typeof pca === 'string') return undefined;
    const all = new Float64Array(pca.rgb.length);
    pca.scaled.forEach((component, j) => component.forEach((v, c) => (all[3 * c + j] = v)));
    return {
      input: rasterImage(imageRaster(image), TILE),
      foreground: rasterImage(rgbGridRaster(pca.rgb, grid), TILE),
      all: rasterImage(rgbGridRaster(all, grid), TILE),
    };
  }, [pca, image, grid]);
  if (typeof pca === 'string' || !images) return <p className="muted">No PCA: {pca as string}.</p>;
  const aspect = result.image.height / result.image.width;
  const height = TILE * aspect;
  const tiles = [
    { key: 'input', title: 'input', image: images.input, testId: 'pca-input' },
    { key: 'all', title: 'PCA → RGB, all patches', image: images.all, testId: 'pca-all' },
    { key: 'foreground', title: 'background removed', image: images.foreground, testId: 'pca-rgb' },
  ];
  const explained = Array.from(pca.explained);
  const kept = pca.foreground.reduce((a, b) => a + b, 0);
  return (
    <figure className="pca-view" data-testid="pca" data-layer={layer} data-explained={explained.join(',')} data-foreground={kept}>
      <svg className="figure-svg" viewBox={`0 0 ${3 * TILE + 2 * GAP} ${LABEL + height + 4}`} data-figure="pca" role="group" aria-label={`PCA of the tokens of layer ${layer}`}>
        <TileRow tiles={tiles} height={height} />
      </svg>
      <figcaption className="small">
        Layer {layer}: the first three components explain {explained.map((e) => `${(100 * e).toFixed(1)}%`).join(', ')} of the variance across{' '}
        {pca.foreground.length} patches (red, green, blue); {kept} patches are above the background cut (first component ≥ ½ of its range).
      </figcaption>
    </figure>
  );
}

const SMALL = 90;

/**
 * The official procedure (docs/MEASUREMENTS.md §2, vis_utils/pca_visualization.py):
 * 4 components fitted jointly over this image and the first sample images,
 * the first thresholded at 0.5 into foreground and background, holes filled,
 * a refit on the foreground, components 2–4 as RGB, the background black.
 */
function OfficialPcaView({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const state = sampleTensorsFor(useApp((s) => s.sampleTensors), result.modelId);
  const grid = useMemo(() => gridOf(result), [result.model]); // eslint-disable-line react-hooks/exhaustive-deps
  const tensors = state.status === 'ready' ? state.value : undefined;
  const fit = useMemo(() => {
    const out = layerOutputs(result, layer);
    if (!tensors || typeof out === 'string' || !tensors.layers[layer]) return undefined;
    // This image first; a shipped sample already in the set is not counted twice.
    const others = tensors.samples.map((sample, i) => ({ sample, i })).filter(({ sample }) => !(result.source !== 'upload' && result.source !== 'drawing' && sample === result.sampleIndex));
    const ws = [out.w, ...others.map(({ i }) => tensors.layers[layer].w[i])];
    const { tokens, heads, dimHead } = result.model;
    const pca = officialPca(ws, tokens, heads * dimHead, grid);
    return {
      pca,
      tiles: [
        { key: 'input', title: 'input', image: rasterImage(imageRaster(result.image), TILE) },
        { key: 'rgb', title: 'components 2–4 → RGB', image: rasterImage(rgbGridRaster(pca.images[0].rgb, grid), TILE) },
      ],
      others: others.map(({ sample, i }, j) => ({ sample, input: rasterImage(imageRaster(tensors.images[i]), SMALL), rgb: rasterImage(rgbGridRaster(pca.images[j + 1].rgb, grid), SMALL) })),
    };
  }, [tensors, result, layer, grid]);
  if (state.status === 'error') return <p className="muted">No official PCA: {state.message}.</p>;
  if (!fit) return <p className="muted" data-testid="pca-official-loading">{state.status === 'loading' ? state.message : 'Waiting for the sample images…'}</p>;
  const aspect = result.image.height / result.image.width;
  const height = TILE * aspect;
  const smallHeight = SMALL * aspect;
  const width = Math.max(2 * TILE + GAP, fit.others.length * (SMALL + 8));
  const total = LABEL + height + 12 + LABEL + 2 * smallHeight + 6;
  const kept = fit.pca.images[0].foreground.reduce((a, b) => a + b, 0);
  return (
    <figure className="pca-view" data-testid="pca-official" data-layer={layer} data-images={fit.pca.images.length} data-foreground={kept} data-explained={Array.from(fit.pca.explained).join(',')}>
      <svg className="figure-svg" viewBox={`0 0 ${width} ${total}`} data-figure="pca" role="group" aria-label={`Official PCA of layer ${layer}, fitted jointly over ${fit.pca.images.length} images`}>
        <TileRow tiles={fit.tiles} height={height} />
        <text className="figure-label" y={LABEL + height + 12 + 13}>
          the same fit on the sample images
        </text>
        {fit.others.map((o, i) => (
          <g key={o.sample} transform={`translate(${i * (SMALL + 8)},${LABEL + height + 12 + LABEL})`} data-testid={`pca-official-sample-${o.sample}`}>
            <image href={o.input.href} width={SMALL} height={smallHeight} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
            <image href={o.rgb.href} y={smallHeight + 4} width={SMALL} height={smallHeight} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
          </g>
        ))}
      </svg>
      <figcaption className="small">
        Layer {layer}, official procedure over {fit.pca.images.length} images (this one and the first samples): 4 components fitted jointly; the first, scaled to [0, 1], split at 0.5 into foreground and
        background ({fit.pca.foregroundBeforeFill} foreground patches, {fit.pca.foregroundCount} after filling holes; {kept} on this image); a refit on the foreground, whose components 2–4 (explaining{' '}
        {Array.from(fit.pca.explained).map((e) => `${(100 * e).toFixed(1)}%`).join(', ')} of its variance) are red, green and blue; the background is black.
      </figcaption>
    </figure>
  );
}
