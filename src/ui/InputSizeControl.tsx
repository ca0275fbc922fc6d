import { useRef } from 'react';
import { describeInputSize, inputSizeChoice, inputSizeChoices, resolveInputSize, sizeConfigOfSummary } from '../image/inputSize.ts';
import { LOCAL_MODEL_ID } from '../models/modelFile.ts';
import { useApp, type ModelSummary } from '../state/store.ts';

/**
 * "Input size" (finer maps, issue 16, docs/MEASUREMENTS.md §1.2): the model run at a multiple of its
 * own side, its positional embedding interpolated as DINO does, each choice with its token count and
 * cost, shown before it runs. Offered for every square model, since every model has a positional
 * embedding: on a grey 28 px digit the image gains no detail, but the attention grid is finer all the
 * same. Picking one sets the link's `size` (setInputSize); the pipeline runs it.
 *
 * The model's own sizes come from the result's summary (RunResult.model): its `ownImageSize` where
 * the run was at a finer side, else its `imageSize` (inputSize.ts sizeConfigOfSummary); the last one
 * of the selected model is kept while a new run loads, so the control does not vanish under the pointer.
 */
export function InputSizeControl() {
  const run = useApp((s) => s.run);
  const modelId = useApp((s) => s.model);
  const localKey = useApp((s) => s.localModel?.key);
  const size = useApp((s) => s.size);
  const setInputSize = useApp((s) => s.setInputSize);
  const currentKey = modelId === LOCAL_MODEL_ID ? localKey : modelId;
  const last = useRef<ModelSummary | undefined>(undefined);
  if (run.status === 'ready' && run.value.modelId === currentKey) last.current = run.value.model;
  const summary = last.current && last.current.id === currentKey ? last.current : undefined;
  const sized = summary ? sizeConfigOfSummary(summary) : undefined;
  const resolved = sized ? resolveInputSize(sized.config, size) : undefined;

  // A side this model cannot take (from a link, or kept from another model) is put back to its own, with a notice, by the pipeline (runImageJob.ts).
  if (!summary || !sized || !resolved) return null;
  const choices = inputSizeChoices(sized.config);
  if (choices.length === 0) return null;
  const current = inputSizeChoice(sized.config, resolved.side);
  // A valid side that is not among the offered multiples (from a link) is listed too.
  const listed = choices.some((c) => c.side === current.side) ? choices : [...choices, current].sort((a, b) => a.side - b.side);
  const own = choices.find((c) => c.native)!;
  return (
    <div className="input-size small" data-testid="input-size" data-side={current.side} data-tokens={current.tokens}>
      {/* Label above the select, as the model picker: the choice lines are long for the panel's width. */}
      <label className="field" style={{ marginBottom: '0.3rem', flexDirection: 'column', alignItems: 'stretch', gap: '0.25rem' }}>
        <span>Input size</span>
        <select value={current.native ? 0 : current.side} onChange={(e) => setInputSize(Number(e.target.value))} data-testid="input-size-select">
          {listed.map((c) => (
            <option key={c.side} value={c.native ? 0 : c.side} data-tokens={c.tokens}>
              {describeInputSize(c)}
            </option>
          ))}
        </select>
      </label>
      <p className="muted" style={{ margin: '0.2rem 0' }} data-testid="input-size-cost">
        {current.tokens} tokens (the model&rsquo;s own {own.side} × {own.side}: {own.tokens}), {(current.multiplyAdds / 1e9).toFixed(current.multiplyAdds < 1e9 ? 3 : 1)} G
        multiply-adds per image, {(current.attentionBytes / 2 ** 20).toFixed(1)} MiB of attention kept
        {current.native ? '' : '; positional embedding interpolated bicubically, as DINO’s interpolate_pos_encoding'}
        {sized.assumedRatio ? ' (cost with the released ratio r = 4)' : ''}.
      </p>
    </div>
  );
}
