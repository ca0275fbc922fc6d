import { meanOffDiagonal } from '../analysis/coherence.ts';
import { ALPHA_LASSO_NOTE } from '../analysis/analyseRun.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { renderHeatmap } from '../viz/heatmap.ts';
import { useD3 } from './useD3.ts';

/**
 * Head coherence of the selected layer (issue 15, docs/MEASUREMENTS.md §2.1):
 * how much the heads' subspaces of U^ℓ overlap, against the random-subspace
 * reference dh/d. The theory behind MSSA assumes incoherent heads, so this
 * checks one of its assumptions; the dictionary's incoherence is printed
 * beside it (informational). Weight-only: the same for every image.
 */
export function CoherenceView({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const stats = result.layers[layer];
  const coherence = stats?.headCoherence;
  const ref = useD3((svg) => {
    if (coherence) renderHeatmap(svg, { matrix: coherence.matrix, size: coherence.heads, reference: coherence.randomReference, format: (v) => v.toFixed(3) });
  });
  if (!coherence) return <p className="muted">No head coherence for layer {layer}: this run carries no weight measures.</p>;
  const mean = meanOffDiagonal(coherence.matrix, coherence.heads);
  const ratio = coherence.randomReference > 0 ? mean / coherence.randomReference : NaN;
  const dictionary = stats.dictionary;
  return (
    <figure className="coherence-view" data-testid="coherence-view" data-layer={layer} data-mean-off-diagonal={mean} data-reference={coherence.randomReference}>
      <p className="small" data-testid="coherence-summary">
        Layer {layer}: mean off-diagonal coherence <strong>{mean.toFixed(3)}</strong> against <strong>{coherence.randomReference.toFixed(3)}</strong> for random
        subspaces of the same size (dh/d){Number.isFinite(ratio) ? `, ${ratio.toFixed(2)}× the random value` : ''}.{' '}
        {coherence.heads < 2 ? 'One head: nothing to compare.' : mean <= coherence.randomReference ? 'The heads are at least as incoherent as random subspaces, as the theory assumes.' : 'The heads overlap more than random subspaces do: the theory’s incoherence assumption holds only loosely here.'}
        {coherence.ranks.some((r) => r < result.model.dimHead) && ` Rank-deficient heads: ${coherence.ranks.join(', ')}.`}
      </p>
      <svg ref={ref} className="figure-svg" data-figure="coherence" data-testid="coherence" role="group" aria-label={`Head coherence of layer ${layer}`} />
      <figcaption className="small muted">
        Entry (k, j) = ‖Q_kᵀQ_j‖²_F / dh, Q_k an orthonormal basis of head k’s rows of U^ℓ: 1 = the same subspace, 0 = orthogonal.
        {result.model.arch === 'crate-alpha' && <span data-testid="dictionary-not-defined"> Dictionary incoherence: {ALPHA_LASSO_NOTE}.</span>}
        {dictionary &&
          ` Dictionary D^ℓ: ‖DᵀD − I‖_F/√d = ${dictionary.gramDeviation.toFixed(3)}; column norms ${dictionary.columnNorms.min.toFixed(3)}–${dictionary.columnNorms.max.toFixed(3)} (mean ${dictionary.columnNorms.mean.toFixed(3)} ± ${dictionary.columnNorms.std.toFixed(3)}).`}
      </figcaption>
    </figure>
  );
}
