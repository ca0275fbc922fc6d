import { useApp } from '../state/store.ts';
import { EnginePanel } from './EnginePanel.tsx';
import { InputPanel } from './InputPanel.tsx';
import { LayerPanel } from './LayerPanel.tsx';
import { Notices } from './Notices.tsx';
import { LoadableView, Panel } from './Panel.tsx';
import { Prediction } from './Prediction.tsx';

export function App() {
  const manifest = useApp((s) => s.manifest);
  const run = useApp((s) => s.run);
  return (
    <div className="app">
      <header className="app-header">
        <div>
          <h1>CRATE Explorer</h1>
          <p className="tagline">What each layer of a white-box transformer does: compress (MSSA), then sparsify (ISTA).</p>
        </div>
      </header>
      <Notices />
      <main className="grid">
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
        <Panel title="Layers" className="layers" testId="panel-layers">
          <LoadableView state={run}>{(result) => <LayerPanel result={result} />}</LoadableView>
        </Panel>
      </main>
    </div>
  );
}
