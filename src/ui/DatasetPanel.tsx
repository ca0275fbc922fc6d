import { useEffect, useRef, useState } from 'react';
import { decodeImageSet } from '../image/imageSet.ts';
import { useApp, type DatasetStats } from '../state/store.ts';
import { formatRate } from './format.ts';

/** Files dropped on the page or picked, handed to the picker to decode (views never run the model). */
export interface IncomingFiles {
  files: File[];
  seq: number;
}

/**
 * Dataset mode over the user's own images (issue 19): pick many images or a
 * folder, or drop them anywhere on the page. They are decoded here
 * (src/image/imageSet.ts) and handed to the pipeline through the store.
 */
export function DatasetImagesPicker({ incoming }: { incoming?: IncomingFiles }) {
  const own = useApp((s) => s.datasetImages);
  const useDatasetImages = useApp((s) => s.useDatasetImages);
  const notify = useApp((s) => s.notify);
  const [decoding, setDecoding] = useState<{ done: number; total: number } | undefined>();
  const filesRef = useRef<HTMLInputElement>(null);
  const folderRef = useRef<HTMLInputElement>(null);
  const seq = useRef(0);

  const load = async (files: File[]) => {
    if (files.length === 0) return;
    const mine = ++seq.current;
    setDecoding({ done: 0, total: files.length });
    try {
      const set = await decodeImageSet(files, (done, total) => mine === seq.current && setDecoding({ done, total }));
      if (mine !== seq.current) return;
      if (set.skipped.length) notify([`${set.skipped.length} of ${files.length} files were left out of the image set: ${set.skipped.slice(0, 3).join('; ')}${set.skipped.length > 3 ? '; …' : ''}`]);
      useDatasetImages(set);
    } catch (error) {
      if (mine === seq.current) notify([`Your images: ${(error as Error).message}`]);
    } finally {
      if (mine === seq.current) setDecoding(undefined);
    }
  };
  useEffect(() => {
    if (incoming) void load(incoming.files);
  }, [incoming]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    // A folder picker: not in React's typings, so set as an attribute.
    folderRef.current?.setAttribute('webkitdirectory', '');
  }, []);

  return (
    <div className="dataset-images" data-testid="dataset-images" data-count={own?.images.length ?? 0}>
      <p className="small muted" style={{ margin: '0.3rem 0' }}>
        Or your own images: drop many on the page, or pick them.
      </p>
      <span className="toolbar-buttons">
        <button type="button" onClick={() => filesRef.current?.click()} data-testid="dataset-pick-files">
          Choose images…
        </button>
        <button type="button" onClick={() => folderRef.current?.click()} data-testid="dataset-pick-folder">
          Choose a folder…
        </button>
        {own && (
          <button type="button" onClick={() => useDatasetImages(undefined)} data-testid="dataset-use-samples">
            Back to the sample set
          </button>
        )}
      </span>
      <input ref={filesRef} type="file" accept="image/*" multiple hidden data-testid="dataset-files" onChange={(e) => void load([...(e.target.files ?? [])]).then(() => (e.target.value = ''))} />
      <input ref={folderRef} type="file" multiple hidden data-testid="dataset-folder" onChange={(e) => void load([...(e.target.files ?? [])]).then(() => (e.target.value = ''))} />
      {decoding && (
        <p className="small" role="status" data-testid="dataset-decoding">
          Reading your images: {decoding.done} of {decoding.total}…
        </p>
      )}
      {own && !decoding && (
        <p className="small" data-testid="dataset-own" style={{ margin: '0.3rem 0' }}>
          Using your {own.images.length} images{own.names.length ? ` (${own.names.slice(0, 2).join(', ')}${own.names.length > 2 ? ', …' : ''})` : ''}.
        </p>
      )}
    </div>
  );
}

/** Stops a dataset run: dataset mode off, so the pipeline aborts the run in the worker (pipeline.ts). */
export function DatasetCancel() {
  const select = useApp((s) => s.select);
  return (
    <button type="button" className="mini" onClick={() => select({ dataset: false })} data-testid="dataset-cancel">
      Cancel
    </button>
  );
}

/** Per-layer mean ± std over the images, in the layer panel's full width (issue 19: it wrapped in the narrow sidebar). */
export function DatasetTable({ stats }: { stats: DatasetStats }) {
  const iou = stats.layers[0]?.iou !== undefined;
  return (
    <details className="dataset-table-box" open>
      <summary className="muted small">
        Per layer, mean ± std over {stats.count} images{stats.note ? ` (${stats.note})` : ''}
      </summary>
      <div className="table-scroll">
        <table className="layer-table dataset-table" data-testid="dataset-table">
          <thead>
            <tr>
              <th scope="col">layer ℓ</th>
              <th scope="col">Rᶜ official (nats)</th>
              <th scope="col">Rᶜ paper (nats)</th>
              <th scope="col">‖Z‖₀/(d·N)</th>
              {iou && <th scope="col">IoU best head</th>}
            </tr>
          </thead>
          <tbody>
            {stats.layers.map((l) => (
              <tr key={l.layer}>
                <th scope="row">{l.layer}</th>
                <td data-testid={`dataset-rate-${l.layer}`} data-mean={l.codingRate.mean} data-std={l.codingRate.std}>
                  {formatRate(l.codingRate.mean)} ± {formatRate(l.codingRate.std)}
                </td>
                <td>
                  {formatRate(l.paperRate.mean)} ± {formatRate(l.paperRate.std)}
                </td>
                <td data-testid={`dataset-sparsity-${l.layer}`} data-mean={l.sparsity.mean} data-std={l.sparsity.std}>
                  {l.sparsity.mean.toFixed(3)} ± {l.sparsity.std.toFixed(3)}
                </td>
                {l.iou && (
                  <td data-testid={`dataset-iou-${l.layer}`} data-mean={l.iou.mean} data-std={l.iou.std}>
                    {l.iou.mean.toFixed(3)} ± {l.iou.std.toFixed(3)}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
