/**
 * A per-layer line chart drawn with d3 into an <svg>: layer index on x, one
 * or more series on y (docs/MEASUREMENTS.md §2: the paper's per-layer plots), the
 * selected layer highlighted with a larger point and a vertical rule.
 * Dataset series draw their mean as a dashed line inside a ±std band.
 * Clicking a point of the primary series (or Enter/Space on it) calls
 * onSelect. Pure d3 over a given element: no React, no store.
 *
 * Colours are set as attributes, not only through CSS, so that an exported
 * SVG (exportFigure.ts) looks the same outside the page.
 */
import { area, axisBottom, axisLeft, line, scaleLinear, select } from 'd3';
import type { Series } from './series.ts';
import { seriesColour, SELECT_COLOUR } from './colours.ts';

export interface LayerChartSpec {
  series: readonly Series[];
  selected: number;
  /** Axis title, e.g. "R^c (nats)". */
  yLabel: string;
  /** Fixed y range (e.g. [0, 1] for a fraction); otherwise fitted to the data and bands. */
  yDomain?: [number, number];
  format: (value: number) => string;
  /** Short name used in point tooltips and aria labels. */
  name: string;
  onSelect: (layer: number) => void;
  /** Large type (presentation layout, issue 19): wider margins for the larger tick labels the stylesheet sets. */
  large?: boolean;
}

const CHART_WIDTH = 440;
// Wide rather than tall, so the curves and the figure below them share one 720-px screen (issue 19).
const CHART_HEIGHT = 200;
const MARGINS = {
  normal: { top: 26, right: 18, bottom: 40, left: 58 },
  large: { top: 34, right: 22, bottom: 56, left: 84 },
};
const LEGEND_ROWS = { normal: 16, large: 24 };

