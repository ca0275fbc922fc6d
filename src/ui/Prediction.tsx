import { ENGINE_LABELS } from '../engine/runner.ts';
import type { RunResult } from '../state/store.ts';
import { formatPercent } from './format.ts';

/** Top-5 classes with their softmax probabilities, as text and bars. */
export function Prediction({ result }: { result: RunResult }) {
  return (
    <div className="prediction">
      <ol className="topk" data-testid="top5">
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
