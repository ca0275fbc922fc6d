import type { KernelsUsed } from '../engine/runner.ts';
import { LoadableView } from './Panel.tsx';
import { useApp, type RunResult } from '../state/store.ts';

/** The store action the "Retune kernels" button calls; the pipeline forwards it to the runner's `retune`. */

const SOURCE_TEXT: Record<KernelsUsed['source'], string> = {
  tuned: 'timed on this adapter just now',
  cached: 'chosen by an earlier tuning on this adapter (cached)',
  default: 'the safe default, not tuned',
  given: 'given explicitly, not tuned',
  fallback: 'tuning failed, so the safe default runs',
};

/** The tuner's output check, in words: the f16 variant's error against f32 is the figure a user asks for. */
function deviationText({ deviation, from }: { deviation: number; from: string }, variant: string): string {
  if (variant === from) return 'the default: the reference the other variants were checked against';
  if (deviation === 0) return `output identical to the default ${from}'s (same order of sums)`;
  return `output within ${deviation.toExponential(1)} of the default ${from}'s (max |Δ| ÷ max |value|${variant.endsWith('-f16') ? '; the f16 error against f32' : ''})`;
}

/**
 * The variant of each tunable kernel our WGSL engine ran (issue 18), where
 * the choice came from, and the retune control. Other engines have no
 * variants, which it says rather than showing nothing.
 */
export function KernelVariants({ result }: { result: RunResult }) {
  const requestRetune = useApp((s) => s.requestRetune);
  const retuning = useApp((s) => s.retuning);
  const kernels = result.outputs?.kernels;
  if (result.engine !== 'wgsl') {
    return (
      <p className="muted small" data-testid="kernel-variants" data-status="not-ours">
        Kernel variants apply to our WGSL engine only; this image ran on another engine.
      </p>
    );
  }
  if (!kernels) {
    return (
      <p className="muted small" data-testid="kernel-variants" data-status="fixed">
        This model runs on our WGSL engine with one fixed kernel per step (CRATE-α); there are no kernel variants to tune.
      </p>
    );
  }
  const seconds = kernels.tuneMillis !== undefined ? ` in ${(kernels.tuneMillis / 1000).toFixed(1)} s` : '';
  return (
    <div className="kernel-variants" data-testid="kernel-variants" data-status="ours" data-source={kernels.source} data-tune-millis={kernels.tuneMillis}>
      <p>
        Kernel variants: {SOURCE_TEXT[kernels.source]}
        {kernels.source === 'tuned' ? seconds : ''}.
      </p>
      <ul className="small">
        {Object.entries(kernels.variants).map(([kernel, variant]) => (
          <li key={kernel} data-testid="kernel-variant" data-kernel={kernel} data-variant={variant}>
            <strong>{kernel}</strong>: {kernels.descriptions?.[kernel] ?? variant}
            {kernels.deviations?.[kernel] !== undefined ? (
              <span className="muted" data-testid="kernel-deviation" data-deviation={kernels.deviations[kernel].deviation}>
                {' '}
                · {deviationText(kernels.deviations[kernel], variant)}
              </span>
            ) : null}
          </li>
        ))}
      </ul>
      {kernels.note ? (
        <p className="muted small" data-testid="kernel-tuning-note">
          {kernels.note}.
        </p>
      ) : null}
      <button
        type="button"
        data-testid="retune-kernels"
        disabled={retuning.status === 'loading'}
        title="Time every kernel variant again on this adapter (a few seconds)"
        onClick={requestRetune}
      >
        Retune kernels
      </button>
      {retuning.status !== 'idle' && (
        <div data-testid="retune-status" data-status={retuning.status}>
          <LoadableView state={retuning}>{() => <p className="muted small">Retuned; the image above ran on the new choice.</p>}</LoadableView>
        </div>
      )}
    </div>
  );
}
