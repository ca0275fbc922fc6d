import { useEffect, useRef } from 'react';
import { useApp } from '../state/store.ts';
import { clampStep, stepLayer, TOUR_STEPS, type TourStep } from './tour.ts';

/** The view a step sets; `keepSample` keeps the link's own sample when it already shows the step's model. */
function applyStep(step: TourStep, index: number, keepSample: boolean) {
  const s = useApp.getState();
  const depth = s.run.status === 'ready' && s.run.value.modelId === step.model ? s.run.value.model.depth : undefined;
  const sameModel = s.model === step.model;
  s.select({
    tour: index,
    model: step.model,
    view: step.view,
    // Negative layers count from the end: resolved now if the model is loaded, else once it is (useResolveLayer).
    layer: depth !== undefined ? stepLayer(step, depth) : Math.max(step.layer, 0),
    ...(keepSample && sameModel ? {} : { sample: step.sample, source: 'sample' as const }),
  });
}

/** A step whose layer counts from the end needs the model's depth: set it when the step's model has loaded. */
function useResolveLayer(step: TourStep | undefined, index: number) {
  const run = useApp((s) => s.run);
  const resolvedFor = useRef<string>('');
  useEffect(() => {
    if (!step || step.layer >= 0 || run.status !== 'ready' || run.value.modelId !== step.model) return;
    const key = `${index}|${run.value.modelId}`;
    if (resolvedFor.current === key) return;
    resolvedFor.current = key;
    useApp.getState().select({ layer: stepLayer(step, run.value.model.depth) });
  }, [step, index, run]);
}

/**
 * The guided tour (`tour=N`, issue 15): one claim per step with the number
 * measured on the image on screen (src/ui/tour.ts), Back/Next buttons and
 * the keyboard (n / b, or PageDown / PageUp; Escape leaves). Leaving keeps
 * the view as it is.
 */
export function Tour() {
  const tour = useApp((s) => s.tour);
  const run = useApp((s) => s.run);
  const layer = useApp((s) => s.layer);
  const index = clampStep(tour);
  const step = index > 0 ? TOUR_STEPS[index - 1] : undefined;
  const opened = useRef(false);
  useResolveLayer(step, index);

  // A link that opens a step (?tour=2) gets that step's view; the link's sample is kept.
  useEffect(() => {
    if (opened.current || !step) return;
    opened.current = true;
    applyStep(step, index, true);
  }, [step, index]);

  useEffect(() => {
    if (!step) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName))) return;
      if (event.key === 'n' || event.key === 'PageDown') go(index + 1);
      else if (event.key === 'b' || event.key === 'PageUp') go(index - 1);
      else if (event.key === 'Escape') useApp.getState().select({ tour: 0 });
      else return;
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [step, index]);

  if (!step) return null;
  const ready = run.status === 'ready' && run.value.modelId === step.model && layer < run.value.layers.length ? run.value : undefined;
  const claim = ready ? step.claim(ready, layer) : undefined;
  const status = !claim ? 'measuring' : claim.holds === undefined ? 'unmeasured' : claim.holds ? 'holds' : 'contradicted';
  return (
    <section className={`tour tour-${status}`} aria-label="Guided tour" data-testid="tour" data-step={index} data-steps={TOUR_STEPS.length} data-status={status} data-value={claim?.value}>
      <div className="tour-head">
        <strong>
          Tour · step {index} of {TOUR_STEPS.length}: {step.title}
        </strong>
        <span className="tour-buttons">
          <button type="button" onClick={() => go(index - 1)} disabled={index <= 1} data-testid="tour-back" aria-keyshortcuts="b PageUp">
            ← Back
          </button>
          <button type="button" onClick={() => go(index + 1)} disabled={index >= TOUR_STEPS.length} data-testid="tour-next" aria-keyshortcuts="n PageDown">
            Next →
          </button>
          <button type="button" className="link-button" onClick={() => useApp.getState().select({ tour: 0 })} data-testid="tour-leave" aria-keyshortcuts="Escape">
            Leave the tour
          </button>
        </span>
      </div>
      <p className="tour-claim" data-testid="tour-claim" aria-live="polite">
        {claim ? claim.text : 'Measuring on the image on screen…'}
      </p>
      {claim?.holds === false && (
        <p className="tour-contradiction" data-testid="tour-contradiction">
          ⚠ On this image the measurement contradicts the claim. {claim.contradiction}
        </p>
      )}
      <p className="muted small tour-hint">
        {step.weightsOnly ? 'This measure reads the weights only: it is the same on every image.' : 'Change the sample to see the numbers on another image.'} Keys: n / b for next and back, Esc to leave.
      </p>
    </section>
  );
}

function go(index: number) {
  if (index < 1 || index > TOUR_STEPS.length) return;
  applyStep(TOUR_STEPS[index - 1], index, false);
}

/** Header button that opens the tour at step 1 (hidden while the tour is open). */
export function TourStart() {
  const tour = useApp((s) => s.tour);
  if (clampStep(tour) > 0) return null;
  return (
    <button type="button" onClick={() => go(1)} data-testid="tour-start" title="A guided tour: one claim of the paper per step, measured on the image on screen">
      Guided tour
    </button>
  );
}
