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
        {result.engine} engine · {result.model.depth} layers · {result.millis.toFixed(1)} ms
      </p>
    </div>
  );
}
