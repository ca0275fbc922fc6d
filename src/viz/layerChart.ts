/**
 * A per-layer line chart drawn with d3 into an <svg>: one point per layer,
 * the selected layer highlighted with a larger point and a vertical rule.
 * Clicking a point (or pressing Enter/Space on it) calls onSelect.
 * Pure d3 over a given element: no React, no store.
 */
import { axisBottom, axisLeft, line, scaleLinear, select } from 'd3';

export interface LayerChartSpec {
  /** One value per layer, layer 0 first. */
  values: readonly number[];
  selected: number;
  /** Axis title, e.g. "R^c (nats)". */
  yLabel: string;
  /** Fixed y range (e.g. [0, 1] for a fraction); otherwise fitted to the data. */
  yDomain?: [number, number];
  format: (value: number) => string;
  /** Short name used in point tooltips and aria labels. */
  name: string;
  onSelect: (layer: number) => void;
}

export const CHART_WIDTH = 440;
export const CHART_HEIGHT = 230;
const MARGIN = { top: 26, right: 18, bottom: 40, left: 58 };

function fittedDomain(values: readonly number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  const pad = hi > lo ? (hi - lo) * 0.12 : Math.max(Math.abs(hi) * 0.05, 0.5);
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

export function renderLayerChart(svgElement: SVGSVGElement, spec: LayerChartSpec): void {
  const { values, selected } = spec;
  const width = CHART_WIDTH - MARGIN.left - MARGIN.right;
  const height = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
  const svg = select(svgElement)
    .attr('viewBox', `0 0 ${CHART_WIDTH} ${CHART_HEIGHT}`)
    .attr('preserveAspectRatio', 'xMidYMid meet');
  svg.selectAll('*').remove();

  const last = Math.max(values.length - 1, 1);
  const x = scaleLinear().domain([-0.35, last + 0.35]).range([0, width]);
  const y = scaleLinear()
    .domain(spec.yDomain ?? fittedDomain(values))
    .nice()
    .range([height, 0]);
  const root = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);

  // Grid lines first, so everything else draws over them.
  root
    .append('g')
    .attr('class', 'chart-grid')
    .selectAll('line')
    .data(y.ticks(5))
    .join('line')
    .attr('x1', 0)
    .attr('x2', width)
    .attr('y1', (d) => y(d))
    .attr('y2', (d) => y(d));

  const xTicks = values.length <= 16 ? values.map((_, i) => i) : x.ticks(8).filter(Number.isInteger);
  root
    .append('g')
    .attr('class', 'chart-axis')
    .attr('transform', `translate(0,${height})`)
    .call(axisBottom(x).tickValues(xTicks).tickFormat((d) => String(d)).tickSizeOuter(0));
  root.append('g').attr('class', 'chart-axis').call(axisLeft(y).ticks(5).tickSizeOuter(0));

  root
    .append('text')
    .attr('class', 'chart-label')
    .attr('x', width / 2)
    .attr('y', height + 34)
    .attr('text-anchor', 'middle')
    .text('layer ℓ');
  root
    .append('text')
    .attr('class', 'chart-label')
    .attr('transform', `translate(${-44},${height / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .text(spec.yLabel);

  if (selected >= 0 && selected < values.length) {
    root
      .append('line')
      .attr('class', 'chart-selected-rule')
      .attr('x1', x(selected))
      .attr('x2', x(selected))
      .attr('y1', 0)
      .attr('y2', height);
  }

  const points = values.map((v, i) => [i, v] as [number, number]).filter(([, v]) => Number.isFinite(v));
  root
    .append('path')
    .attr('class', 'chart-line')
    .attr('d', line<[number, number]>().x(([i]) => x(i)).y(([, v]) => y(v))(points) ?? '');

  const groups = root
    .append('g')
    .selectAll<SVGGElement, [number, number]>('g')
    .data(points)
    .join('g')
    .attr('class', ([i]) => (i === selected ? 'chart-point selected' : 'chart-point'))
    .attr('transform', ([i, v]) => `translate(${x(i)},${y(v)})`)
    .attr('data-layer', ([i]) => i)
    .attr('data-value', ([, v]) => v)
    .attr('tabindex', 0)
    .attr('role', 'button')
    .attr('aria-pressed', ([i]) => String(i === selected))
    .attr('aria-label', ([i, v]) => `layer ${i}: ${spec.name} ${spec.format(v)}`)
    .on('click', (_event, [i]) => spec.onSelect(i))
    .on('keydown', (event: KeyboardEvent, [i]) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        spec.onSelect(i);
      }
    });
  groups.append('title').text(([i, v]) => `layer ${i}: ${spec.name} = ${spec.format(v)}`);
  // A wide transparent target so the point is easy to hit.
  groups.append('circle').attr('class', 'chart-hit').attr('r', 13);
  groups.append('circle').attr('class', 'chart-dot').attr('r', ([i]) => (i === selected ? 7 : 4.5));
  // The selected value as a readout above the plot, where no data can hide it.
  if (selected >= 0 && selected < values.length) {
    root
      .append('text')
      .attr('class', 'chart-value')
      .attr('x', width)
      .attr('y', -10)
      .attr('text-anchor', 'end')
      .text(`ℓ = ${selected}: ${spec.format(values[selected])}`);
  }
}
