/**
 * Issue 19, bug 2: with rate=paper the chart marked ℓ = 0 at the paper value
 * while the heading and the table said the official Rᶜ. The printed numbers
 * now come from the chart's primary series; captions cite the repository's
 * docs, never a design file users do not have.
 */
import { describe, expect, it } from 'vitest';
import { rateChart } from '../../src/state/derived.ts';
import { rateNumbers } from '../../src/state/layerNumbers.ts';
import { fakeRun } from './viewFixtures.ts';

describe('rateNumbers', () => {
  it('prints the paper Rᶜ under the paper chart, and the official one under the official chart', () => {
    const run = fakeRun({ paperRate: true });
    const paper = rateNumbers(run, 'paper');
    expect(paper.values).toEqual(run.layers.map((l) => l.paperRate));
    expect(paper.values).not.toEqual(run.layers.map((l) => l.codingRate));
    expect(paper.label).toContain('paper');
    expect(paper.values).toEqual(rateChart(run, 'paper').series.find((s) => s.primary)!.values);
    const official = rateNumbers(run, 'official');
    expect(official.values).toEqual(run.layers.map((l) => l.codingRate));
    expect(official.label).toBe('Rᶜ official');
  });

  it('names R(Z^(ℓ+½)) when the run carries no paper Rᶜ', () => {
    const run = fakeRun();
    const numbers = rateNumbers(run, 'paper');
    expect(numbers.label).toBe('R(Z^(ℓ+½)) paper');
    expect(numbers.values).toEqual(rateChart(run, 'paper').series.find((s) => s.primary)!.values);
  });

  it('cites docs/MEASUREMENTS.md §2 in the chart notes, never DESIGN.md', () => {
    for (const run of [fakeRun(), fakeRun({ paperRate: true })]) {
      const note = rateChart(run, 'paper').note ?? '';
      expect(note).toContain('docs/MEASUREMENTS.md §2');
      expect(note).not.toMatch(/DESIGN/);
    }
  });
});
