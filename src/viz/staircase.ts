/**
 * The objective staircase (issue 15, docs/MEASUREMENTS.md §2.1): each layer
 * as two half-steps, Z^ℓ → Z^{ℓ+½} (MSSA) → Z^{ℓ+1} (ISTA), each drawn with
 * the objective it should lower, measured before and after with the SAME
 * layer's parameters:
 *   - MSSA: the official Rᶜ under U^ℓ, of LN1(Z^ℓ)·U^ℓᵀ (before, the layer's
 *     `rate_official`) and of LN1(Z^{ℓ+½})·U^ℓᵀ (after, `rate_mssa_out`);
 *   - ISTA: the LASSO objective against D^ℓ, at Z = X = LN2(Z^{ℓ+½}) (before)
 *     and at Z = Z^{ℓ+1} (after).
 * Rᶜ and LASSO have different units, so they get two rows that share the
 * half-step axis; the rate row has no line across an ISTA half-step (the
 * next layer measures with another codebook, so joining them would compare
 * two different rulers). Each step carries its Δ; a step that goes up is
 * drawn in the warning colour and says so. In dataset mode every end point
 * gets its mean ± std and each step a band between them.
 *
 * `staircaseSteps` is pure (unit-tested); `renderStaircase` is d3 over a
 * given <svg>, no React, no store (like layerChart.ts). Colours are
 * attributes so an exported SVG looks the same outside the page.
 */
import { axisBottom, axisLeft, scaleLinear, select, type ScaleLinear, type Selection } from 'd3';
import type { MeanStd } from '../analysis/dataset.ts';
import { OKABE_ITO, SELECT_COLOUR } from './colours.ts';

export type StepKind = 'mssa' | 'ista';

export interface StaircaseStep {
  kind: StepKind;
  layer: number;
  /** Half-step positions: MSSA goes ℓ → ℓ+½, ISTA ℓ+½ → ℓ+1. */
  from: number;
  to: number;
  before: number;
  after: number;
  /** after − before: negative means the step lowered its objective, as the theory says it should. */
  delta: number;
  /** Dataset mode: mean ± std over the images (then before/after are the means). */
  beforeStd?: number;
  afterStd?: number;
}

export interface Staircase {
  steps: StaircaseStep[];
  /** Why there is nothing to draw (the run has no objective values). */
  missing?: string;
  /** Images the dataset band averages, when it is one. */
  count?: number;
}

/** What a staircase reads of one image's layer: the official Rᶜ and the §2.1 values (docs/MEASUREMENTS.md §2.1). */
export interface StaircaseLayer {
  layer: number;
  codingRate: number;
  rateMssaOut?: number;
  lassoBefore?: number;
  lassoAfter?: number;
}

/** The same over a data set: each value's mean ± std. */
export interface StaircaseStats {
  count: number;
  layers: { layer: number; codingRate: MeanStd; rateMssaOut?: MeanStd; lassoBefore?: MeanStd; lassoAfter?: MeanStd }[];
}

function step(kind: StepKind, layer: number, before: number, after: number, spread?: [MeanStd, MeanStd]): StaircaseStep {
  const from = kind === 'mssa' ? layer : layer + 0.5;
  const out: StaircaseStep = { kind, layer, from, to: from + 0.5, before, after, delta: after - before };
  if (spread) {
    out.beforeStd = spread[0].std;
    out.afterStd = spread[1].std;
  }
  return out;
}

/** The steps of one image. */
export function staircaseSteps(layers: readonly StaircaseLayer[]): Staircase {
  const missing = layers.find((l) => l.rateMssaOut === undefined || l.lassoBefore === undefined || l.lassoAfter === undefined);
  if (layers.length === 0) return { steps: [], missing: 'this run has no layers' };
  if (missing) return { steps: [], missing: `layer ${missing.layer} has no before/after objective values (they need the model's weights)` };
  return {
    steps: layers.flatMap((l) => [step('mssa', l.layer, l.codingRate, l.rateMssaOut!), step('ista', l.layer, l.lassoBefore!, l.lassoAfter!)]),
  };
}

/** The same over a data set: means, with the std of each end point for the bands. */
export function datasetStaircaseSteps(stats: StaircaseStats): Staircase {
  const missing = stats.layers.find((l) => !l.rateMssaOut || !l.lassoBefore || !l.lassoAfter);
  if (missing) return { steps: [], missing: `the dataset statistics of layer ${missing.layer} have no objective values` };
  return {
    count: stats.count,
    steps: stats.layers.flatMap((l) => [
      step('mssa', l.layer, l.codingRate.mean, l.rateMssaOut!.mean, [l.codingRate, l.rateMssaOut!]),
      step('ista', l.layer, l.lassoBefore!.mean, l.lassoAfter!.mean, [l.lassoBefore!, l.lassoAfter!]),
    ]),
  };
}

