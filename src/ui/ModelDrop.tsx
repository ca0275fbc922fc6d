import { useRef, useState } from 'react';
import { LOCAL_MODEL_ID, MODEL_EXTENSIONS } from '../models/modelFile.ts';
import { formatBytes } from './format.ts';
import { useApp } from '../state/store.ts';
import { isModelUrl } from '../state/urlState.ts';

const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/**
 * Bring your own model (issue 8): a file picker (a drop anywhere on the page
 * lands here too, see InputPanel), a URL, the reading/parsing progress, and
 * for a config inferred from the weights, the proposed number of heads with a
 * form to re-open the file with another.
 */
export function ModelDrop() {
  const openModelFile = useApp((s) => s.openModelFile);
  const select = useApp((s) => s.select);
  const notify = useApp((s) => s.notify);
  const modelFile = useApp((s) => s.modelFile);
  const request = useApp((s) => s.modelFileRequest);
  const localModel = useApp((s) => s.localModel);
  const model = useApp((s) => s.model);
  const [url, setUrl] = useState('');
  const [heads, setHeads] = useState<number | undefined>();
  const inputRef = useRef<HTMLInputElement>(null);
  // The store's localModel gains the time to the first result once it is shown; modelFile keeps the parse-time copy.
  const info = localModel ?? (modelFile.status === 'ready' ? modelFile.value : undefined);
  const showing = model === LOCAL_MODEL_ID && info !== undefined;

  return (
    <div data-testid="model-drop">
      <div style={{ display: 'flex', gap: '0.4rem', flexWrap: 'wrap', alignItems: 'center' }}>
        <button type="button" onClick={() => inputRef.current?.click()} data-testid="model-file-button">
          Open a model file…
        </button>
        <span className="muted small">or drop one on the page</span>
        <input
          ref={inputRef}
          type="file"
          hidden
          accept={MODEL_EXTENSIONS.join(',')}
          data-testid="model-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = '';
            if (file) openModelFile(file, file.name);
          }}
        />
      </div>
      <form
        style={{ display: 'flex', gap: '0.4rem', marginTop: '0.4rem' }}
        onSubmit={(e) => {
          e.preventDefault();
          const value = url.trim();
          if (isModelUrl(value)) select({ model: value, sample: 0, source: 'sample' });
          else notify(['that is not an http(s) URL of a model file (letters, digits and URL punctuation only)']);
        }}
      >
        <input
          type="url"
          placeholder="https://…/model.onnx"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          aria-label="Model URL (.onnx, .safetensors or .pth)"
          data-testid="model-url"
          style={{ flex: 1, minWidth: 0, font: 'inherit', fontSize: '0.85rem' }}
        />
        <button type="submit">Load</button>
      </form>
      <p className="muted small" style={{ margin: '0.3rem 0 0' }}>
        ONNX, safetensors (with or without a config) or PyTorch checkpoints (.pth, .pth.tar). Files stay in this browser.
      </p>
      <div data-testid="model-file-status" data-status={modelFile.status} data-parse-ms={info?.parseMillis} data-first-ms={info?.firstResultMillis}>
        {modelFile.status === 'loading' && (
          <div className="loading" role="status" aria-live="polite" style={{ marginTop: '0.4rem' }}>
            <p className="small">{modelFile.message}</p>
            <progress max={1} value={modelFile.fraction} aria-label={modelFile.message} data-testid="model-file-progress" />
            {modelFile.bytes && (
              <p className="muted small">
                {formatBytes(modelFile.bytes.received)}
                {modelFile.bytes.total ? ` of ${formatBytes(modelFile.bytes.total)}` : ''}
              </p>
            )}
          </div>
        )}
        {modelFile.status === 'error' && (
          <p className="small" role="alert" style={{ color: 'var(--error-ink)', overflowWrap: 'anywhere' }}>
            Not loaded: {modelFile.message}
          </p>
        )}
        {showing && info && modelFile.status !== 'loading' && (
          <div className="small" style={{ marginTop: '0.4rem' }}>
            <p style={{ margin: 0, overflowWrap: 'anywhere' }} data-testid="local-model-summary">
              <strong>{info.name}</strong> · {info.format === 'pth' ? 'PyTorch checkpoint' : info.format} · {formatBytes(info.bytes)} · read in {seconds(info.readMillis)}, parsed in{' '}
              {seconds(info.parseMillis)}
              {info.firstResultMillis !== undefined && <> · first result {seconds(info.firstResultMillis)} after opening</>}
            </p>
            {info.configFrom === 'inferred' && request && (
              <form
                style={{ display: 'flex', gap: '0.4rem', alignItems: 'center', marginTop: '0.3rem' }}
                onSubmit={(e) => {
                  e.preventDefault();
                  if (heads !== undefined && heads !== info.heads) openModelFile(request.file, request.name, heads);
                }}
              >
                <label htmlFor="heads-select">Heads</label>
                <select id="heads-select" value={heads ?? info.heads} onChange={(e) => setHeads(Number(e.target.value))} data-testid="heads-select">
                  {info.headChoices.map((h) => (
                    <option key={h} value={h}>
                      {h} (dh {info.innerDim / h})
                    </option>
                  ))}
                </select>
                <button type="submit" disabled={heads === undefined || heads === info.heads} data-testid="heads-apply">
                  Re-open
                </button>
              </form>
            )}
            {info.notes.length > 0 && (
              <details>
                <summary className="muted">What was assumed ({info.notes.length})</summary>
                <ul style={{ margin: '0.2rem 0', paddingLeft: '1.1rem' }}>
                  {info.notes.map((n, i) => (
                    <li key={i}>{n}</li>
                  ))}
                </ul>
              </details>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
