import type { Manifest, ManifestModel } from '../state/manifest.ts';
import { formatBytes } from '../state/pipeline.ts';
import { useApp } from '../state/store.ts';
import { isModelUrl } from '../state/urlState.ts';

const MODELS_URL = `${import.meta.env.BASE_URL}models/`;
const THUMB = 44;

function modelOption(m: ManifestModel): string {
  const facts = [m.bytes !== undefined ? formatBytes(m.bytes) : undefined, m.accuracy !== undefined ? `${(100 * m.accuracy).toFixed(1)}% held-out` : undefined];
  return [m.name, ...facts.filter(Boolean)].join(' · ');
}

/** Model picker (name, size, accuracy), its card link, and the held-out samples as a gallery. */
export function InputPanel({ manifest }: { manifest: Manifest }) {
  const modelId = useApp((s) => s.model);
  const sample = useApp((s) => s.sample);
  const select = useApp((s) => s.select);
  const hosted = isModelUrl(modelId);
  const entry = manifest.models.find((m) => m.id === modelId) ?? (hosted ? manifest.models.find((m) => m.samples) : undefined) ?? manifest.models[0];
  const set = entry.samples;
  return (
    <div className="input-panel">
      <label className="field">
        <span>Model</span>
        <select value={hosted ? '' : entry.id} onChange={(e) => select({ model: e.target.value, sample: 0 })} data-testid="model-select">
          {hosted && <option value="">Hosted model (from the link)</option>}
          {manifest.models.map((m) => (
            <option key={m.id} value={m.id}>
              {modelOption(m)}
            </option>
          ))}
        </select>
      </label>
      <p className="description" data-testid="model-description">
        {hosted ? `A model loaded from ${modelId}; the samples are ${entry.name}'s.` : entry.description}{' '}
        {!hosted && entry.card && (
          <a href={MODELS_URL + entry.card} target="_blank" rel="noreferrer noopener">
            Model card
          </a>
        )}
      </p>
      <h3>Held-out samples</h3>
      {!set || set.count === 0 ? (
        <p className="muted">This model has no sample images.</p>
      ) : (
        <div className="samples" role="radiogroup" aria-label="Sample image" data-testid="gallery">
          {set.labels.map((label, i) => {
            const scale = THUMB / set.width;
            const col = i % set.cols;
            const row = Math.floor(i / set.cols);
            const rows = Math.ceil(set.count / set.cols);
            return (
              <button
                key={i}
                type="button"
                role="radio"
                aria-checked={i === sample}
                aria-label={`sample ${i}, label ${label}`}
                className={i === sample ? 'sample selected' : 'sample'}
                onClick={() => select({ sample: i })}
                data-testid={`sample-${i}`}
                title={`sample ${i}`}
                style={{
                  width: THUMB,
                  height: THUMB * (set.height / set.width),
                  backgroundImage: `url("${MODELS_URL}${set.atlas}")`,
                  backgroundSize: `${set.cols * THUMB}px ${rows * set.height * scale}px`,
                  backgroundPosition: `${-col * THUMB}px ${-row * set.height * scale}px`,
                }}
              />
            );
          })}
        </div>
      )}
    </div>
  );
}
