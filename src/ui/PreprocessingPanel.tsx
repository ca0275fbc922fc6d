import { useEffect, useRef } from 'react';
import { PREP_CHOICES, PREP_LABELS, type PrepChoice } from '../image/inputPreprocessing.ts';
import { useApp, type RunResult } from '../state/store.ts';

/** Longest side of the outlined source image, CSS pixels. */
const OUTLINE_SIDE = 160;

/**
 * Which preprocessing made an ImageNet-layout model's input (issue 16, docs/MEASUREMENTS.md §1.2):
 * the choice (evaluation transform, squash, your crop), one sentence saying what ran, and the image
 * before preprocessing with the part the model sees outlined.
 */
export function PreprocessingPanel({ result }: { result: RunResult }) {
  const prep = useApp((s) => s.prep);
  const select = useApp((s) => s.select);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const applied = result.preprocessing;
  const source = result.sourceImage;
  const scale = source ? OUTLINE_SIDE / Math.max(source.width, source.height) : 1;
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !source || !applied) return;
    const bitmap = document.createElement('canvas');
    bitmap.width = source.width;
    bitmap.height = source.height;
    bitmap.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(source.data), source.width, source.height), 0, 0);
    const context = canvas.getContext('2d')!;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const { x, y, width, height } = applied.outline;
    const [sx, sy] = [canvas.width / source.width, canvas.height / source.height];
    context.strokeStyle = '#ffb020';
    context.lineWidth = 2;
    context.strokeRect(x * sx + 1, y * sy + 1, Math.max(width * sx - 2, 1), Math.max(height * sy - 2, 1));
  }, [source, applied]);
  if (!applied) return null;
  return (
    <div className="preprocessing small" data-testid="preprocessing-panel" data-kind={applied.kind} data-choice={applied.choice}>
      <label className="field" style={{ marginBottom: '0.3rem' }}>
        <span>Preprocessing</span>
        <select value={prep} onChange={(e) => select({ prep: e.target.value as PrepChoice })} data-testid="prep-select">
          {PREP_CHOICES.map((c) => (
            <option key={c} value={c}>
              {PREP_LABELS[c]}
            </option>
          ))}
        </select>
      </label>
      <p className="muted" style={{ margin: '0.2rem 0' }} data-testid="preprocessing">
        Input: {applied.description}.
      </p>
      {source && (
        <canvas
          ref={canvasRef}
          width={Math.max(1, Math.round(source.width * scale))}
          height={Math.max(1, Math.round(source.height * scale))}
          data-testid="preprocessing-outline"
          data-outline={JSON.stringify(applied.outline)}
          aria-label="The image before preprocessing; the outline is the part the model sees"
          style={{ display: 'block', borderRadius: 4, maxWidth: '100%' }}
        />
      )}
    </div>
  );
}
