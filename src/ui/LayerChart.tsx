import { useEffect, useRef } from 'react';
import { renderLayerChart, type LayerChartSpec } from '../viz/layerChart.ts';

/** React shell around the d3 chart: React owns the <svg>, d3 owns what is inside. */
export function LayerChart({ title, testId, ...spec }: LayerChartSpec & { title: string; testId: string }) {
  const ref = useRef<SVGSVGElement>(null);
  useEffect(() => {
    if (ref.current) renderLayerChart(ref.current, spec);
  });
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <svg ref={ref} role="group" aria-label={title} />
    </figure>
  );
}
