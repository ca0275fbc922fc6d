/**
 * Issue 15's pure view helpers: the staircase's steps (src/viz/staircase.ts),
 * the embed snippet (src/ui/embedCode.ts) and the guided tour's claims
 * (src/ui/tour.ts), the last on real runs of the shipped models.
 */
import { describe, expect, it } from 'vitest';
import { layerObjective } from '../../src/analysis/objective.ts';
import type { DatasetStats, LayerStats } from '../../src/state/store.ts';
import { defaultUrlState, parseUrlState } from '../../src/state/urlState.ts';
import { embedSnippet, embedUrl, escapeAttribute } from '../../src/ui/embedCode.ts';
import { clampStep, stepLayer, TOUR_STEPS } from '../../src/ui/tour.ts';
import { datasetStaircaseSteps, descendingCount, halfStepLabel, staircaseSteps } from '../../src/viz/staircase.ts';
import { loadShippedModel } from '../helpers/shippedModels.ts';
import { shippedRun } from '../helpers/shippedRun.ts';

const layer = (l: number, codingRate: number, rateMssaOut: number, lassoBefore: number, lassoAfter: number): LayerStats => ({ layer: l, codingRate, sparsity: 0.5, rateMssaOut, lassoBefore, lassoAfter });

describe('objective staircase steps', () => {
  it('one MSSA and one ISTA step per layer, at half-step positions, with Δ = after − before', () => {
    const { steps, missing } = staircaseSteps([layer(0, 10, 7, 3, 1), layer(1, 8, 9, 2, 2.5)]);
    expect(missing).toBeUndefined();
    expect(steps.map((s) => [s.kind, s.layer, s.from, s.to])).toEqual([
      ['mssa', 0, 0, 0.5],
      ['ista', 0, 0.5, 1],
      ['mssa', 1, 1, 1.5],
      ['ista', 1, 1.5, 2],
    ]);
    expect(steps.map((s) => s.delta)).toEqual([-3, -2, 1, 0.5]);
    expect(descendingCount(steps, 'mssa')).toEqual({ down: 1, total: 2 });
    expect(descendingCount(steps, 'ista')).toEqual({ down: 1, total: 2 });
  });

  it('says what is missing instead of drawing a partial staircase', () => {
    const partial: LayerStats[] = [layer(0, 10, 7, 3, 1), { layer: 1, codingRate: 8, sparsity: 0.5 }];
    expect(staircaseSteps(partial)).toEqual({ steps: [], missing: expect.stringContaining('layer 1') });
  });

  it('dataset mode: means as values, each end point with its std', () => {
    const ms = (mean: number, std: number) => ({ mean, std });
    const stats: DatasetStats = {
      modelId: 'm',
      count: 5,
      layers: [{ layer: 0, codingRate: ms(10, 1), paperRate: ms(0, 0), sparsity: ms(0.5, 0), rateMssaOut: ms(8, 0.5), lassoBefore: ms(3, 0.2), lassoAfter: ms(1, 0.1) }],
    };
    const { steps, count } = datasetStaircaseSteps(stats);
    expect(count).toBe(5);
    expect(steps[0]).toMatchObject({ kind: 'mssa', before: 10, after: 8, beforeStd: 1, afterStd: 0.5, delta: -2 });
    expect(steps[1]).toMatchObject({ kind: 'ista', before: 3, after: 1, beforeStd: 0.2, afterStd: 0.1, delta: -2 });
  });

  it('names half-steps as tensors', () => {
    expect([0, 0.5, 1, 5.5].map(halfStepLabel)).toEqual(['Z0', 'Z0½', 'Z1', 'Z5½']);
  });

  it("on the shipped default model, the steps are the analysis' own objective values", () => {
    const run = shippedRun(defaultUrlState().model);
    const shipped = loadShippedModel(defaultUrlState().model);
    const { steps } = staircaseSteps(run.layers);
    const { config, shape } = shipped.model;
    for (let l = 0; l < config.depth; l++) {
      const direct = layerObjective(run.outputs.layers[l], shipped.model.weights.layers[l], { tokens: shape.tokens, dim: config.dim, heads: config.heads, dimHead: config.dim_head }, config.lambda);
      expect(steps[2 * l].after).toBeCloseTo(direct.rateMssaOut, 9);
      expect(steps[2 * l].before).toBeCloseTo(run.layers[l].codingRate, 9);
      expect(steps[2 * l + 1].before).toBeCloseTo(direct.lassoBefore, 9);
      expect(steps[2 * l + 1].after).toBeCloseTo(direct.lassoAfter, 9);
    }
  });
});

