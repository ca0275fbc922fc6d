/**
 * A loading indicator that appears only after LOADING_DELAY_MS, so that
 * switching between samples of a small model never flashes a progress bar:
 * `update` records the latest message (shown at once when the indicator is
 * already up), `done` cancels it. Nothing is applied once the job's signal
 * is aborted.
 */
import type { Loadable } from '../state/store.ts';

/** A wait shorter than this shows no progress indicator at all. */
export const LOADING_DELAY_MS = 300;

export type LoadingState = Extract<Loadable<unknown>, { status: 'loading' }>;

export function deferredLoading(apply: (state: LoadingState) => void, signal: AbortSignal, delayMs = LOADING_DELAY_MS) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let shown = false;
  let pending: LoadingState | undefined;
  const done = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    pending = undefined;
  };
  signal.addEventListener('abort', done, { once: true });
  return {
    update(state: Omit<LoadingState, 'status'>) {
      if (signal.aborted) return;
      pending = { status: 'loading', ...state };
      if (shown) {
        apply(pending);
        return;
      }
      timer ??= setTimeout(() => {
        timer = undefined;
        if (!signal.aborted && pending) {
          shown = true;
          apply(pending);
        }
      }, delayMs);
    },
    done,
  };
}
