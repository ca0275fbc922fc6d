import { useEffect, useMemo, useRef } from 'react';
import { histogramOf } from '../state/derived.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { renderHistogram } from '../viz/histogram.ts';

/**
 * Histogram of Z^{ℓ+1} (CRATE-α: of z2, §1.1) for the selected layer (docs/MEASUREMENTS.md §2, sparsity): the
 * exact zeros apart, positive values in log-spaced bins. data-total is every
 * entry counted (N·d), which a test checks against the model's shape.
 */
export function HistogramView({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const histogram = useMemo(() => histogramOf(result, layer), [result, layer]);
  const ref = useRef<SVGSVGElement>(null);
  useEffect(() => {
    if (ref.current && typeof histogram !== 'string') renderHistogram(ref.current, histogram, { layer });
  }, [histogram, layer]);
  if (typeof histogram === 'string') return <p className="muted">No histogram: {histogram}.</p>;
  const binned = histogram.counts.reduce((a, b) => a + b, 0);
  const positive = histogram.total - histogram.zeros - histogram.negatives;
  // CRATE-α's histogram is of its sparse code z2, N × r·d (docs/MEASUREMENTS.md §1.1): Z^{ℓ+1} carries a residual.
  const alpha = result.model.arch === 'crate-alpha';
  return (
    <figure
      className="histogram-view"
      data-testid="histogram"
      data-layer={layer}
      data-total={histogram.zeros + histogram.negatives + histogram.below + histogram.above + binned}
      data-zeros={histogram.zeros}
      data-positive={positive}
      data-bins={histogram.counts.length}
    >
      <svg ref={ref} className="figure-svg" data-figure="histogram" role="img" aria-label={`Histogram of the ISTA output of layer ${layer}`} />
      <figcaption className="small">
        {alpha
          ? `${histogram.total.toLocaleString('en')} entries of the sparse code z2 (N·r·d = ${result.model.tokens}·${histogram.total / (result.model.tokens * result.model.dim)}·${result.model.dim})`
          : `${histogram.total.toLocaleString('en')} entries (N·d = ${result.model.tokens}·${result.model.dim})`}
        : {histogram.zeros.toLocaleString('en')} exact zeros (
        {((100 * histogram.zeros) / Math.max(histogram.total, 1)).toFixed(1)}%), {positive.toLocaleString('en')} positive
        {positive > 0 && `, from ${histogram.edges[0].toPrecision(3)} to ${histogram.edges[histogram.edges.length - 1].toPrecision(3)}`}
        {histogram.negatives > 0 && `, ${histogram.negatives} negative (a ReLU output should have none)`}.
      </figcaption>
    </figure>
  );
}
