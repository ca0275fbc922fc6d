/**
 * Issue 19, bug 1: one query patch had three names (URL query=38, label
 * "patch (row 4, col 5)", export title "query patch 37"). The convention is
 * the URL's token index, counting the class token; this ties the URL, the
 * page label, the figure title and the export file name to that one number.
 */
import { describe, expect, it } from 'vitest';
import { exportFileName, figureFileTags } from '../../src/export/exporters.ts';
import { attentionTitle, cellOfQuery, patchOfQuery, queryFileTag, queryLabel, queryOfCell } from '../../src/state/queryNaming.ts';
import { defaultUrlState, parseUrlState, serialiseUrlState } from '../../src/state/urlState.ts';

const GRID_WIDTH = 8; // the scenes model: 64×64 images, patch 8

describe('query naming', () => {
  it('names ?query=38 as token 38 in the URL, the label, the title and the file name', () => {
    const { state, notices } = parseUrlState('?model=scenes&view=attention&query=38');
    expect(notices).toEqual([]);
    expect(state.query).toBe(38);
    expect(serialiseUrlState(state)).toContain('query=38');
    const label = queryLabel(state.query, GRID_WIDTH);
    expect(label).toBe('token 38 · patch (row 4, col 5)');
    const title = attentionTitle(2, state.query, GRID_WIDTH);
    expect(title).toBe(`head 2, query ${label}`);
    // No other number for the same patch appears anywhere: 37 is the 0-based cell, never shown.
    for (const text of [label, title]) expect(text).not.toMatch(/\b37\b/);
    const name = exportFileName({ model: state.model, sample: state.sample, layer: state.layer, what: 'attention', tags: figureFileTags('attention', { ...state, head: 2 }) }, 'svg');
    expect(name).toBe('crate-scenes-s0-l0-attention-h2-q38.svg');
    expect(queryFileTag(state.query)).toBe('q38');
  });

  it('a click on grid cell (row 4, col 5) selects token 38, which maps back to the same cell', () => {
    const cell = 4 * GRID_WIDTH + 5;
    const query = queryOfCell(cell);
    expect(query).toBe(38);
    expect(cellOfQuery(query)).toBe(cell);
    expect(patchOfQuery(query, GRID_WIDTH)).toEqual({ row: 4, col: 5 });
  });

  it('names the class token the same way everywhere', () => {
    expect(defaultUrlState().query).toBe(0);
    expect(queryLabel(0, GRID_WIDTH)).toBe('class token');
    expect(attentionTitle('mean', 0, GRID_WIDTH)).toBe('mean of heads, query class token');
    expect(patchOfQuery(0, GRID_WIDTH)).toBeUndefined();
    expect(cellOfQuery(0)).toBe(-1);
    expect(queryFileTag(0)).toBe('qcls');
  });

  it('gives two heads, two queries and two methods different file names', () => {
    const view = { ...defaultUrlState(), model: 'scenes' };
    const name = (what: 'attention' | 'segmentation' | 'layers', patch: Partial<typeof view>) =>
      exportFileName({ model: 'scenes', sample: 0, layer: 1, what, tags: figureFileTags(what, { ...view, ...patch }) }, 'png');
    expect(name('attention', { head: 0 })).not.toBe(name('attention', { head: 1 }));
    expect(name('attention', { query: 0 })).not.toBe(name('attention', { query: 5 }));
    expect(name('segmentation', { seg: 'top' })).not.toBe(name('segmentation', { seg: 'mass' }));
    expect(name('segmentation', { p: 0.5 })).not.toBe(name('segmentation', { p: 0.6 }));
    expect(name('layers', { rate: 'official' })).not.toBe(name('layers', { rate: 'paper' }));
  });
});
