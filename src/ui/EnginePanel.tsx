import { ENGINE_LABELS } from '../engine/runner.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { ENGINE_CHOICES, type EngineChoice } from '../state/urlState.ts';
import { AdapterStatus } from './AdapterStatus.tsx';
import { GpuProfileView } from './GpuProfile.tsx';
import { KeptOpenDetails } from './KeptOpenDetails.tsx';
import { KernelVariants } from './KernelVariants.tsx';

const CHOICE_LABELS: Record<EngineChoice, string> = { auto: 'Automatic (fastest here)', ...ENGINE_LABELS };

function formatDeviation(value: number): string {
  return Number.isFinite(value) ? value.toExponential(1) : '∞';
}

/** Which engine ran and why, the user's override, and how far it is from an independent engine. */
export function EnginePanel({ result }: { result: RunResult }) {
  const choice = useApp((s) => s.engine);
  const select = useApp((s) => s.select);
  const agreement = useApp((s) => s.agreement);
  return (
    <div className="engine-panel">
      <label className="field">
        <span>Engine</span>
        <select value={choice} onChange={(e) => select({ engine: e.target.value as EngineChoice })} data-testid="engine-select">
          {ENGINE_CHOICES.map((c) => (
            <option key={c} value={c}>
              {CHOICE_LABELS[c]}
            </option>
          ))}
        </select>
      </label>
      <p data-testid="engine-used" data-engine={result.engine}>
        Ran on <strong>{ENGINE_LABELS[result.engine]}</strong>: {result.engineReason}.
      </p>
      <p className="muted small">
        This image took {result.forwardMillis.toFixed(1)} ms through the model and {result.analysisMillis.toFixed(1)} ms to measure.
      </p>
      <AdapterStatus />
      <KeptOpenDetails className="tech-details engine-details" id="engine-check-details" summary="Accuracy check and GPU timings">
        <p data-testid="agreement" data-status={agreement.status} data-logits={agreement.status === 'ready' ? agreement.value.logits : undefined} data-layers={agreement.status === 'ready' ? agreement.value.layers : undefined}>
          {agreement.status === 'ready' ? (
            <>
              Max deviation from {ENGINE_LABELS[agreement.value.reference]}: logits {formatDeviation(agreement.value.logits)}, layer tensors{' '}
              {formatDeviation(agreement.value.layers)} (relative to the largest value; {agreement.value.referenceMillis.toFixed(0)} ms).
            </>
          ) : agreement.status === 'loading' ? (
            agreement.message
          ) : agreement.status === 'error' ? (
            `No comparison: ${agreement.message}`
          ) : (
            'Comparison pending.'
          )}
        </p>
        <GpuProfileView result={result} />
      </KeptOpenDetails>
      <KeptOpenDetails className="tech-details engine-details" id="kernel-details" summary="Kernel variants">
        <KernelVariants result={result} />
      </KeptOpenDetails>
    </div>
  );
}
