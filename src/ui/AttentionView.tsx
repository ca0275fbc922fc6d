import { useEffect, useId, useMemo, useState } from 'react';
import { attentionOf, gridOf } from '../state/derived.ts';
import { useApp, type RunResult } from '../state/store.ts';
import type { HeadChoice } from '../state/urlState.ts';
import { SELECT_COLOUR, viridisCss } from '../viz/colours.ts';
import { attentionOverlay, rasterImage } from '../viz/raster.ts';
import { attentionTitle, cellOfQuery, queryLabel, queryOfCell } from '../state/queryNaming.ts';

const LARGE = 300;
const SMALL = 100;
const GAP = 14;
const LABEL = 18;

/** Comma-joined values at 6 significant digits: what a test compares with Node's attention row. */
function valuesAttribute(map: ArrayLike<number>): string {
  return Array.from(map, (v) => Number(v.toPrecision(6))).join(',');
}

function argmax(map: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
  return best;
}

function maxOf(map: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < map.length; i++) max = Math.max(max, map[i]);
  return max;
}

/** True on a phone-width screen (the stylesheet's single-column breakpoint), kept current as the window changes. */
function useNarrowScreen(): boolean {
  const query = '(max-width: 600px)';
  const [narrow, setNarrow] = useState(() => typeof window !== 'undefined' && window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const update = () => setNarrow(list.matches);
    list.addEventListener('change', update);
    return () => list.removeEventListener('change', update);
  }, []);
  return narrow;
}

/**
 * Attention grid (docs/MEASUREMENTS.md §2, attention maps): the selected head (or the
 * mean over heads) large, where a click on a patch makes it the query; one
 * small map per head plus the mean, where a click selects the head. One
 * <svg> holds it all, so the export is the figure as shown.
 */
