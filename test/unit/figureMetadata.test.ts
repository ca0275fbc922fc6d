/**
 * Captions and provenance of exports (issue 19): what a caption names for
 * each figure, the provenance lines (crop box, resize, mean/std, heads
 * assumed, engine, adapter, app version), the CSV/JSON headers, and PNG tEXt
 * chunks written and read back with valid CRCs.
 */
import { describe, expect, it } from 'vitest';
import { version } from '../../package.json';
import type { AdapterStatus } from '../../src/runners/adapter.ts';
import { layerTable, tableToCsv, tableToJson } from '../../src/export/exporters.ts';
import { adapterLine, figureCaption, latin1, provenanceLines, provenanceOf, type ProvenanceInput } from '../../src/export/provenance.ts';
import { defaultUrlState } from '../../src/state/urlState.ts';
import { crc32 } from '../../src/bytes/crc32.ts';
import { readTextChunks, textChunk, withTextChunks } from '../../src/viz/pngText.ts';
import { fakeRun, GRID } from './viewFixtures.ts';

const SWIFTSHADER: AdapterStatus = { status: 'ready', name: 'SwiftShader Device (Subzero)', vendor: 'google', architecture: 'swiftshader', fallback: false, features: [] };

function input(patch: Partial<ProvenanceInput> = {}): ProvenanceInput {
  return { run: fakeRun({ mask: true }), view: { ...defaultUrlState(), layer: 1, head: 1, query: 4 }, adapter: SWIFTSHADER, link: 'http://x/?model=fake', exportedAt: '2026-11-30T00:00:00.000Z', ...patch };
}

describe('figure captions', () => {
  it('name model, image, layer, head and query for attention; method for segmentation; variant and ε² for the rate chart', () => {
    const attention = figureCaption('attention', input(), GRID.width);
    expect(attention).toContain('model Fake');
    expect(attention).toContain('image sample 3 of Fake');
    expect(attention).toContain('layer 1');
    expect(attention).toContain('head 1, query token 4 · patch (row 1, col 0)');
    const segmentation = figureCaption('segmentation', input({ view: { ...defaultUrlState(), seg: 'mass', tau: 0.7 } }), GRID.width);
    expect(segmentation).toContain('attention mass τ = 0.7');
    const rate = figureCaption('rate', input({ view: { ...defaultUrlState(), rate: 'paper' } }), GRID.width);
    expect(rate).toContain('variant: paper formula');
    expect(rate).toContain('ε² = 0.01');
    expect(rate).not.toContain('layer 0');
  });
});

describe('provenance', () => {
  it('records the upload, its crop box, resize, mean/std, heads assumed, engine, adapter and app version', () => {
    const run = { ...fakeRun(), source: 'upload' as const, inputName: 'cat.jpg', model: { ...fakeRun().model, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } };
    const localImage = { image: run.image, source: 'upload' as const, name: 'cat.jpg', crop: { x: 10, y: 20, width: 300, height: 300, sourceWidth: 640, sourceHeight: 480 } };
    const localModel = { key: 'fake', name: 'mine.pth', bytes: 1, format: 'pth', configFrom: 'inferred', notes: [], heads: 2, headChoices: [1, 2], innerDim: 4, readMillis: 1, parseMillis: 1 } as const;
    const text = provenanceLines(provenanceOf(input({ run, localImage, localModel: { ...localModel, headChoices: [1, 2], notes: [] } }))).join('\n');
    expect(text).toContain('image: cat.jpg (upload');
    expect(text).toContain('crop box: x 10, y 20, 300×300 of 640×480');
    expect(text).toContain('resize: crop resampled by area averaging');
    expect(text).toContain('mean: 0.5, 0.5, 0.5; std: 0.25, 0.25, 0.25');
    expect(text).toContain('heads assumed: 2 heads, inferred from the weight shapes (pth file mine.pth)');
    expect(text).toContain('engine: CPU');
    expect(text).toContain('adapter: SwiftShader Device (Subzero) (software GPU)');
    expect(text).toContain(`app: CRATE Explorer ${version}`);
  });

  it('says when there is no adapter', () => {
    expect(adapterLine({ status: 'unavailable', reason: 'no navigator.gpu' })).toBe('no WebGPU adapter (no navigator.gpu)');
  });

  it('heads the CSV with # lines and puts the provenance in the JSON', () => {
    const run = fakeRun();
    const provenance = provenanceOf(input({ run }));
    const table = layerTable(run, { method: 'top', fraction: 0.6 });
    const csv = tableToCsv(table, provenanceLines(provenance)).split('\r\n');
    const comments = csv.filter((l) => l.startsWith('# '));
    expect(comments.length).toBeGreaterThanOrEqual(8);
    expect(csv[comments.length]).toMatch(/^layer,/);
    const json = JSON.parse(tableToJson(table, { link: 'l', view: {}, run, exportedAt: 't', provenance }));
    expect(json.provenance.appVersion).toBe(version);
    expect(json.provenance.engine).toBe(provenance.engine);
  });
});

describe('PNG tEXt chunks', () => {
  // The smallest valid PNG: a 1×1 grey pixel (signature, IHDR, IDAT, IEND).
  const PNG_1x1 = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=='), (c) => c.charCodeAt(0));

  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
  });

  it('inserts chunks after IHDR and reads them back', () => {
    const caption = latin1('Coding rate; ε² = 0.01; layer ℓ');
    const out = withTextChunks(PNG_1x1, [['Title', caption], ['Comment', '{"a":1}']]);
    expect(out.length).toBe(PNG_1x1.length + textChunk('Title', caption).length + textChunk('Comment', '{"a":1}').length);
    expect(readTextChunks(out)).toEqual({ Title: 'Coding rate; eps^2 = 0.01; layer l', Comment: '{"a":1}' });
    // Every chunk's CRC still checks out.
    const view = new DataView(out.buffer);
    for (let at = 8; at < out.length; ) {
      const length = view.getUint32(at);
      expect(view.getUint32(at + 8 + length)).toBe(crc32(out.subarray(at + 4, at + 8 + length)));
      at += 12 + length;
    }
    expect(() => withTextChunks(new Uint8Array(40), [])).toThrow('not a PNG');
  });
});
