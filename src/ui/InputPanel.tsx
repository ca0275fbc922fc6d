import type { Manifest } from '../state/manifest.ts';
import { useApp } from '../state/store.ts';

const MODELS_URL = `${import.meta.env.BASE_URL}models/`;

/** Model choice, its description, and the sample images as buttons. */
export function InputPanel({ manifest }: { manifest: Manifest }) {
  const modelId = useApp((s) => s.model);
  const sample = useApp((s) => s.sample);
  const select = useApp((s) => s.select);
  const entry = manifest.models.find((m) => m.id === modelId) ?? manifest.models[0];
  return (
    <div className="input-panel">
      <label className="field">
        <span>Model</span>
        <select value={entry.id} onChange={(e) => select({ model: e.target.value, sample: 0 })} data-testid="model-select">
          {manifest.models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </label>
      <p className="description" data-testid="model-description">
        {entry.description}
      </p>
      <h3>Sample image</h3>
      {entry.samples.length === 0 ? (
        <p className="muted">This model has no sample images.</p>
      ) : (
        <div className="samples" role="radiogroup" aria-label="Sample image">
          {entry.samples.map((s, i) => (
            <button
              key={s.file}
              type="button"
              role="radio"
              aria-checked={i === sample}
              className={i === sample ? 'sample selected' : 'sample'}
              onClick={() => select({ sample: i })}
              data-testid={`sample-${i}`}
              title={`label: ${s.label}`}
            >
              <img src={MODELS_URL + s.file} alt={`sample ${i}, label ${s.label}`} width={56} height={56} />
              <span>{s.label}</span>
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
