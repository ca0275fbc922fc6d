/** Issue 19: the chart says where a curve goes against the paper's falling trend (src/state/trend.ts). */
import { describe, expect, it } from 'vitest';
import { againstTrendNote, risingSteps } from '../../src/state/trend.ts';

describe('risingSteps', () => {
  it('finds the steps that rise by more than 1% of the range', () => {
    expect(risingSteps([0.9, 0.7, 0.5, 0.3, 0.35, 0.6])).toEqual([4, 5]);
    expect(risingSteps([100, 120, 90, 80])).toEqual([1]);
    expect(risingSteps([1, 0.5, 0.500001, 0.2])).toEqual([]);
    expect(risingSteps([1])).toEqual([]);
    expect(risingSteps([1, NaN, 2])).toEqual([]);
  });
});

describe('againstTrendNote', () => {
  it('speaks of the dataset mean when there is one', () => {
    const note = againstTrendNote('sparsity', [0.9, 0.8, 0.7], [0.9, 0.5, 0.6]);
    expect(note).toContain('dataset mean of sparsity rises at ℓ 1→2');
  });
  it('speaks of this image without a dataset', () => {
    expect(againstTrendNote('Rᶜ', [5, 6, 4])).toBe("Against the paper's falling trend: Rᶜ rises at ℓ 0→1 (this image).");
  });
  it('says nothing when the curve falls', () => {
    expect(againstTrendNote('Rᶜ', [5, 4, 3])).toBeUndefined();
    expect(againstTrendNote('Rᶜ', [5, 6, 3], [5, 4, 3])).toBeUndefined();
  });
});
