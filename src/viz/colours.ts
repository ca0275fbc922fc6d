/**
 * Colours of every figure. Lines use the Okabe–Ito palette (distinguishable
 * with the common colour-vision deficiencies); maps use viridis, which is
 * perceptually uniform and colour-blind safe (issue 6), so equal steps of
 * attention look like equal steps of colour.
 */
import { interpolateViridis, rgb } from 'd3';
import type { Series } from './series.ts';

export const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'] as const;
/** The selected layer / head / patch. Vermillion: distinct from every line colour above but #D55E00, which lines use last. */
export const SELECT_COLOUR = '#D55E00';
/** Predicted segmentation masks and ground truth. */
export const MASK_COLOUR: [number, number, number] = [230, 159, 0];
export const TRUTH_COLOUR: [number, number, number] = [86, 180, 233];

/** Dataset means are drawn in dark grey whatever their index, so "this image" keeps its colour. */
export function seriesColour(series: Series, index: number): string {
  if (series.std) return '#3b3f46';
  return OKABE_ITO[index % OKABE_ITO.length];
}

/** 256-entry viridis lookup table, RGB bytes. */
export const VIRIDIS: Uint8Array = (() => {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = rgb(interpolateViridis(i / 255));
    table[3 * i] = c.r;
    table[3 * i + 1] = c.g;
    table[3 * i + 2] = c.b;
  }
  return table;
})();

export function viridisCss(t: number): string {
  return interpolateViridis(Math.min(Math.max(t, 0), 1));
}
