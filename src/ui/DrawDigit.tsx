import { useEffect, useRef } from 'react';
import { layoutDigit } from '../image/digitLayout.ts';
import { useApp } from '../state/store.ts';

/** Drawing resolution; the canvas is shown at DISPLAY_SIDE CSS pixels. */
const SIDE = 280;
const DISPLAY_SIDE = 168;
/**
 * Stroke width in drawing pixels: 22 of 280 is ~2.2 px at 28×28, the
 * thickness of an MNIST pen stroke.
 */
const STROKE = 22;

/**
 * A draw-a-digit pad for grey digit models: white strokes on black, laid out
 * as MNIST digits are (layoutDigit), run when the pointer is released.
 */
export function DrawDigit({ size }: { size: [number, number] }) {
  const useLocalImage = useApp((s) => s.useLocalImage);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const last = useRef<{ x: number; y: number } | undefined>(undefined);

  const clear = () => {
    const context = canvasRef.current?.getContext('2d', { willReadFrequently: true });
    if (!context) return;
    context.fillStyle = '#000';
    context.fillRect(0, 0, SIDE, SIDE);
  };
  useEffect(clear, []);

  const at = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) / rect.width) * SIDE, y: ((e.clientY - rect.top) / rect.height) * SIDE };
  };

  const line = (from: { x: number; y: number }, to: { x: number; y: number }) => {
    const context = canvasRef.current!.getContext('2d', { willReadFrequently: true })!;
    context.strokeStyle = '#fff';
    context.lineWidth = STROKE;
    context.lineCap = 'round';
    context.lineJoin = 'round';
    context.beginPath();
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
  };

  const finish = () => {
    if (!last.current) return;
    last.current = undefined;
    const context = canvasRef.current!.getContext('2d', { willReadFrequently: true })!;
    const { data, width, height } = context.getImageData(0, 0, SIDE, SIDE);
    const digit = layoutDigit({ width, height, data }, size[1], size[0]);
    if (digit) useLocalImage({ image: digit, source: 'drawing', name: 'your drawing' });
  };

  return (
    <div style={{ display: 'flex', gap: '0.6rem', alignItems: 'flex-end' }}>
      <canvas
        ref={canvasRef}
        width={SIDE}
        height={SIDE}
        data-testid="draw-canvas"
        aria-label="Draw a digit: white on black; the model runs when you release"
        style={{ width: DISPLAY_SIDE, height: DISPLAY_SIDE, touchAction: 'none', cursor: 'crosshair', borderRadius: 6, display: 'block' }}
        onPointerDown={(e) => {
          e.currentTarget.setPointerCapture(e.pointerId);
          const p = at(e);
          last.current = p;
          line(p, p);
        }}
        onPointerMove={(e) => {
          if (!last.current) return;
          const p = at(e);
          line(last.current, p);
          last.current = p;
        }}
        onPointerUp={finish}
        onPointerCancel={finish}
      />
      <button type="button" onClick={clear} data-testid="draw-clear">
        Clear
      </button>
    </div>
  );
}
