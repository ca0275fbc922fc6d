/**
 * Histogram of the ISTA output Z^{ℓ+1} (docs/MEASUREMENTS.md §2, sparsity), drawn with
 * d3. Two panels: the exact zeros the ReLU makes, as a share of all N·d
 * entries, and the positive values in log-spaced bins on a log axis (they
 * span several decades; analysis/sparsity.ts logHistogram). The zeros get
 * their own panel because they are one value, not a range, and would
 * otherwise dwarf every bin.
 */
import { axisBottom, axisLeft, format, scaleLinear, scaleLog, select } from 'd3';
import type { LogHistogram } from '../analysis/sparsity.ts';
import { OKABE_ITO } from './colours.ts';

const HISTOGRAM_WIDTH = 640;
const HISTOGRAM_HEIGHT = 270;
const MARGIN = { top: 30, right: 16, bottom: 44, left: 56 };
const ZERO_PANEL = 70;
const GAP = 56;

export function renderHistogram(svgElement: SVGSVGElement, histogram: LogHistogram, caption: { layer: number }): void {
  const svg = select(svgElement)
    .attr('viewBox', `0 0 ${HISTOGRAM_WIDTH} ${HISTOGRAM_HEIGHT}`)
    .attr('preserveAspectRatio', 'xMidYMid meet');
  svg.selectAll('*').remove();
  const height = HISTOGRAM_HEIGHT - MARGIN.top - MARGIN.bottom;
  const binsWidth = HISTOGRAM_WIDTH - MARGIN.left - MARGIN.right - ZERO_PANEL - GAP;
  const root = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);
  const total = histogram.total;
  const zeroShare = total > 0 ? histogram.zeros / total : 0;

  // Zero panel: share of all entries.
  const yShare = scaleLinear().domain([0, 1]).range([height, 0]);
  const zero = root.append('g').attr('class', 'histogram-zero');
  zero.append('g').attr('class', 'chart-axis').call(axisLeft(yShare).ticks(5).tickFormat(format('.0%')).tickSizeOuter(0));
  zero
    .append('rect')
    .attr('class', 'histogram-zero-bar')
    .attr('data-count', histogram.zeros)
    .attr('x', 14)
    .attr('width', ZERO_PANEL - 24)
    .attr('y', yShare(zeroShare))
    .attr('height', height - yShare(zeroShare))
    .attr('fill', OKABE_ITO[1])
    .append('title')
    .text(`${histogram.zeros} exact zeros of ${total} entries (${(100 * zeroShare).toFixed(1)}%)`);
  zero
    .append('text')
    .attr('class', 'chart-value-small')
    .attr('x', ZERO_PANEL / 2 - 5)
    .attr('y', yShare(zeroShare) - 5)
    .attr('text-anchor', 'middle')
    .text(`${(100 * zeroShare).toFixed(1)}%`);
  zero
    .append('text')
    .attr('class', 'chart-label')
    .attr('x', ZERO_PANEL / 2 - 5)
    .attr('y', height + 18)
    .attr('text-anchor', 'middle')
    .text('= 0');
  zero
    .append('text')
    .attr('class', 'chart-label')
    .attr('transform', `translate(${-42},${height / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .text('share of N·d entries');

  // Positive values: counts per log-spaced bin.
  const positive = root.append('g').attr('class', 'histogram-bins').attr('transform', `translate(${ZERO_PANEL + GAP},0)`);
  const { edges, counts } = histogram;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const maxCount = Math.max(1, ...counts);
  const yCount = scaleLinear().domain([0, maxCount]).nice().range([height, 0]);
  positive.append('g').attr('class', 'chart-axis').call(axisLeft(yCount).ticks(5).tickSizeOuter(0));
  positive
    .append('text')
    .attr('class', 'chart-label')
    .attr('transform', `translate(${-42},${height / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .text('entries per bin');
  if (hi > lo) {
    const x = scaleLog().domain([lo, hi]).range([0, binsWidth]);
    positive
      .append('g')
      .attr('class', 'chart-axis')
      .attr('transform', `translate(0,${height})`)
      .call(axisBottom(x).ticks(6, '~g').tickSizeOuter(0));
    positive
      .selectAll('rect')
      .data(Array.from(counts, (count, i) => ({ count, i })))
      .join('rect')
      .attr('class', 'histogram-bar')
      .attr('data-count', (d) => d.count)
      .attr('x', (d) => x(edges[d.i]))
      .attr('width', (d) => Math.max(x(edges[d.i + 1]) - x(edges[d.i]) - 0.5, 0.5))
      .attr('y', (d) => yCount(d.count))
      .attr('height', (d) => height - yCount(d.count))
      .attr('fill', OKABE_ITO[0])
      .append('title')
      .text((d) => `[${edges[d.i].toPrecision(3)}, ${edges[d.i + 1].toPrecision(3)}): ${d.count}`);
  } else {
    positive
      .append('text')
      .attr('class', 'chart-label')
      .attr('x', binsWidth / 2)
      .attr('y', height / 2)
      .attr('text-anchor', 'middle')
      .text(hi > 0 ? `every positive entry equals ${hi.toPrecision(4)}` : 'no positive entries');
  }
  positive
    .append('text')
    .attr('class', 'chart-label')
    .attr('x', binsWidth / 2)
    .attr('y', height + 36)
    .attr('text-anchor', 'middle')
    .text('value of a positive entry (log scale)');
  svg
    .append('text')
    .attr('class', 'chart-title')
    .attr('x', MARGIN.left)
    .attr('y', 16)
    .text(`Entries of Z^(ℓ+1), layer ${caption.layer}: ${histogram.zeros} zeros, ${total - histogram.zeros - histogram.negatives} positive`);
}
