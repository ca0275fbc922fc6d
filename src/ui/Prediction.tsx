import { ENGINE_LABELS } from '../engine/runner.ts';
import { useApp, type Agreement, type RunResult } from '../state/store.ts';
import { formatPercent } from './format.ts';

/**
 * Relative deviation (max |Δ| / max |value|) above which two engines are said
 * to disagree. Honest engines agree to ≤ 1e-4 on every shipped model (e2e
 * app.spec.ts, noWebgpu.spec.ts); a graph that computes something else than
 * its weights (issue 20 #2: constant logits, "7 99.9 %") is off by order 1.
 */
export const DISAGREEMENT_TOLERANCE = 1e-3;

export function disagrees(agreement: Agreement): boolean {
  // NaN compares false: a NaN deviation is a disagreement too.
  return !(agreement.logits <= DISAGREEMENT_TOLERANCE && agreement.layers <= DISAGREEMENT_TOLERANCE);
}

const formatDeviation = (value: number) => (Number.isFinite(value) ? value.toExponential(1) : '∞');

/** Said on the prediction itself, not only in the engine panel: the numbers above it may be false. */
function Disagreement({ result }: { result: RunResult }) {
  const agreement = useApp((s) => s.agreement);
  if (agreement.status !== 'ready' || agreement.value.engine !== result.engine || !disagrees(agreement.value)) return null;
  const { reference, logits, layers } = agreement.value;
  return (
    <p className="error" role="alert" data-testid="prediction-disagreement">
      <strong>The engines disagree:</strong> {ENGINE_LABELS[reference]} differs from {ENGINE_LABELS[result.engine]} by {formatDeviation(logits)} in the logits
      and {formatDeviation(layers)} in the layer tensors (relative; honest engines agree to 10⁻⁴). This prediction may be wrong: the model file's graph may not
      compute what its weights do.
    </p>
  );
}

/**
 * The last image gave no result to show (a NaN or an infinity in its
 * activations, issue 20 #15): said here, beside the last result that was.
 */
function NoNewResult() {
  const problem = useApp((s) => s.runProblem);
  if (!problem) return null;
  return (
    <p className="error" role="alert" data-testid="prediction-problem">
      <strong>No result for {problem.what}:</strong> {problem.message}. Still showing the previous result.
    </p>
  );
}

/** Top-5 classes with their softmax probabilities, as text and bars. */
export function Prediction({ result }: { result: RunResult }) {
  return (
    <div className="prediction">
      <NoNewResult />
      <Disagreement result={result} />
      <ol className="topk" data-testid="top5" data-model={result.modelId} data-sample={result.sampleIndex}>
        {result.top.map((c) => (
          <li key={c.index} data-class={c.index} data-probability={c.probability}>
            <span className="topk-label">{c.label}</span>
            <span className="topk-bar" aria-hidden="true">
              <span style={{ width: `${Math.max(100 * c.probability, 0.5)}%` }} />
            </span>
            <span className="topk-value">{formatPercent(c.probability)}</span>
          </li>
        ))}
      </ol>
      <p className="muted small">
        {ENGINE_LABELS[result.engine]} · {result.model.depth} layers · {result.forwardMillis.toFixed(1)} ms
        {result.label !== undefined && ` · true label: ${result.model.labels[result.label] ?? result.label}`}
      </p>
    </div>
  );
}
