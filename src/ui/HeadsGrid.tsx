import { useMemo } from 'react';
import { useApp, type RunResult } from '../state/store.ts';
import { sampleTensorsFor } from '../dataset/sampleTensors.ts';
import { SELECT_COLOUR } from '../viz/colours.ts';
import { attentionOverlay, rasterImage } from '../viz/raster.ts';

const TILE = 84;
const GAP = 6;
const LABEL_WIDTH = 64;
const HEADER = 20;

/**
 * Heads × images (issue 15): for the selected layer, each head's class-token
 * attention (row A_k[0, 1:], docs/MEASUREMENTS.md §2) on the first sample
 * images, one row per head, so what a head looks for shows across images, as
 * in the paper's head-wise figures. The images run in the background only
 * while this view is shown (src/dataset/sampleTensors.ts).
 */
export function HeadsGrid({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const head = useApp((s) => s.head);
  const select = useApp((s) => s.select);
  const state = sampleTensorsFor(useApp((s) => s.sampleTensors), result.modelId);
  const tensors = state.status === 'ready' ? state.value : undefined;
  const tiles = useMemo(() => {
    const maps = tensors?.layers[layer]?.classMaps;
    if (!tensors || !maps) return undefined;
    // One colour scale per head row: each map scaled to its own maximum, as the attention view does.
    return maps.map((perHead, image) => perHead.map((map) => rasterImage(attentionOverlay(tensors.images[image], map, tensors.grid), TILE)));
  }, [tensors, layer]);
  if (state.status === 'error') return <p className="muted">No heads × images grid: {state.message}.</p>;
  if (!tensors || !tiles) {
    const message = state.status === 'loading' ? state.message : 'Waiting for the sample images…';
    return (
      <p className="muted" data-testid="heads-grid-loading">
        {message}
      </p>
    );
  }
  const images = tiles.length;
  // The patch each head attends to most, per image: what a test (or a reader of the SVG) can check.
  const peaks = tensors.layers[layer].classMaps.map((perHead) => perHead.map((map) => map.indexOf(Math.max(...map))));
  const heads = tiles[0]?.length ?? 0;
  const aspect = tensors.images[0].height / tensors.images[0].width;
  const tileHeight = TILE * aspect;
  const width = LABEL_WIDTH + images * (TILE + GAP) - GAP;
  const height = HEADER + heads * (tileHeight + GAP);
  return (
    <figure className="heads-grid-view" data-testid="heads-grid-view" data-layer={layer} data-images={images} data-heads={heads}>
      <svg className="figure-svg" viewBox={`0 0 ${width} ${height}`} data-figure="heads" data-testid="heads-grid" role="group" aria-label={`Class-token attention of each head of layer ${layer} on ${images} sample images`}>
        {tensors.samples.map((sample, i) => (
          <text key={`s${sample}`} className="figure-small" x={LABEL_WIDTH + i * (TILE + GAP) + TILE / 2} y={13} textAnchor="middle">
            sample {sample}
          </text>
        ))}
        {Array.from({ length: heads }, (_, k) => {
          const y = HEADER + k * (tileHeight + GAP);
          const selected = head === k;
          return (
            <g key={k} className="heads-grid-row" data-head={k} onClick={() => select({ head: k })} style={{ cursor: 'pointer' }}>
              <text className="figure-label" x={0} y={y + tileHeight / 2} dy="0.35em" fill={selected ? SELECT_COLOUR : undefined}>
                head {k}
              </text>
              {tiles.map((perHead, i) => (
                <g key={i} data-testid={`heads-grid-${k}-${i}`} data-sample={tensors.samples[i]} data-peak={peaks[i][k]}>
                  <image href={perHead[k].href} x={LABEL_WIDTH + i * (TILE + GAP)} y={y} width={TILE} height={tileHeight} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
                  <rect x={LABEL_WIDTH + i * (TILE + GAP)} y={y} width={TILE} height={tileHeight} fill="none" stroke={selected ? SELECT_COLOUR : '#c9ced8'} strokeWidth={selected ? 2 : 1} />
                </g>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption className="small muted">
        Layer {layer}: each head’s class-token attention over the patches on the first {images} sample images (viridis, each map scaled to its own maximum). A row that lights up the same part of every image is a head with one job. Click a row to pick that head.
      </figcaption>
    </figure>
  );
}
