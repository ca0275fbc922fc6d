import { useEffect, useRef } from 'react';
import { renderLayerChart, type LayerChartSpec } from '../viz/layerChart.ts';

/**
 * React shell around the d3 chart: React owns the <svg>, d3 owns what is
 * inside. `missing` replaces the chart with a sentence (never a blank panel).
 */
export function LayerChart({ title, testId, missing, note, ...spec }: LayerChartSpec & { title: string; testId: string; missing?: string; note?: string }) {
  const ref = useRef<SVGSVGElement>(null);
  useEffect(() => {
    if (ref.current && !missing) renderLayerChart(ref.current, spec);
  });
  const primary = spec.series.find((s) => s.primary) ?? spec.series[0];
  return (
    <figure className="chart" data-testid={testId} data-missing={missing ? 'true' : undefined} data-series={primary?.id}>
      <figcaption>{title}</figcaption>
      {missing ? (
        <p className="muted small chart-missing">No data: {missing}.</p>
      ) : (
        <svg ref={ref} role="group" aria-label={title} data-figure={testId} />
      )}
      {note && !missing && <p className="muted small chart-note">{note}</p>}
    </figure>
  );
}
