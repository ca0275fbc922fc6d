import { Component, type ErrorInfo, type ReactNode } from 'react';
import { useApp } from '../state/store.ts';

interface Props {
  /** What failed, for the message ("the Layers panel"). */
  what: string;
  children: ReactNode;
  /** When one of these changes (a new result, another layer or view), the boundary tries its children again. */
  resetKeys: readonly unknown[];
}

interface State {
  error?: Error;
  resetKeys: readonly unknown[];
}

const sameKeys = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/**
 * One panel's failure stays in that panel: React unmounts the whole tree on an
 * uncaught render error, so without this an output the views cannot draw
 * blanked the page (issue 20 #2). Shows the error in place, and retries on the
 * next result, so the rest of the page stays usable.
 */
export class ErrorBoundary extends Component<Props, State> {
  override state: State = { resetKeys: this.props.resetKeys };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return sameKeys(props.resetKeys, state.resetKeys) ? null : { error: undefined, resetKeys: props.resetKeys };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`${this.props.what} failed to render`, error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="error" role="alert" data-testid="panel-error">
        <strong>Error:</strong> {this.props.what} could not be shown ({error.message.slice(0, 300)}). The rest of the page still works; choose another image or
        model to try again.
      </div>
    );
  }
}

/** The boundary around one panel (Panel.tsx): retried whenever the result or the selected layer, head or view changes. */
export function PanelBoundary({ what, children }: { what: string; children: ReactNode }) {
  const run = useApp((s) => s.run);
  const layer = useApp((s) => s.layer);
  const head = useApp((s) => s.head);
  const view = useApp((s) => s.view);
  return (
    <ErrorBoundary what={what} resetKeys={[run, layer, head, view]}>
      {children}
    </ErrorBoundary>
  );
}