export function AttentionView({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const head = useApp((s) => s.head);
  const query = useApp((s) => s.query);
  const select = useApp((s) => s.select);
  const gradientId = useId().replace(/:/g, '');
  const narrow = useNarrowScreen();
  const maps = useMemo(() => attentionOf(result, layer, query), [result, layer, query]);
  // The pipeline may replace the RunResult (new IoUs) while model, image and tensors stay: depend on those, not on it.
  const grid = useMemo(() => gridOf(result), [result.model]); // eslint-disable-line react-hooks/exhaustive-deps
  const image = result.image;
  const images = useMemo(() => {
    if (typeof maps === 'string') return undefined;
    const overlay = (map: ArrayLike<number>, target: number) => rasterImage(attentionOverlay(image, map, grid), target);
    return {
      small: [overlay(maps.mean, SMALL), ...maps.heads.map((m) => overlay(m, SMALL))],
      large: overlay(head === 'mean' || typeof head !== 'number' || !maps.heads[head] ? maps.mean : maps.heads[head], LARGE),
    };
  }, [maps, image, grid, head]);
  if (typeof maps === 'string' || !images) return <p className="muted">No attention maps: {maps as string}.</p>;
  const headValid = head === 'mean' || (typeof head === 'number' && head < maps.heads.length);
  const shown: HeadChoice = headValid ? head : 'mean';
  const large = shown === 'mean' ? maps.mean : maps.heads[shown];
  const aspect = result.image.height / result.image.width;
  const largeHeight = LARGE * aspect;
  const smallHeight = SMALL * aspect;
  const items = maps.heads.length + 1;
  // On a phone the small maps go below the large one, 3 to a row, so the figure is ~340 units wide and its labels stay ≥ 11 px (issue 19).
  const rows = narrow ? Math.ceil(items / 3) : Math.max(1, Math.ceil(Math.sqrt(items / 1.5)));
  const cols = narrow ? Math.min(3, items) : Math.ceil(items / rows);
  const smallX = narrow ? 0 : LARGE + 2 * GAP;
  const smallY = narrow ? LABEL + largeHeight + 40 + GAP : 0;
  const width = narrow ? Math.max(LARGE, cols * (SMALL + GAP) - GAP) : smallX + cols * (SMALL + GAP);
  const height = narrow ? smallY + rows * (smallHeight + LABEL + GAP) : Math.max(LABEL + largeHeight + 40, rows * (SMALL * aspect + LABEL + GAP));
  const cellW = LARGE / grid.width;
  const cellH = largeHeight / grid.height;
  const patch = cellOfQuery(query);
  return (
    <div className="attention-view">
      <div className="view-controls">
        <span>
          Query: <strong data-testid="attention-query" data-query={query}>{queryLabel(query, grid.width)}</strong>
        </span>
        <button type="button" onClick={() => select({ query: 0 })} disabled={query === 0} data-testid="query-reset">
          Back to the class token
        </button>
        <span className="muted small">Click a patch: new query. Click a small map, or press ↑ ↓: new head.</span>
      </div>
      <svg className="figure-svg" viewBox={`0 0 ${width} ${height}`} data-figure="attention" data-testid="attention-grid" role="group" aria-label={`Attention maps of layer ${layer}`}>
        <defs>
          <linearGradient id={gradientId} x1="0" x2="1" y1="0" y2="0">
            {[0, 0.25, 0.5, 0.75, 1].map((t) => (
              <stop key={t} offset={t} stopColor={viridisCss(t)} />
            ))}
          </linearGradient>
        </defs>
        <text className="figure-label" x={0} y={13}>
          {attentionTitle(shown, query, grid.width)}
        </text>
        <g
          data-testid="attention-large"
          data-head={String(shown)}
          data-query={query}
          data-layer={layer}
          data-max={maxOf(large)}
          data-argmax={argmax(large)}
          data-values={valuesAttribute(large)}
          transform={`translate(0,${LABEL})`}
        >
          <image href={images.large.href} width={LARGE} height={largeHeight} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
          {Array.from({ length: grid.height * grid.width }, (_, cell) => {
            const row = Math.floor(cell / grid.width);
            const col = cell % grid.width;
            return (
              <rect
                key={cell}
                className={cell === patch ? 'patch query' : 'patch'}
                x={col * cellW}
                y={row * cellH}
                width={cellW}
                height={cellH}
                fill="transparent"
                stroke={cell === patch ? SELECT_COLOUR : 'none'}
                strokeWidth={cell === patch ? 3 : 0}
                data-testid={`attention-patch-${cell}`}
                onClick={() => select({ query: queryOfCell(cell) })}
              >
                <title>{`make ${queryLabel(queryOfCell(cell), grid.width)} the query`}</title>
              </rect>
            );
          })}
          <g transform={`translate(0,${largeHeight + 10})`}>
            <rect width={LARGE * 0.6} height={8} fill={`url(#${gradientId})`} />
            <text className="figure-small" x={0} y={20}>
              0
            </text>
            <text className="figure-small" x={LARGE * 0.6} y={20} textAnchor="end">
              {maxOf(large).toPrecision(3)} (map max)
            </text>
          </g>
        </g>
        {images.small.map((image, i) => {
          const choice: HeadChoice = i === 0 ? 'mean' : i - 1;
          const map = i === 0 ? maps.mean : maps.heads[i - 1];
          const selected = choice === shown;
          const row = Math.floor(i / cols);
          const col = i % cols;
          const x = smallX + col * (SMALL + GAP);
          const y = smallY + row * (smallHeight + LABEL + GAP);
          return (
            <g
              key={i}
              className={selected ? 'attention-thumb selected' : 'attention-thumb'}
              transform={`translate(${x},${y})`}
              data-testid={i === 0 ? 'attention-mean' : `attention-head-${i - 1}`}
              data-selected={selected}
              data-max={maxOf(map)}
              data-argmax={argmax(map)}
              role="button"
              tabIndex={0}
              aria-pressed={selected}
              aria-label={i === 0 ? 'mean over heads' : `head ${i - 1}`}
              onClick={() => select({ head: choice })}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  select({ head: choice });
                }
              }}
            >
              <text className="figure-label" x={0} y={13} fill={selected ? SELECT_COLOUR : undefined}>
                {i === 0 ? 'mean' : `head ${i - 1}`}
              </text>
              <image href={image.href} y={LABEL} width={SMALL} height={smallHeight} preserveAspectRatio="none" style={{ imageRendering: 'pixelated' }} />
              <rect y={LABEL} width={SMALL} height={smallHeight} fill="none" stroke={selected ? SELECT_COLOUR : '#c9ced8'} strokeWidth={selected ? 4 : 1} />
            </g>
          );
        })}
      </svg>
    </div>
  );
}
