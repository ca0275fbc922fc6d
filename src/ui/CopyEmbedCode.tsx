import { useState } from 'react';
import { useApp, viewState } from '../state/store.ts';
import { embedSnippet, embedUrl } from './embedCode.ts';

/** "Copy embed code": the `<iframe>` snippet of this view; shown to copy by hand when the clipboard refuses. */
export function CopyEmbedCode() {
  const [state, setState] = useState<{ kind: 'idle' } | { kind: 'copied' } | { kind: 'failed'; code: string; reason: string }>({ kind: 'idle' });
  const copy = async () => {
    const s = useApp.getState();
    const code = embedSnippet(embedUrl(`${window.location.origin}${window.location.pathname}`, viewState(s)), `CRATE Explorer: ${s.view}, layer ${s.layer}`);
    try {
      if (!navigator.clipboard) throw new Error('this page has no clipboard access');
      await navigator.clipboard.writeText(code);
      setState({ kind: 'copied' });
    } catch (error) {
      setState({ kind: 'failed', code, reason: (error as Error).message });
    }
  };
  return (
    <span className="copy-embed">
      <button type="button" onClick={() => void copy()} data-testid="copy-embed" title="Copy an <iframe> snippet that shows this figure alone">
        Copy embed code
      </button>
      <span role="status" className="small" data-testid="copy-embed-status" data-state={state.kind}>
        {state.kind === 'copied' && '✓ Embed code copied'}
        {state.kind === 'failed' && (
          <>
            Could not copy ({state.reason}); copy it here:{' '}
            <textarea readOnly value={state.code} rows={3} onFocus={(e) => e.target.select()} aria-label="Embed code" data-testid="embed-code" />
          </>
        )}
      </span>
    </span>
  );
}