/** How many steps of a kind lowered their objective, of how many. */
export function descendingCount(steps: readonly StaircaseStep[], kind: StepKind): { down: number; total: number } {
  const mine = steps.filter((s) => s.kind === kind);
  return { down: mine.filter((s) => s.delta < 0).length, total: mine.length };
}

export interface StaircaseSpec {
  image: Staircase;
  /** Dataset mean ± std, drawn as bands behind the image's steps. */
  dataset?: Staircase;
  selected: number;
  onSelect: (layer: number) => void;
}

const STAIRCASE_WIDTH = 580;
const ROW_HEIGHT = 150;
const ROW_GAP = 34;
const MARGIN = { top: 30, right: 20, bottom: 44, left: 70 };
const DOWN_COLOUR = OKABE_ITO[0];
const UP_COLOUR = SELECT_COLOUR;
const BAND_COLOUR = '#3b3f46';

const ROWS: { kind: StepKind; title: string; axis: string; format: (v: number) => string }[] = [
  { kind: 'mssa', title: 'MSSA steps: Rᶜ under the layer’s own codebook U^ℓ', axis: 'Rᶜ (nats)', format: (v) => v.toFixed(2) },
  { kind: 'ista', title: 'ISTA steps: LASSO objective against the layer’s dictionary D^ℓ', axis: 'LASSO / token', format: (v) => v.toFixed(3) },
];

/** "Z³", "Z³½": the half-step's tensor name. */
export function halfStepLabel(position: number): string {
  const whole = Math.floor(position);
  return `Z${whole}${position - whole >= 0.5 ? '½' : ''}`;
}

function domainOf(steps: readonly StaircaseStep[]): [number, number] {
  const values = steps.flatMap((s) => [s.before - (s.beforeStd ?? 0), s.before + (s.beforeStd ?? 0), s.after - (s.afterStd ?? 0), s.after + (s.afterStd ?? 0)]);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const pad = hi > lo ? (hi - lo) * 0.18 : Math.max(Math.abs(hi) * 0.05, 0.5);
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

function signed(value: number, format: (v: number) => string): string {
  return `${value < 0 ? '−' : '+'}${format(Math.abs(value))}`;
}

export function renderStaircase(svgElement: SVGSVGElement, spec: StaircaseSpec): void {
  const depth = spec.image.steps.length / 2;
  const width = STAIRCASE_WIDTH - MARGIN.left - MARGIN.right;
  const totalHeight = MARGIN.top + 2 * ROW_HEIGHT + ROW_GAP + MARGIN.bottom;
  const svg = select(svgElement).attr('viewBox', `0 0 ${STAIRCASE_WIDTH} ${totalHeight}`).attr('preserveAspectRatio', 'xMidYMid meet');
  svg.selectAll('*').remove();
  const x = scaleLinear().domain([-0.15, depth + 0.15]).range([0, width]);
  const root = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);

  // The selected layer's two half-steps, shaded across both rows.
  if (spec.selected >= 0 && spec.selected < depth) {
    root
      .append('rect')
      .attr('class', 'staircase-selected')
      .attr('x', x(spec.selected))
      .attr('width', x(spec.selected + 1) - x(spec.selected))
      .attr('y', -6)
      .attr('height', 2 * ROW_HEIGHT + ROW_GAP + 6)
      .attr('fill', SELECT_COLOUR)
      .attr('fill-opacity', 0.07);
  }

  ROWS.forEach((row, r) => {
    const top = r * (ROW_HEIGHT + ROW_GAP);
    const mine = spec.image.steps.filter((s) => s.kind === row.kind);
    const bands = spec.dataset?.steps.filter((s) => s.kind === row.kind) ?? [];
    const y = scaleLinear().domain(domainOf([...mine, ...bands])).nice().range([top + ROW_HEIGHT, top + 16]);
    const g = root.append('g').attr('class', 'staircase-row').attr('data-kind', row.kind);
    g.append('text').attr('class', 'chart-title').attr('x', 0).attr('y', top + 4).text(row.title);
    g.append('g').attr('class', 'chart-axis').call(axisLeft(y).ticks(4).tickSizeOuter(0));
    g.append('text')
      .attr('class', 'chart-label')
      .attr('transform', `translate(${-54},${top + ROW_HEIGHT / 2 + 8}) rotate(-90)`)
      .attr('text-anchor', 'middle')
      .text(row.axis);
    drawBands(g, bands, x, y);
    drawSteps(g, mine, x, y, row.format, spec);
  });

  const ticks = Array.from({ length: 2 * depth + 1 }, (_, i) => i / 2);
  root
    .append('g')
    .attr('class', 'chart-axis')
    .attr('transform', `translate(0,${2 * ROW_HEIGHT + ROW_GAP})`)
    .call(axisBottom(x).tickValues(ticks).tickFormat((d) => halfStepLabel(Number(d))).tickSizeOuter(0));
  root
    .append('text')
    .attr('class', 'chart-label')
    .attr('x', width / 2)
    .attr('y', 2 * ROW_HEIGHT + ROW_GAP + 36)
    .attr('text-anchor', 'middle')
    .text('half-steps Z^ℓ → Z^(ℓ+½) (MSSA) → Z^(ℓ+1) (ISTA)');
}

