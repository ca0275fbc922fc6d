import { useEffect, useState } from 'react';
import { cycleHead, validHead } from '../state/derived.ts';
import { useApp } from '../state/store.ts';
import { DetailPanel } from './DetailPanel.tsx';
import { EmbedView } from './EmbedView.tsx';
import { EnginePanel } from './EnginePanel.tsx';
import { InputPanel } from './InputPanel.tsx';
import { LayerPanel } from './LayerPanel.tsx';
import { Notices } from './Notices.tsx';
import { LoadableView, Panel } from './Panel.tsx';
import { Prediction } from './Prediction.tsx';
import { TeachingToggle } from './Teaching.tsx';
import { CopyLink, PresentToggle } from './Toolbar.tsx';
import { Tour, TourStart } from './Tour.tsx';

/** True while the user types or works a control that uses the arrow keys itself. */
function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName) || target.getAttribute('role') === 'slider';
}

/**
 * ←/→ change layer, ↑/↓ cycle the head (mean, 0, …, K−1). Only the view
 * state changes, so no forward pass runs (derived selectors, docs/ARCHITECTURE.md).
 */
function useKeyboard() {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || isTyping(event.target)) return;
      const s = useApp.getState();
      if (s.run.status !== 'ready') return;
      const { depth, heads } = s.run.value.model;
      if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
        const layer = Math.min(Math.max(s.layer + (event.key === 'ArrowRight' ? 1 : -1), 0), depth - 1);
        event.preventDefault();
        if (layer !== s.layer) s.select({ layer });
      } else if (event.key === 'ArrowUp' || event.key === 'ArrowDown') {
        event.preventDefault();
        s.select({ head: cycleHead(s.head, heads, event.key === 'ArrowDown' ? 1 : -1) });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

/**
 * A link may name a head or query token the loaded model does not have (the
 * URL codec only knows generic bounds): say so and fall back, as the
 * pipeline does for layers.
 */
function useViewStateGuard() {
  const run = useApp((s) => s.run);
  const head = useApp((s) => s.head);
  const query = useApp((s) => s.query);
  useEffect(() => {
    if (run.status !== 'ready') return;
    const { heads, tokens, name } = run.value.model;
    const s = useApp.getState();
    if (!validHead(run.value, head)) {
      s.notify([`model "${name}" has ${heads} heads, so head ${head} does not exist; showing the mean`]);
      s.select({ head: 'mean' });
    }
    if (query >= tokens) {
      s.notify([`model "${name}" has ${tokens} tokens, so query token ${query} does not exist; showing the class token`]);
      s.select({ query: 0 });
    }
  }, [run, head, query]);
}

export function App() {
  const manifest = useApp((s) => s.manifest);
  const run = useApp((s) => s.run);
  const layer = useApp((s) => s.layer);
  const teach = useApp((s) => s.teach);
  const present = useApp((s) => s.present);
  // Presentation layout (issue 19): the sidebar is a drawer, closed unless asked for.
  const [drawer, setDrawer] = useState(false);
  const embed = useApp((s) => s.embed);
  useKeyboard();
  useViewStateGuard();
  // embed=1 (issue 15): the figure alone, for an <iframe>.
  if (embed) return <EmbedView />;
  return (
    <div className={['app', teach && 'teach', present && 'present', present && drawer && 'drawer-open'].filter(Boolean).join(' ')} data-testid="app" data-present={present}>
      <header className="app-header">
        <div>
          <h1>CRATE Explorer</h1>
          <p className="tagline">What each layer of a white-box transformer does: compress (MSSA), then sparsify (ISTA).</p>
        </div>
        <div className="header-tools">
          <TeachingToggle />
          <PresentToggle drawerOpen={drawer} onDrawer={setDrawer} />
          <TourStart />
          <CopyLink />
        </div>
      </header>
      <Notices />
      <Tour />
      <main className="grid">
        <div className="column sidebar">
          <Panel title="Input" className="input" testId="panel-input">
            <LoadableView state={manifest} idle="Loading the list of models…">
              {(value) => <InputPanel manifest={value} />}
            </LoadableView>
          </Panel>
          <Panel title="Prediction (top 5)" className="predict" testId="panel-prediction">
            <LoadableView state={run}>{(result) => <Prediction result={result} />}</LoadableView>
          </Panel>
          <Panel title="Engine" className="engine" testId="panel-engine">
            <LoadableView state={run}>{(result) => <EnginePanel result={result} />}</LoadableView>
          </Panel>
        </div>
        <div className="column main-column">
          <Panel title="Layers" className="layers" testId="panel-layers">
            <LoadableView state={run}>{(result) => <LayerPanel result={result} />}</LoadableView>
          </Panel>
          <Panel title={`Layer ${layer} in detail`} className="detail" testId="panel-detail">
            <LoadableView state={run}>{(result) => <DetailPanel result={result} />}</LoadableView>
          </Panel>
        </div>
      </main>
    </div>
  );
}