describe('embed code', () => {
  it('escapes attribute text', () => {
    expect(escapeAttribute('a&b"c<d>')).toBe('a&amp;b&quot;c&lt;d&gt;');
  });

  it('links the same view with embed=1 and no tour; the link reads back to that view', () => {
    const state = { ...defaultUrlState(), view: 'objective' as const, layer: 3, tour: 4 };
    const url = embedUrl('https://example.org/crate/', state);
    const parsed = parseUrlState(new URL(url).search);
    expect(parsed.notices).toEqual([]);
    expect(parsed.state).toEqual({ ...state, embed: true, tour: 0 });
    const snippet = embedSnippet(url, 'CRATE "figure"');
    expect(snippet).toMatch(/^<iframe src="https:\/\/example\.org\/crate\/\?[^"]*embed=1[^"]*" width="\d+" height="\d+" [^>]*title="CRATE &quot;figure&quot;"><\/iframe>$/);
    expect(snippet).not.toContain('tour=');
    expect(snippet).toContain('&amp;layer=3');
  });
});

describe('guided tour', () => {
  it('has 8 to 12 steps, mostly on the default model, each on a view tab', () => {
    expect(TOUR_STEPS.length).toBeGreaterThanOrEqual(8);
    expect(TOUR_STEPS.length).toBeLessThanOrEqual(12);
    expect(TOUR_STEPS.filter((s) => s.model === defaultUrlState().model).length).toBeGreaterThan(TOUR_STEPS.length / 2);
  });

  it('clamps step numbers and resolves layers counted from the end', () => {
    expect([0, -3, 1, 3.2, 99].map(clampStep)).toEqual([0, 0, 1, 3, TOUR_STEPS.length]);
    expect(stepLayer({ ...TOUR_STEPS[0], layer: -1 }, 6)).toBe(5);
    expect(stepLayer({ ...TOUR_STEPS[0], layer: 9 }, 6)).toBe(5);
  });

  const runs = new Map<string, ReturnType<typeof shippedRun>>();
  const runFor = (model: string, sample: number) => {
    const key = `${model}:${sample}`;
    if (!runs.has(key)) runs.set(key, shippedRun(model, sample));
    return runs.get(key)!;
  };

  it('every claim carries a number measured on the image, and it changes with the sample', () => {
    TOUR_STEPS.forEach((step, i) => {
      const a = runFor(step.model, 0);
      const b = runFor(step.model, 1);
      const claimA = step.claim(a, stepLayer(step, a.model.depth));
      const claimB = step.claim(b, stepLayer(step, b.model.depth));
      expect(claimA.holds, `step ${i + 1} is measured`).not.toBeUndefined();
      expect(claimA.text, `step ${i + 1} states a number`).toMatch(/\d\.\d/);
      expect(Number.isFinite(claimA.value), `step ${i + 1} value`).toBe(true);
      if (claimA.holds === false) expect(claimA.contradiction, `step ${i + 1} says why`).toBeTruthy();
      if (step.weightsOnly) expect(claimB.text, `step ${i + 1} reads the weights only`).toBe(claimA.text);
      else expect(claimB.value === claimA.value && claimB.text === claimA.text, `step ${i + 1}: another image, other numbers`).toBe(false);
    });
  });

  it('says plainly when the measurement contradicts the claim, and keeps the number', () => {
    const run = runFor(defaultUrlState().model, 0);
    const mssa = TOUR_STEPS[1];
    const l = stepLayer(mssa, run.model.depth);
    const rising = { ...run, layers: run.layers.map((s, i) => (i === l ? { ...s, rateMssaOut: s.codingRate + 12.4 } : s)) };
    const claim = mssa.claim(rising, l);
    expect(claim.holds).toBe(false);
    expect(claim.contradiction).toMatch(/rose by 12\.40 nats/);
    expect(claim.text).toContain((rising.layers[l].codingRate + 12.4).toFixed(2));
    const falling = { ...run, layers: run.layers.map((s, i) => (i === l ? { ...s, rateMssaOut: s.codingRate - 12.4 } : s)) };
    expect(mssa.claim(falling, l)).toMatchObject({ holds: true, text: expect.stringContaining('lowered Rᶜ by 12.40 nats') });
  });
});
