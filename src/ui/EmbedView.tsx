import { useApp, viewState, type RunResult } from '../state/store.ts';
import { serialiseUrlState } from '../state/urlState.ts';
import { DetailFigure } from './DetailPanel.tsx';
import { LoadableView } from './Panel.tsx';

/**
 * `embed=1` (issue 15): the current view's figure alone, sized to its frame,
 * for slides and course pages; no panels, selects or file inputs (CSS hides
 * the views' own controls under `.embed`). One small link opens the full
 * explorer on the same view. The built pages allow framing by any origin
 * (vite.config.ts, README): the page has no action worth clickjacking.
 */
export function EmbedView() {
  const run = useApp((s) => s.run);
  const view = useApp((s) => s.view);
  const layer = useApp((s) => s.layer);
  const full = `${window.location.pathname}${serialiseUrlState({ ...viewState(useApp.getState()), embed: false })}`;
  return (
    <div className="embed" data-testid="embed" data-view={view} data-layer={layer}>
      <LoadableView state={run}>
        {(result: RunResult) => (
          <div className="embed-figure" data-testid="detail-figure" data-view={view} data-layer={layer}>
            <DetailFigure result={result} view={view} />
          </div>
        )}
      </LoadableView>
      <a className="embed-open small" href={full} target="_blank" rel="noopener" data-testid="embed-open">
        CRATE Explorer · {modelName(run)} ↗
      </a>
    </div>
  );
}

function modelName(run: ReturnType<typeof useApp.getState>['run']): string {
  return run.status === 'ready' ? run.value.model.name : 'open';
}
