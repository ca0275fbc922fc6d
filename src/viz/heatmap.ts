/**
 * A K×K heatmap of head coherence (docs/MEASUREMENTS.md §2.1): entry (k, j)
 * = ‖Q_kᵀQ_j‖²_F / dh, 0 for orthogonal head subspaces, 1 for the same one,
 * about dh/d for random ones. The colour bar marks that random-subspace
 * reference, so a cell darker than the mark is more incoherent than chance.
 * Pure d3 over a given <svg>; colours are attributes (exports look the same).
 */
import { scaleLinear, select } from 'd3';
import { viridisCss } from './colours.ts';

export interface HeatmapSpec {
  /** K×K row-major. */
  matrix: ArrayLike<number>;
  size: number;
  /** The random-subspace reference dh/d, marked on the colour bar. */
  reference: number;
  format: (value: number) => string;
}

const CELL_MAX = 64;
const GRID = 360;
const BAR_WIDTH = 16;
const MARGIN = { top: 30, right: 90, bottom: 16, left: 64 };

/** Black on light cells, white on dark ones: viridis is dark below about 0.5. */
function textColour(value: number): string {
  return value > 0.55 ? '#111' : '#fff';
}

export function renderHeatmap(svgElement: SVGSVGElement, spec: HeatmapSpec): void {
  const { size, matrix } = spec;
  const cell = Math.min(CELL_MAX, GRID / Math.max(size, 1));
  const grid = cell * size;
  const width = MARGIN.left + grid + MARGIN.right;
  const height = MARGIN.top + grid + MARGIN.bottom;
  const svg = select(svgElement).attr('viewBox', `0 0 ${width} ${height}`).attr('preserveAspectRatio', 'xMidYMid meet');
  svg.selectAll('*').remove();
  const root = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);
  const showValues = cell >= 30;
  for (let k = 0; k < size; k++) {
    for (let j = 0; j < size; j++) {
      const value = matrix[k * size + j];
      const g = root.append('g').attr('class', 'heatmap-cell').attr('data-row', k).attr('data-col', j).attr('data-value', value);
      g.append('rect').attr('x', j * cell).attr('y', k * cell).attr('width', cell).attr('height', cell).attr('fill', viridisCss(value)).attr('stroke', '#fff').attr('stroke-width', 1);
      g.append('title').text(`heads ${k} and ${j}: ${spec.format(value)}`);
      if (showValues) {
        g.append('text')
          .attr('class', 'figure-small')
          .attr('x', (j + 0.5) * cell)
          .attr('y', (k + 0.5) * cell)
          .attr('dy', '0.35em')
          .attr('text-anchor', 'middle')
          .attr('fill', textColour(value))
          .style('fill', textColour(value))
          .text(spec.format(value));
      }
    }
  }
  const label = (text: string, x: number, y: number, anchor: string) =>
    root.append('text').attr('class', 'figure-small').attr('x', x).attr('y', y).attr('dy', '0.35em').attr('text-anchor', anchor).text(text);
  const step = Math.max(1, Math.ceil(size / 16));
  for (let k = 0; k < size; k += step) {
    label(`head ${k}`, -6, (k + 0.5) * cell, 'end');
    label(String(k), (k + 0.5) * cell, -10, 'middle');
  }

  // Colour bar 0…1 with the random reference marked.
  const bar = root.append('g').attr('transform', `translate(${grid + 22},0)`);
  const y = scaleLinear().domain([0, 1]).range([grid, 0]);
  const steps = 40;
  for (let i = 0; i < steps; i++) {
    bar.append('rect').attr('y', y((i + 1) / steps)).attr('width', BAR_WIDTH).attr('height', grid / steps + 0.5).attr('fill', viridisCss((i + 0.5) / steps));
  }
  bar.append('text').attr('class', 'figure-small').attr('x', BAR_WIDTH + 4).attr('y', y(1)).attr('dy', '0.35em').text('1');
  bar.append('text').attr('class', 'figure-small').attr('x', BAR_WIDTH + 4).attr('y', y(0)).attr('dy', '0.35em').text('0');
  const ref = bar.append('g').attr('class', 'heatmap-reference').attr('data-value', spec.reference).attr('transform', `translate(0,${y(spec.reference)})`);
  ref.append('line').attr('x1', -4).attr('x2', BAR_WIDTH + 4).attr('stroke', '#D55E00').attr('stroke-width', 2);
  ref.append('text').attr('class', 'figure-small').attr('x', BAR_WIDTH + 6).attr('dy', '0.35em').attr('fill', '#D55E00').style('fill', '#D55E00').text(`random ${spec.format(spec.reference)}`);
}
