import { useMemo } from 'react';
import { gridOf, pcaOf } from '../state/derived.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { imageRaster, rasterImage, rgbGridRaster } from '../viz/raster.ts';

const TILE = 200;
const GAP = 20;
const LABEL = 18;

/**
 * PCA of the patch tokens' head projections, the rows of W = LN1(Z^ℓ)Uᵀ
 * without the class token (docs/MEASUREMENTS.md §2, PCA of features): the top three
 * components as RGB, with and without the background cut on the first one.
 */
export function PcaView({ result }: { result: RunResult }) {
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
        {tiles.map((tile, i) => (
          <g key={tile.key} transform={`translate(${i * (TILE + GAP)},0)`} data-testid={tile.testId}>
            <text className="figure-label" y={13}>
              {tile.title}
            </text>
            <image href={tile.image.href} y={LABEL} width={TILE} height={height} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
            <rect y={LABEL} width={TILE} height={height} fill="none" stroke="#c9ced8" />
          </g>
        ))}
      </svg>
      <figcaption className="small">
        Layer {layer}: the first three components explain {explained.map((e) => `${(100 * e).toFixed(1)}%`).join(', ')} of the variance across{' '}
        {pca.foreground.length} patches (red, green, blue); {kept} patches are above the background cut (first component ≥ ½ of its range).
      </figcaption>
    </figure>
  );
}
