/**
 * Where a shipped model's per-layer curve goes against the paper's trend
 * (issue 19): MSSA descends on Rᶜ and ISTA promotes zeros, so the paper's
 * plots fall with depth (docs/MEASUREMENTS.md §2). A small model trained
 * briefly need not follow them (sparsity rises again at the last layers of
 * all three shipped models; Rᶜ rises at layer 1 on scenes), and the view must
 * say so on the chart rather than let the teaching text claim the opposite.
 */

/** Steps ℓ−1 → ℓ where `values` rises by more than `relative` of its range (noise-level wiggles are not a trend). */
export function risingSteps(values: readonly number[], relative = 0.01): number[] {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return [];
  const range = Math.max(...finite) - Math.min(...finite);
  const steps: number[] = [];
  for (let l = 1; l < values.length; l++) {
    if (Number.isFinite(values[l]) && Number.isFinite(values[l - 1]) && values[l] - values[l - 1] > relative * range) steps.push(l);
  }
  return steps;
}

function stepList(steps: readonly number[]): string {
  return steps.map((l) => `${l - 1}→${l}`).join(', ');
}

/**
 * One sentence for under a chart whose paper trend is falling, or undefined
 * when the curve falls throughout. It speaks of the dataset mean when there is
 * one (the trend, not one image's noise), else of this image.
 */
export function againstTrendNote(what: string, image: readonly number[], mean?: readonly number[]): string | undefined {
  const meanSteps = mean ? risingSteps(mean) : [];
  const imageSteps = risingSteps(image);
  if (mean && meanSteps.length) {
    return `Against the paper's falling trend: the dataset mean of ${what} rises at ℓ ${stepList(meanSteps)}.`;
  }
  if (!mean && imageSteps.length) {
    return `Against the paper's falling trend: ${what} rises at ℓ ${stepList(imageSteps)} (this image).`;
  }
  return undefined;
}