function fittedDomain(series: readonly Series[]): [number, number] {
  const finite: number[] = [];
  for (const s of series) {
    s.values.forEach((v, i) => {
      const spread = s.std?.[i] ?? 0;
      if (Number.isFinite(v)) finite.push(v - spread, v + spread);
    });
  }
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  const pad = hi > lo ? (hi - lo) * 0.12 : Math.max(Math.abs(hi) * 0.05, 0.5);
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

export function renderLayerChart(svgElement: SVGSVGElement, spec: LayerChartSpec): void {
  const { series, selected } = spec;
  const MARGIN = MARGINS[spec.large ? 'large' : 'normal'];
  const LEGEND_ROW = LEGEND_ROWS[spec.large ? 'large' : 'normal'];
  // Large tick labels need room: fewer of them.
  const yTicks = spec.large ? 3 : 5;
  const primary = series.find((s) => s.primary) ?? series[0];
  const count = Math.max(0, ...series.map((s) => s.values.length));
  const legendRows = series.length > 1 ? series.length : 0;
  const totalHeight = CHART_HEIGHT + (legendRows ? legendRows * LEGEND_ROW + 8 : 0);
  const width = CHART_WIDTH - MARGIN.left - MARGIN.right;
  const height = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
  const svg = select(svgElement)
    .attr('viewBox', `0 0 ${CHART_WIDTH} ${totalHeight}`)
    .attr('preserveAspectRatio', 'xMidYMid meet');
  svg.selectAll('*').remove();

  const last = Math.max(count - 1, 1);
  const x = scaleLinear().domain([-0.35, last + 0.35]).range([0, width]);
  const y = scaleLinear()
    .domain(spec.yDomain ?? fittedDomain(series))
    .nice()
    .range([height, 0]);
  const root = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);

  // Grid lines first, so everything else draws over them.
  root
    .append('g')
    .attr('class', 'chart-grid')
    .selectAll('line')
    .data(y.ticks(yTicks))
    .join('line')
    .attr('stroke', '#edf0f4')
    .attr('x1', 0)
    .attr('x2', width)
    .attr('y1', (d) => y(d))
    .attr('y2', (d) => y(d));

  const layers = Array.from({ length: count }, (_, i) => i);
  const xTicks = count <= 16 ? layers : x.ticks(8).filter(Number.isInteger);
  root
    .append('g')
    .attr('class', 'chart-axis')
    .attr('transform', `translate(0,${height})`)
    .call(axisBottom(x).tickValues(xTicks).tickFormat((d) => String(d)).tickSizeOuter(0));
  root.append('g').attr('class', 'chart-axis').call(axisLeft(y).ticks(yTicks).tickSizeOuter(0));

  root
    .append('text')
    .attr('class', 'chart-label')
    .attr('x', width / 2)
    .attr('y', height + MARGIN.bottom - 6)
    .attr('text-anchor', 'middle')
    .text('layer ℓ');
  root
    .append('text')
    .attr('class', 'chart-label')
    .attr('transform', `translate(${-MARGIN.left + 14},${height / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .text(spec.yLabel);

  if (selected >= 0 && selected < count) {
    root
      .append('line')
      .attr('class', 'chart-selected-rule')
      .attr('stroke', SELECT_COLOUR)
      .attr('x1', x(selected))
      .attr('x2', x(selected))
      .attr('y1', 0)
      .attr('y2', height);
  }

  series.forEach((s, index) => {
    const colour = seriesColour(s, index);
    const points = s.values.map((v, i) => [i, v] as [number, number]).filter(([, v]) => Number.isFinite(v));
    if (s.std) {
      const band = points.map(([i, v]) => ({ i, lo: v - (s.std![i] ?? 0), hi: v + (s.std![i] ?? 0) }));
      root
        .append('path')
        .attr('class', 'chart-band')
        .attr('data-series', s.id)
        .attr('fill', colour)
        .attr('fill-opacity', 0.16)
        .attr('stroke', 'none')
        .attr('d', area<{ i: number; lo: number; hi: number }>().x((p) => x(p.i)).y0((p) => y(p.lo)).y1((p) => y(p.hi))(band) ?? '');
    }
    root
      .append('path')
      .attr('class', s === primary ? 'chart-line' : 'chart-line secondary')
      .attr('data-series', s.id)
      .attr('fill', 'none')
      .attr('stroke', colour)
      .attr('stroke-width', s === primary ? 2 : 1.6)
      .attr('stroke-dasharray', s.std ? '6 4' : s === primary ? null : '2 3')
      .attr('d', line<[number, number]>().x(([i]) => x(i)).y(([, v]) => y(v))(points) ?? '');
    if (s !== primary) {
      root
        .append('g')
        .attr('data-series', s.id)
        .selectAll('circle')
        .data(points)
        .join('circle')
        .attr('class', 'chart-series-dot')
        .attr('data-layer', ([i]) => i)
        .attr('data-value', ([, v]) => v)
        .attr('cx', ([i]) => x(i))
        .attr('cy', ([, v]) => y(v))
        .attr('r', ([i]) => (i === selected ? 4.5 : 2.8))
        .attr('fill', colour)
        .append('title')
        .text(([i, v]) => `layer ${i}: ${s.name} = ${spec.format(v)}${s.std ? ` ± ${spec.format(s.std[i])}` : ''}`);
    }
  });

  if (primary) {
    const colour = seriesColour(primary, series.indexOf(primary));
    const points = primary.values.map((v, i) => [i, v] as [number, number]).filter(([, v]) => Number.isFinite(v));
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
    groups.append('circle').attr('class', 'chart-hit').attr('r', 13).attr('fill', 'transparent');
    groups
      .append('circle')
      .attr('class', 'chart-dot')
      .attr('r', ([i]) => (i === selected ? 7 : 4.5))
      .attr('fill', ([i]) => (i === selected ? SELECT_COLOUR : '#fff'))
      .attr('stroke', ([i]) => (i === selected ? SELECT_COLOUR : colour))
      .attr('stroke-width', 2);
    // The selected value as a readout above the plot, where no data can hide it.
    if (selected >= 0 && selected < primary.values.length) {
      root
        .append('text')
        .attr('class', 'chart-value')
        .attr('fill', SELECT_COLOUR)
        .attr('x', width)
        .attr('y', -10)
        .attr('text-anchor', 'end')
        .text(`ℓ = ${selected}: ${spec.format(primary.values[selected])}`);
    }
  }

  if (legendRows) {
    const legend = svg.append('g').attr('class', 'chart-legend').attr('transform', `translate(${MARGIN.left},${CHART_HEIGHT + 8})`);
    series.forEach((s, index) => {
      const colour = seriesColour(s, index);
      const row = legend.append('g').attr('transform', `translate(0,${index * LEGEND_ROW})`);
      if (s.std) row.append('rect').attr('x', 0).attr('y', -6).attr('width', 22).attr('height', 12).attr('fill', colour).attr('fill-opacity', 0.16);
      row
        .append('line')
        .attr('x1', 0)
        .attr('x2', 22)
        .attr('stroke', colour)
        .attr('stroke-width', 2)
        .attr('stroke-dasharray', s.std ? '6 4' : s === primary ? null : '2 3');
      // SVG text does not wrap: a name too long for the row is cut, whole in its tooltip (large type fits ~26 characters).
      const fit = spec.large ? 26 : 60;
      const text = row.append('text').attr('class', 'chart-legend-text').attr('x', 28).attr('dy', '0.35em').text(s.name.length > fit ? `${s.name.slice(0, fit - 1)}…` : s.name);
      text.append('title').text(s.name);
    });
  }
}
