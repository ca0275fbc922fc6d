/**
 * The export serialisers (src/export/exporters.ts): CSV quoting and formula
 * injection, exact round trip of the numbers, which columns appear when, the
 * JSON document, and safe file names from untrusted model ids.
 */
import { describe, expect, it } from 'vitest';
import { expansionRates, iouSeries } from '../../src/state/derived.ts';
import { csvField, exportFileName, layerTable, tableToCsv, tableToJson, type LayerTable } from '../../src/export/exporters.ts';
import type { DatasetStats } from '../../src/state/store.ts';
import { fakeRun } from './viewFixtures.ts';

/** A small CSV reader (RFC 4180 quotes), enough to read back what tableToCsv writes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

function stats(modelId: string, layers: number, withIou = false): DatasetStats {
  const ms = (mean: number) => ({ mean, std: mean / 10 });
  return {
    modelId,
    count: 12,
    layers: Array.from({ length: layers }, (_, l) => ({ layer: l, codingRate: ms(5 + l), paperRate: ms(7 + l), sparsity: ms(0.3), ...(withIou ? { iou: ms(0.4) } : {}) })),
  };
}

describe('csvField', () => {
  it('writes numbers at full precision and non-finite numbers as empty cells', () => {
    expect(csvField(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(csvField(-3)).toBe('-3');
    expect(csvField(NaN)).toBe('');
    expect(csvField(Infinity)).toBe('');
    expect(csvField(undefined)).toBe('');
  });
  it('quotes commas, quotes and line breaks', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('plain')).toBe('plain');
  });
  it('defuses text a spreadsheet would run as a formula', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
  });
});

describe('layerTable', () => {
  it('has the official rate, sparsity and R(Z^{l+1/2}) per layer, and no IoU without a mask', () => {
    const run = fakeRun();
    const table = layerTable(run, { method: 'top', fraction: 0.6 });
    expect(table.columns.map((c) => c.key)).toEqual(['layer', 'codingRate', 'sparsity', 'rateZHalf']);
    expect(table.rows).toHaveLength(run.layers.length);
    table.rows.forEach((row, l) => {
      expect(row.layer).toBe(l);
      expect(row.codingRate).toBe(run.layers[l].codingRate);
      expect(row.sparsity).toBe(run.layers[l].sparsity);
      expect(row.rateZHalf).toBe(expansionRates(run)[l]);
    });
  });

  it('adds the IoU columns of the chosen method where the sample has a mask', () => {
    const run = fakeRun({ mask: true });
    const top = layerTable(run, { method: 'top', fraction: 0.5 });
    const mass = layerTable(run, { method: 'mass', fraction: 0.3 });
    expect(top.columns.map((c) => c.key)).toEqual(['layer', 'codingRate', 'sparsity', 'rateZHalf', 'iouBest', 'iouBestHead', 'iouUnion']);
    expect(top.columns.find((c) => c.key === 'iouBest')!.label).toContain('top-P = 0.5');
    expect(mass.columns.find((c) => c.key === 'iouBest')!.label).toContain('mass tau = 0.3');
    const ious = iouSeries(run, 'top', 0.5);
    if (typeof ious === 'string') throw new Error(ious);
    expect(top.rows.map((r) => r.iouBest)).toEqual(ious.best);
    expect(top.rows.map((r) => r.iouUnion)).toEqual(ious.union);
    expect(top.rows.map((r) => r.iouBestHead)).toEqual(ious.heads);
  });

  it('adds the paper R^c when the run carries it', () => {
    const table = layerTable(fakeRun({ paperRate: true }), { method: 'top', fraction: 0.6 });
    expect(table.columns.map((c) => c.key)).toContain('paperRate');
    expect(table.rows.map((r) => r.paperRate)).toEqual([20, 19]);
  });

  it('adds dataset mean and std only for statistics of the same model and depth', () => {
    const run = fakeRun();
    const own = layerTable(run, { method: 'top', fraction: 0.6, dataset: stats('fake', 2) });
    expect(own.columns.map((c) => c.key)).toEqual(expect.arrayContaining(['codingRateMean', 'codingRateStd', 'paperRateMean', 'sparsityMean', 'sparsityStd']));
    expect(own.columns.map((c) => c.key)).not.toContain('iouMean');
    expect(own.rows.map((r) => r.codingRateMean)).toEqual([5, 6]);
    expect(own.rows.map((r) => r.codingRateStd)).toEqual([0.5, 0.6]);
    expect(layerTable(run, { method: 'top', fraction: 0.6, dataset: stats('fake', 2, true) }).rows[1].iouMean).toBe(0.4);
    for (const other of [stats('another', 2), stats('fake', 3)]) {
      expect(layerTable(run, { method: 'top', fraction: 0.6, dataset: other }).columns.map((c) => c.key)).toEqual(['layer', 'codingRate', 'sparsity', 'rateZHalf']);
    }
  });
});

describe('tableToCsv', () => {
  it('reads back to the same numbers, bit for bit', () => {
    const table = layerTable(fakeRun({ mask: true }), { method: 'top', fraction: 0.6 });
    const csv = tableToCsv(table);
    expect(csv.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual(table.columns.map((c) => c.label));
    expect(rows).toHaveLength(1 + table.rows.length);
    rows.slice(1).forEach((cells, i) => {
      table.columns.forEach((c, j) => expect(Number(cells[j])).toBe(table.rows[i][c.key]));
    });
  });
  it('leaves missing values empty', () => {
    const table: LayerTable = { columns: [{ key: 'a', label: 'a' }, { key: 'b', label: 'b, c' }], rows: [{ a: 1 }, { a: NaN, b: 2 }] };
    expect(tableToCsv(table)).toBe('a,"b, c"\r\n1,\r\n,2\r\n');
  });
});

describe('tableToJson', () => {
  it('records what produced the numbers, with non-finite values as null', () => {
    const run = fakeRun();
    const table: LayerTable = { columns: [{ key: 'layer', label: 'layer' }, { key: 'x', label: 'x' }], rows: [{ layer: 0, x: 1.5 }, { layer: 1, x: NaN }] };
    const text = tableToJson(table, { link: 'http://127.0.0.1/?model=fake&layer=1', view: { layer: 1, head: 'mean' }, run, exportedAt: '2025-01-01T00:00:00.000Z' });
    const document = JSON.parse(text);
    expect(document.format).toBe('crate-explorer/layers@1');
    expect(document.link).toBe('http://127.0.0.1/?model=fake&layer=1');
    expect(document.model).toMatchObject({ id: 'fake', tokens: 7, dim: 4, depth: 2, heads: 2, dimHead: 2 });
    expect(document.sample).toEqual({ index: 3, label: 1 });
    expect(document.engine).toBe('cpu');
    expect(document.view).toEqual({ layer: 1, head: 'mean' });
    expect(document.layers).toEqual([{ layer: 0, x: 1.5 }, { layer: 1, x: null }]);
    expect(document.columns).toEqual(table.columns);
  });
});

describe('exportFileName', () => {
  it('names the model, sample, layer and figure', () => {
    expect(exportFileName({ model: 'digits', sample: 4, layer: 2, what: 'attention' }, 'png')).toBe('crate-digits-s4-l2-attention.png');
    expect(exportFileName({ model: 'digits', sample: 0, what: 'layers' }, 'csv')).toBe('crate-digits-s0-layers.csv');
  });
  it('keeps only safe characters of an untrusted model id, bounded', () => {
    const name = exportFileName({ model: 'https://evil.example/../../a b/<x>.onnx?q="1"', sample: 1, what: 'pca' }, 'svg');
    expect(name).toMatch(/^crate-[A-Za-z0-9._-]+-s1-pca\.svg$/);
    expect(name).not.toContain('..');
    expect(exportFileName({ model: 'x'.repeat(500), sample: 1, what: 'pca' }, 'svg').length).toBeLessThan(80);
    expect(exportFileName({ model: '///', sample: 1, what: 'pca' }, 'svg')).toBe('crate-model-s1-pca.svg');
  });
});