type Group = Selection<SVGGElement, unknown, null, undefined>;
type Scale = ScaleLinear<number, number>;

/** A line over a step, from (from, before) to (to, after). */
function stepLine(parent: Group, s: StaircaseStep, x: Scale, y: Scale) {
  return parent.append('line').attr('x1', x(s.from)).attr('x2', x(s.to)).attr('y1', y(s.before)).attr('y2', y(s.after));
}

function drawBands(g: Group, bands: readonly StaircaseStep[], x: Scale, y: Scale): void {
  for (const s of bands) {
    const lo = (v: number, sd = 0) => y(v - sd);
    const hi = (v: number, sd = 0) => y(v + sd);
    g.append('path')
      .attr('class', 'staircase-band')
      .attr('data-kind', s.kind)
      .attr('data-layer', s.layer)
      .attr('data-before', s.before)
      .attr('data-after', s.after)
      .attr('fill', BAND_COLOUR)
      .attr('fill-opacity', 0.13)
      .attr('d', `M${x(s.from)},${hi(s.before, s.beforeStd)}L${x(s.to)},${hi(s.after, s.afterStd)}L${x(s.to)},${lo(s.after, s.afterStd)}L${x(s.from)},${lo(s.before, s.beforeStd)}Z`);
    stepLine(g, s, x, y).attr('class', 'staircase-band-mean').attr('stroke', BAND_COLOUR).attr('stroke-width', 1.4).attr('stroke-dasharray', '5 4');
  }
}

function drawSteps(g: Group, steps: readonly StaircaseStep[], x: Scale, y: Scale, format: (v: number) => string, spec: StaircaseSpec): void {
  for (const s of steps) {
    const colour = s.delta < 0 ? DOWN_COLOUR : UP_COLOUR;
    const what = s.kind === 'mssa' ? 'MSSA' : 'ISTA';
    const verdict = s.delta < 0 ? 'lowered' : 'did not lower';
    const step = g
      .append('g')
      .attr('class', s.layer === spec.selected ? 'staircase-step selected' : 'staircase-step')
      .attr('data-kind', s.kind)
      .attr('data-layer', s.layer)
      .attr('data-before', s.before)
      .attr('data-after', s.after)
      .attr('data-delta', s.delta)
      .attr('tabindex', 0)
      .attr('role', 'button')
      .attr('aria-label', `layer ${s.layer}, ${what} step: ${format(s.before)} → ${format(s.after)}, Δ ${signed(s.delta, format)} (${verdict} its objective)`)
      .on('click', () => spec.onSelect(s.layer))
      .on('keydown', (event: KeyboardEvent) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          spec.onSelect(s.layer);
        }
      });
    step.append('title').text(`layer ${s.layer}, ${what}: ${format(s.before)} → ${format(s.after)} (Δ ${signed(s.delta, format)})`);
    // A wide transparent stroke over the segment, so the step is easy to hit.
    stepLine(step, s, x, y).attr('class', 'staircase-hit').attr('stroke', 'transparent').attr('stroke-width', 16).attr('pointer-events', 'stroke');
    stepLine(step, s, x, y).attr('stroke', colour).attr('stroke-width', s.layer === spec.selected ? 3 : 2);
    for (const [position, value] of [[s.from, s.before], [s.to, s.after]] as const) {
      step.append('circle').attr('cx', x(position)).attr('cy', y(value)).attr('r', 3.5).attr('fill', '#fff').attr('stroke', colour).attr('stroke-width', 2);
    }
    const above = Math.min(y(s.before), y(s.after)) - 7;
    step
      .append('text')
      .attr('class', 'staircase-delta')
      .attr('x', x((s.from + s.to) / 2))
      .attr('y', above)
      .attr('text-anchor', 'middle')
      .attr('fill', colour)
      .text(`Δ ${signed(s.delta, format)}${s.delta < 0 ? '' : ' ↑'}`);
  }
}
