import { useEffect, useRef, useState } from 'react';
import { segmentationFraction } from '../state/derived.ts';
import { exportFileName, figureFileTags, layerTable, tableToCsv, tableToJson } from '../export/exporters.ts';
import { provenanceLines, provenanceOf } from '../export/provenance.ts';
import { LOCAL_MODEL_ID } from '../models/modelFile.ts';
import { useApp, viewState, type AppState, type RunResult } from '../state/store.ts';
import { downloadFile } from '../viz/exportFigure.ts';
import { currentProvenanceInput } from './figureExport.ts';

/**
 * "Copy link": the page's URL already holds the whole view state (urlState.ts,
 * kept current by bindUrlState), so sharing is copying location.href. Where
 * the clipboard is refused, the link is shown for copying by hand.
 */
/**
 * What a copied link cannot carry (issue 19, bug 5): a model file or an image
 * local to this browser. The reopened page says so too (pipeline.ts); saying
 * it at copy time lets the sender share the file as well.
 */
export function linkCaveats(s: Pick<AppState, 'model' | 'sample' | 'source' | 'localModel' | 'localImage'>): string[] {
  const caveats: string[] = [];
  if (s.model === LOCAL_MODEL_ID) {
    const name = s.localModel ? ` "${s.localModel.name}"` : '';
    caveats.push(`the link cannot reopen your model file${name}, which stays in this browser: whoever opens it sees a shipped model instead`);
  }
  if (s.source !== 'sample') {
    const what = s.source === 'drawing' ? 'drawing' : `image${s.localImage ? ` "${s.localImage.name}"` : ''}`;
    caveats.push(`the link cannot carry your ${what}: it opens on sample ${s.sample} instead`);
  }
  return caveats;
}

export function CopyLink() {
  const [state, setState] = useState<{ kind: 'idle' } | { kind: 'copied'; caveats: string[] } | { kind: 'failed'; link: string; reason: string }>({ kind: 'idle' });
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async () => {
    const link = window.location.href;
    clearTimeout(timer.current);
    try {
      if (!navigator.clipboard) throw new Error('this page has no clipboard access');
      await navigator.clipboard.writeText(link);
      const caveats = linkCaveats(useApp.getState());
      setState({ kind: 'copied', caveats });
      // A warning stays until the next copy: it must be read, not flash by.
      if (caveats.length === 0) timer.current = setTimeout(() => setState({ kind: 'idle' }), 4000);
    } catch (error) {
      setState({ kind: 'failed', link, reason: (error as Error).message });
    }
  };
  return (
    <span className="copy-link">
      <button type="button" onClick={() => void copy()} data-testid="copy-link" title="Copy a link to exactly this view">
        Copy link
      </button>
      <span role="status" className="small" data-testid="copy-link-status" data-state={state.kind === 'copied' && state.caveats.length ? 'copied-with-caveats' : state.kind}>
        {state.kind === 'copied' && state.caveats.length === 0 && '✓ Link copied'}
        {state.kind === 'copied' && state.caveats.length > 0 && (
          <span className="copy-caveat" data-testid="copy-link-caveat">
            ⚠ Link copied, but {state.caveats.join('; and ')}.{' '}
            <button type="button" className="link-button" onClick={() => setState({ kind: 'idle' })}>
              OK
            </button>
          </span>
        )}
        {state.kind === 'failed' && (
          <>
            Could not copy ({state.reason}); copy it here: <input readOnly value={state.link} onFocus={(e) => e.target.select()} aria-label="Link to this view" />
          </>
        )}
      </span>
    </span>
  );
}

/** CSV and JSON of the per-layer numbers (src/export/exporters.ts). */
export function DataExport({ result }: { result: RunResult }) {
  const exportData = (kind: 'csv' | 'json') => {
    const s = useApp.getState();
    const stats = s.dataset && s.datasetStats.status === 'ready' ? s.datasetStats.value : undefined;
    const table = layerTable(result, { method: s.seg, fraction: segmentationFraction(s.seg, s.p, s.tau), dataset: stats });
    const name = exportFileName({ model: result.model.id, sample: result.sampleIndex, what: 'layers', tags: figureFileTags('layers', s) }, kind);
    const input = currentProvenanceInput(result);
    const provenance = provenanceOf(input);
    if (kind === 'csv') downloadFile(tableToCsv(table, provenanceLines(provenance)), name, 'text/csv;charset=utf-8');
    else downloadFile(tableToJson(table, { link: input.link, view: viewState(s), run: result, exportedAt: input.exportedAt, provenance }), name, 'application/json');
  };
  return (
    <span className="toolbar-buttons">
      <span className="muted small">Per-layer numbers:</span>
      <button type="button" onClick={() => exportData('csv')} data-testid="export-csv">
        CSV
      </button>
      <button type="button" onClick={() => exportData('json')} data-testid="export-json">
        JSON
      </button>
    </span>
  );
}

/**
 * Presentation layout switch (`present=1`, issue 19): one projected screen
 * holds the layer curves, the selected layer's figure and its numbers in
 * large type; the inputs, engine and gallery fold into a side drawer that
 * `Inputs` opens.
 */
export function PresentToggle({ drawerOpen, onDrawer }: { drawerOpen: boolean; onDrawer: (open: boolean) => void }) {
  const present = useApp((s) => s.present);
  const select = useApp((s) => s.select);
  return (
    <span className="present-tools">
      <label className="switch" title="Large type, one screen: for a projector">
        <input type="checkbox" checked={present} onChange={(e) => select({ present: e.target.checked })} data-testid="present-toggle" />
        <span>Presentation</span>
      </label>
      {present && (
        <button type="button" aria-expanded={drawerOpen} onClick={() => onDrawer(!drawerOpen)} data-testid="present-drawer">
          {drawerOpen ? 'Hide inputs' : 'Inputs & engine'}
        </button>
      )}
    </span>
  );
}
