import { useRef, useState } from 'react';
import { applyLabels, hasDefaultLabels, parseLabelsFile, storeLabels } from '../models/labels.ts';
import { useApp, type RunResult } from '../state/store.ts';

/** Longest labels file read (1,000 ImageNet names are ~20 KB). */
const MAX_LABELS_BYTES = 2 * 2 ** 20;

/**
 * Class names for a model that has none (issue 19): a labels file (JSON list
 * or one name per line) replaces "0", "1", … in the prediction, and is kept
 * with the model (models/labels.ts) for the next time it is opened.
 */
export function LabelsFile({ result }: { result: RunResult }) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | undefined>();
  const input = useRef<HTMLInputElement>(null);
  const assumed = result.model.labelsFrom === 'imagenet-1k'; // ImageNet-1k's names, shown for a 1000-class model without any (issue 16)
  const named = !hasDefaultLabels(result.model.labels) && !assumed;
  const load = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > MAX_LABELS_BYTES) return setStatus({ ok: false, text: `${file.name} is over ${MAX_LABELS_BYTES / 2 ** 20} MB: not a labels file` });
    const parsed = parseLabelsFile(await file.text(), result.model.numClasses);
    if (typeof parsed === 'string') return setStatus({ ok: false, text: `${file.name}: ${parsed}` });
    storeLabels(result.model, parsed);
    // The same RunResult, new model summary: the pipeline keeps its tensors and caches (as it does for new IoUs).
    const s = useApp.getState();
    if (s.run.status === 'ready' && s.run.value === result) {
      applyLabels(result, parsed);
      useApp.setState({ run: { status: 'ready', value: result } });
    }
    setStatus({ ok: true, text: `${parsed.length} class names from ${file.name}, kept for this model` });
  };
  return (
    <div className="labels-file small" data-testid="labels-file" data-named={assumed ? 'imagenet-1k' : named}>
      <span>{named ? 'Class names: yours.' : assumed ? 'Class names: ImageNet-1k’s, assumed (the file has none).' : 'This model has no class names.'} </span>
      <button type="button" className="mini" onClick={() => input.current?.click()} data-testid="labels-pick">
        {named || assumed ? 'Other labels file…' : 'Load a labels file…'}
      </button>
      <input ref={input} type="file" accept=".json,.txt,text/plain,application/json" hidden data-testid="labels-input" onChange={(e) => void load(e.target.files?.[0]).then(() => (e.target.value = ''))} />
      {status && (
        <span role="status" className={status.ok ? 'muted' : 'error-text'} data-testid="labels-status" data-ok={status.ok}>
          {' '}
          {status.text}
        </span>
      )}
    </div>
  );
}
