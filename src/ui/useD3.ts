import { useEffect, useRef } from 'react';

/**
 * React owns the <svg>, d3 draws inside it (as LayerChart.tsx does): `draw`
 * runs after every render, on the element, so the figure always matches the props.
 */
export function useD3(draw: (svg: SVGSVGElement) => void) {
  const ref = useRef<SVGSVGElement>(null);
  useEffect(() => {
    if (ref.current) draw(ref.current);
  });
  return ref;
}
