import { useRef, useState } from 'react';
import { useApp, type RunResult } from '../state/store.ts';
import { DETAIL_VIEWS, type DetailView } from '../state/urlState.ts';
import { AttentionView } from './AttentionView.tsx';
import { CoherenceView } from './CoherenceView.tsx';
import { CopyEmbedCode } from './CopyEmbedCode.tsx';
import { exportFigure as saveFigure } from './figureExport.ts';
import { HeadsGrid } from './HeadsGrid.tsx';
import { HistogramView } from './HistogramView.tsx';
import { PcaView } from './PcaView.tsx';
import { SegmentationView } from './SegmentationView.tsx';
import { StaircaseView } from './StaircaseView.tsx';
import { Teaching, type Topic } from './Teaching.tsx';

const VIEW_LABELS: Record<DetailView, string> = {
  attention: 'Attention',
  segmentation: 'Segmentation',
  histogram: 'Sparsity histogram',
  pca: 'PCA of tokens',
  objective: 'Objective staircase',
  coherence: 'Head coherence',
  heads: 'Heads × images',
};

/** The teaching box of each view; the objective views explain the layer as a whole. */
const TOPICS: Record<DetailView, Topic> = {
  attention: 'attention',
  segmentation: 'segmentation',
  histogram: 'histogram',
  pca: 'pca',
  objective: 'overview',
  coherence: 'overview',
  heads: 'attention',
};

/** The figure of one detail view, alone: the detail panel shows it, and so does an embedded page (EmbedView.tsx). */
export function DetailFigure({ result, view }: { result: RunResult; view: DetailView }) {
  switch (view) {
    case 'attention':
      return <AttentionView result={result} />;
    case 'segmentation':
      return <SegmentationView result={result} />;
    case 'histogram':
      return <HistogramView result={result} />;
    case 'pca':
      return <PcaView result={result} />;
    case 'objective':
      return <StaircaseView result={result} />;
    case 'coherence':
      return <CoherenceView result={result} />;
    case 'heads':
      return <HeadsGrid result={result} />;
  }
}

/**
 * Layer detail (issue 6): one view of the selected layer at a time (the URL's
 * `view`), every one computed by src/state/derived.ts from the kept tensors,
 * so switching view, layer or head never runs the model again (docs/ARCHITECTURE.md).
 * The toolbar exports the figure in view as PNG or SVG.
 */
export function DetailPanel({ result }: { result: RunResult }) {
  const view = useApp((s) => s.view);
  const layer = useApp((s) => s.layer);
  const select = useApp((s) => s.select);
  const figureRef = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<string>('');
  const exportFigure = async (kind: 'png' | 'svg') => {
    const svg = figureRef.current?.querySelector<SVGSVGElement>('svg[data-figure]');
    if (!svg) {
      setStatus('There is no figure to export in this view.');
      return;
    }
    try {
      // Caption, provenance and a file name unique per view (issue 19): src/ui/figureExport.ts.
      const name = await saveFigure(svg, kind, view, result);
      setStatus(`Saved ${name}`);
    } catch (error) {
      setStatus(`Export failed: ${(error as Error).message}`);
    }
  };
  return (
    <div className="detail-panel">
      <div className="panel-toolbar">
        <div className="tabs" role="tablist" aria-label="Detail view">
          {DETAIL_VIEWS.map((v) => (
            <button key={v} type="button" role="tab" aria-selected={v === view} className={v === view ? 'tab selected' : 'tab'} onClick={() => select({ view: v })} data-testid={`view-tab-${v}`}>
              {VIEW_LABELS[v]}
            </button>
          ))}
        </div>
        <div className="toolbar-buttons">
          <button type="button" onClick={() => void exportFigure('png')} data-testid="export-png" title="Save the figure in view as a PNG image">
            PNG
          </button>
          <button type="button" onClick={() => void exportFigure('svg')} data-testid="export-svg" title="Save the figure in view as an SVG file">
            SVG
          </button>
          <CopyEmbedCode />
          <span className="muted small" role="status" data-testid="export-status">
            {status}
          </span>
        </div>
      </div>
      <div className="with-teaching">
        <div className="detail-figure" ref={figureRef} data-testid="detail-figure" data-view={view} data-layer={layer}>
          <DetailFigure result={result} view={view} />
        </div>
        <Teaching topic={TOPICS[view]} />
      </div>
    </div>
  );
}
