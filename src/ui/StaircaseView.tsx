import { useMemo } from 'react';
import { ALPHA_LASSO_NOTE } from '../analysis/analyseRun.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { datasetStaircaseSteps, descendingCount, renderStaircase, staircaseSteps, type StaircaseStep } from '../viz/staircase.ts';
import { useD3 } from './useD3.ts';

const fmt = (v: number, kind: StaircaseStep['kind']) => (kind === 'mssa' ? v.toFixed(2) : v.toFixed(3));

/**
 * The objective staircase (issue 15, docs/MEASUREMENTS.md §2.1): does each
 * MSSA step lower Rᶜ under its own codebook, and each ISTA step the LASSO
 * objective? One figure over all half-steps, the selected layer shaded, and
 * in dataset mode the mean ± std bands behind this image's steps.
 */
export function StaircaseView({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const select = useApp((s) => s.select);
  const dataset = useApp((s) => s.dataset);
  const stats = useApp((s) => s.datasetStats);
  const image = useMemo(() => staircaseSteps(result.layers), [result.layers]);
  const bands = useMemo(() => {
    if (!dataset || stats.status !== 'ready' || stats.value.modelId !== result.modelId || stats.value.layers.length !== result.layers.length) return undefined;
    const steps = datasetStaircaseSteps(stats.value);
    return steps.missing ? undefined : steps;
  }, [dataset, stats, result.modelId, result.layers.length]);
  const ref = useD3((svg) => renderStaircase(svg, { image, dataset: bands, selected: layer, onSelect: (l) => select({ layer: l }) }));
  // CRATE-α: the ISTA half-steps are not defined (docs/MEASUREMENTS.md §1.1); say so rather than draw half a staircase.
  if (result.model.arch === 'crate-alpha') {
    return (
      <p className="muted" data-testid="staircase-not-defined">
        No objective staircase: the LASSO objective of its ISTA half-steps is {ALPHA_LASSO_NOTE}.
      </p>
    );
  }
  if (image.missing) return <p className="muted">No objective staircase: {image.missing}.</p>;
  const mssa = descendingCount(image.steps, 'mssa');
  const ista = descendingCount(image.steps, 'ista');
  const here = image.steps.filter((s) => s.layer === layer);
  return (
    <figure className="staircase-view" data-testid="staircase-view" data-bands={bands ? bands.count : undefined}>
      <p className="small" data-testid="staircase-summary">
        On this image, MSSA lowered Rᶜ under its own codebook in <strong>{mssa.down} of {mssa.total}</strong> layers, and ISTA lowered the LASSO objective in{' '}
        <strong>{ista.down} of {ista.total}</strong>.{' '}
        {here.map((s) => (
          <span key={s.kind} data-testid={`staircase-selected-${s.kind}`} data-delta={s.delta}>
            Layer {layer} {s.kind === 'mssa' ? 'MSSA' : 'ISTA'}: {fmt(s.before, s.kind)} → {fmt(s.after, s.kind)} (Δ {s.delta < 0 ? '−' : '+'}
            {fmt(Math.abs(s.delta), s.kind)}
            {s.delta < 0 ? '' : ', did not descend'}).{' '}
          </span>
        ))}
        {dataset && !bands && <span className="muted">The dataset bands appear when dataset mode has measured the set.</span>}
      </p>
      <svg ref={ref} className="figure-svg" data-figure="objective" data-testid="staircase" role="group" aria-label="Objective staircase: each layer's MSSA and ISTA steps" />
      <figcaption className="small muted">
        MSSA step: official Rᶜ (ε² = 0.01, unit-norm head rows) of LN1(Z^ℓ)U^ℓᵀ before and LN1(Z^(ℓ+½))U^ℓᵀ after, one codebook U^ℓ. ISTA step: (1/N)(½‖ZDᵀ − X‖² + λ‖Z‖₁) with X = LN2(Z^(ℓ+½)), at Z = X and at Z = Z^(ℓ+1). Blue steps went down, vermillion steps went up.
        {bands && ` Grey bands: mean ± std over ${bands.count} images.`}
      </figcaption>
    </figure>
  );
}
