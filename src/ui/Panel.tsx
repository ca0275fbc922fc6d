import type { ReactNode } from 'react';
import { formatBytes } from './format.ts';
import type { Loadable } from '../state/store.ts';
import { PanelBoundary } from './ErrorBoundary.tsx';

/** Shows a loadable's progress or error, or its content when ready: never a blank panel. */
export function LoadableView<T>({ state, children, idle = 'Waiting…' }: { state: Loadable<T>; children: (value: T) => ReactNode; idle?: string }) {
  switch (state.status) {
    case 'idle':
      return <p className="muted">{idle}</p>;
    case 'loading':
      return (
        <div className="loading" role="status" aria-live="polite">
          <p>{state.message}</p>
          <progress max={1} value={state.fraction} aria-label={state.message} data-testid="progress" />
          {state.bytes && (
            <p className="muted small" data-testid="progress-bytes">
              {formatBytes(state.bytes.received)}
              {state.bytes.total ? ` of ${formatBytes(state.bytes.total)}` : ''}
            </p>
          )}
        </div>
      );
    case 'error':
      return (
        <div className="error" role="alert">
          <strong>Error:</strong> {state.message}
        </div>
      );
    case 'ready':
      return <>{children(state.value)}</>;
  }
}

export function Panel({ title, className, children, testId }: { title: string; className?: string; children: ReactNode; testId?: string }) {
  return (
    <section className={`panel ${className ?? ''}`} aria-label={title} data-testid={testId}>
      <h2>{title}</h2>
      <PanelBoundary what={`the ${title} panel`}>{children}</PanelBoundary>
    </section>
  );
}
