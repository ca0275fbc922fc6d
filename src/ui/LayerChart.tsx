import { useEffect, useRef, useState } from 'react';
import type { FigureKind } from '../export/provenance.ts';
import type { RunResult } from '../state/store.ts';
import { renderLayerChart, type LayerChartSpec } from '../viz/layerChart.ts';
import { exportFigure } from './figureExport.ts';

/** PNG and SVG of one per-layer chart, with its caption and provenance (issue 19). */
function ChartExport({ svg, figure, result, testId }: { svg: React.RefObject<SVGSVGElement | null>; figure: FigureKind; result: RunResult; testId: string }) {
  const [status, setStatus] = useState('');
  const save = async (kind: 'png' | 'svg') => {
    if (!svg.current) return;
    try {
      setStatus(`Saved ${await exportFigure(svg.current, kind, figure, result)}`);
    } catch (error) {
      setStatus(`Export failed: ${(error as Error).message}`);
    }
  };
  return (
    <span className="chart-export">
      <button type="button" className="mini" onClick={() => void save('png')} data-testid={`${testId}-export-png`} title="Save this chart as a PNG image, with its caption">
        PNG
      </button>
      <button type="button" className="mini" onClick={() => void save('svg')} data-testid={`${testId}-export-svg`} title="Save this chart as an SVG file, with its caption">
        SVG
      </button>
      <span className="sr-only" role="status" data-testid={`${testId}-export-status`}>
        {status}
      </span>
    </span>
  );
}

/**
 * React shell around the d3 chart: React owns the <svg>, d3 owns what is
 * inside. `missing` replaces the chart with a sentence (never a blank panel);
 * `trend` says where this model's curve goes against the paper's (issue 19).
 */
export function LayerChart({
  title,
  testId,
  missing,
  note,
  trend,
  figure,
  result,
  ...spec
}: LayerChartSpec & { title: string; testId: string; missing?: string; note?: string; trend?: string; figure?: FigureKind; result?: RunResult }) {
  const ref = useRef<SVGSVGElement>(null);
  useEffect(() => {
    if (ref.current && !missing) renderLayerChart(ref.current, spec);
  });
  const primary = spec.series.find((s) => s.primary) ?? spec.series[0];
  return (
    <figure className="chart" data-testid={testId} data-missing={missing ? 'true' : undefined} data-series={primary?.id}>
      <figcaption>
        <span>{title}</span>
        {!missing && figure && result && <ChartExport svg={ref} figure={figure} result={result} testId={testId} />}
      </figcaption>
      {missing ? (
        <p className="muted small chart-missing">No data: {missing}.</p>
      ) : (
        <svg ref={ref} role="group" aria-label={title} data-figure={testId} />
      )}
      {trend && !missing && (
        <p className="small chart-trend" data-testid={`${testId}-trend`}>
          {trend}
        </p>
      )}
      {note && !missing && <p className="muted small chart-note">{note}</p>}
    </figure>
  );
}
