import { useEffect, useMemo, useState } from 'react';
import { isImageNetLayout } from '../image/inputPreprocessing.ts';
import type { Manifest, ManifestModel, SampleSet } from '../models/manifest.ts';
import { hasModelExtension, LOCAL_MODEL_ID } from '../models/modelFile.ts';
import { formatBytes } from './format.ts';
import { samplesFor } from '../models/sampleSet.ts';
import { useApp } from '../state/store.ts';
import { isModelUrl } from '../state/urlState.ts';
import { DatasetCancel, DatasetImagesPicker, type IncomingFiles } from './DatasetPanel.tsx';
import { DrawDigit } from './DrawDigit.tsx';
import { LabelsFile } from './LabelsFile.tsx';
import { hasDefaultLabels, storedLabels } from '../models/labels.ts';
import { ImageDrop, type IncomingImage } from './ImageDrop.tsx';
import { ModelDrop } from './ModelDrop.tsx';
import { InputSizeControl } from './InputSizeControl.tsx';
import { PreprocessingPanel } from './PreprocessingPanel.tsx';

const MODELS_URL = `${import.meta.env.BASE_URL}models/`;
const THUMB = 44;

function modelOption(m: ManifestModel): string {
  const facts = [m.bytes !== undefined ? formatBytes(m.bytes) : undefined, m.accuracy !== undefined ? `${(100 * m.accuracy).toFixed(1)}% held-out` : undefined];
  return [m.name, ...facts.filter(Boolean)].join(' · ');
}

const IMAGE_NAME = /\.(png|jpe?g|gif|webp|bmp|avif|svg)$/i;

/**
 * A file dropped anywhere on the page: a model file (by its name) goes to the
 * pipeline, anything else is treated as an image. Without this, the browser
 * would navigate away to the dropped file.
 */
function usePageDrop(onImage: (file: File) => void, onImages: (files: File[]) => void) {
  const openModelFile = useApp((s) => s.openModelFile);
  useEffect(() => {
    const over = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      const file = e.dataTransfer?.files[0];
      if (!file) return;
      e.preventDefault();
      // Many images at once: a set for dataset mode (issue 19).
      const files = [...(e.dataTransfer?.files ?? [])];
      if (files.length > 1 && !files.some((f) => hasModelExtension(f.name))) return onImages(files);
      if (hasModelExtension(file.name) || (!file.type.startsWith('image/') && !IMAGE_NAME.test(file.name))) openModelFile(file, file.name);
      else onImage(file);
    };
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, [openModelFile, onImage, onImages]);
}

/** Dataset mode's switch and progress; the charts draw the mean ± std (LayerPanel). */
function DatasetSwitch({ incomingFiles }: { incomingFiles?: IncomingFiles }) {
  const dataset = useApp((s) => s.dataset);
  const stats = useApp((s) => s.datasetStats);
  const select = useApp((s) => s.select);
  const value = stats.status === 'ready' ? stats.value : undefined;
  return (
    <div>
      <label className="switch small">
        <input type="checkbox" checked={dataset} onChange={(e) => select({ dataset: e.target.checked })} data-testid="dataset-toggle" />
        Dataset mode: mean ± std over the sample set
      </label>
      <DatasetImagesPicker incoming={incomingFiles} />
      {dataset && (
        <div data-testid="dataset-run" data-status={stats.status} data-count={value?.count} className="small" style={{ marginTop: '0.3rem' }}>
          {stats.status === 'loading' && (
            <div className="loading" role="status" aria-live="polite">
              <p>{stats.message}</p>
              <progress max={1} value={stats.fraction} aria-label={stats.message} data-testid="dataset-progress" />
              <DatasetCancel />
            </div>
          )}
          {stats.status === 'idle' && <p className="muted">Waiting for the current image's result…</p>}
          {stats.status === 'error' && (
            <p role="alert" style={{ color: 'var(--error-ink)' }}>
              {stats.message}
            </p>
          )}
          {value && (
            <>
              <p style={{ margin: 0 }}>
                {value.count} images{value.accuracy !== undefined && <>, accuracy {(100 * value.accuracy).toFixed(1)}%</>}
                {value.note && <span className="muted"> ({value.note})</span>}
              </p>
            </>
          )}
        </div>
      )}
    </div>
  );
}

/**
 * Thumbnails of a shipped sample set, cut from its atlas by CSS. `labelled`:
 * the labels are this model's (its own set); a stand-in set's labels are not
 * named, since they would be another model's classes (issue 19, bug 3).
 */
function Gallery({ set, selectedIndex, onPick, labelled = false }: { set: SampleSet; selectedIndex: number; onPick: (index: number) => void; labelled?: boolean }) {
  const scale = THUMB / set.width;
  const rows = Math.ceil(set.count / set.cols);
  return (
    <div className="samples" role="radiogroup" aria-label="Sample image" data-testid="gallery">
      {set.labels.map((label, i) => {
        const selected = i === selectedIndex;
        return (
          <button
            key={i}
            type="button"
            role="radio"
            aria-checked={selected}
            aria-label={labelled ? `sample ${i}, label ${label}` : `stand-in image ${i}`}
            className={selected ? 'sample selected' : 'sample'}
            onClick={() => onPick(i)}
            data-testid={`sample-${i}`}
            title={labelled ? `sample ${i}` : `stand-in image ${i}`}
            style={{
              width: THUMB,
              height: THUMB * (set.height / set.width),
              backgroundImage: `url("${MODELS_URL}${set.atlas}")`,
              backgroundSize: `${set.cols * THUMB}px ${rows * set.height * scale}px`,
              backgroundPosition: `${-(i % set.cols) * THUMB}px ${-Math.floor(i / set.cols) * set.height * scale}px`,
            }}
          />
        );
      })}
    </div>
  );
}

/**
 * Model picker (name, size, accuracy) and bring-your-own-model, the
 * held-out samples as a gallery, an uploaded/dropped/pasted image with its
 * crop, a draw-a-digit pad for grey models, and the dataset switch.
 */
export function InputPanel({ manifest }: { manifest: Manifest }) {
  const modelId = useApp((s) => s.model);
  const sample = useApp((s) => s.sample);
  const source = useApp((s) => s.source);
  const run = useApp((s) => s.run);
  const localModel = useApp((s) => s.localModel);
  const select = useApp((s) => s.select);
  const useSample = useApp((s) => s.useSample);
  const [incoming, setIncoming] = useState<IncomingImage | undefined>();
  const [onImage] = useState(() => (file: File) => setIncoming((previous) => ({ file, name: file.name || 'dropped image', seq: (previous?.seq ?? 0) + 1 })));
  const [incomingFiles, setIncomingFiles] = useState<IncomingFiles | undefined>();
  const [onImages] = useState(() => (files: File[]) => setIncomingFiles((previous) => ({ files, seq: (previous?.seq ?? 0) + 1 })));
  usePageDrop(onImage, onImages);

  const hosted = isModelUrl(modelId);
  const isLocal = modelId === LOCAL_MODEL_ID;
  const own = manifest.models.find((m) => m.id === modelId);
  const result = run.status === 'ready' ? run.value : undefined;
  // The result of THIS model (while another loads, `run` still holds the previous model's): only it may name a stand-in set,
  // or the note would flicker between two sets' names during loading (issue 19, bug 3).
  const currentKey = isLocal ? localModel?.key : modelId;
  const mine = result && result.modelId === currentKey ? result : undefined;
  // The gallery shows the set the pipeline runs: the model's own, or for a hosted or local model a stand-in shipped set.
  const standIn = own ? undefined : manifest.models.find((m) => m.id === mine?.samplesFrom);
  const entry = own ?? standIn ?? samplesFor(manifest, undefined) ?? manifest.models[0];
  const set = entry.samples;
  const summary = result && (own ? result.modelId === own.id : !hosted || result.modelId === modelId) ? result.model : undefined;
  const [height, width] = summary ? summary.imageSize : set ? [set.height, set.width] : [28, 28];
  // One array per size, not per run: the image tools key their callbacks on it.
  const size = useMemo((): [number, number] => [height, width], [height, width]);
  const channels = summary?.channels ?? set?.channels ?? 3;
  return (
    <div className="input-panel">
      <label className="field">
        <span>Model</span>
        <select
          value={hosted ? '' : isLocal ? LOCAL_MODEL_ID : entry.id}
          // An upload or drawing stays across models: comparing models on one's own image is the point.
          onChange={(e) => select({ model: e.target.value, sample: 0 })}
          data-testid="model-select"
        >
          {hosted && <option value="">Hosted model (from the link)</option>}
          {localModel && <option value={LOCAL_MODEL_ID}>Your file: {localModel.name}</option>}
          {manifest.models.map((m) => (
            <option key={m.id} value={m.id}>
              {modelOption(m)}
            </option>
          ))}
        </select>
      </label>
      <p className="description" data-testid="model-description">
        {hosted
          ? `A model loaded from ${modelId}.`
          : isLocal
            ? `${localModel?.name ?? 'A local file'}, opened in this browser (a link cannot carry it).`
            : entry.description}{' '}
        {!hosted && !isLocal && entry.card && (
          <a href={MODELS_URL + entry.card} target="_blank" rel="noreferrer noopener">
            Model card
          </a>
        )}
      </p>
      {/* Class names for a model without any (a checkpoint, a hosted file), kept with it (issue 19). */}
      {mine && !own && (hasDefaultLabels(mine.model.labels) || mine.model.labelsFrom === 'imagenet-1k' || storedLabels(mine.model) !== undefined) && <LabelsFile result={mine} />}
      <details className="small" style={{ marginTop: '0.5rem' }} open={isLocal || undefined}>
        <summary>Bring your own model</summary>
        <ModelDrop />
      </details>
      {own ? (
        <h3>Held-out samples{source !== 'sample' ? ' (showing your image)' : ''}</h3>
      ) : (
        <>
          <h3>Samples</h3>
          <p className="no-samples" data-testid="no-samples">
            No samples ship with this model; drop your images.
          </p>
        </>
      )}
      {!own ? (
        standIn?.samples && (
          <details className="small stand-ins" data-testid="stand-ins">
            <summary>
              Stand-in images from {standIn.name} (not this model's data: no labels, no masks, no IoU)
            </summary>
            <Gallery set={standIn.samples} selectedIndex={source === 'sample' ? sample : -1} onPick={useSample} />
          </details>
        )
      ) : !set || set.count === 0 ? (
        <p className="muted">This model has no sample images.</p>
      ) : (
        <Gallery set={set} selectedIndex={source === 'sample' ? sample : -1} onPick={useSample} labelled />
      )}
      {/* ImageNet-layout models only (issue 16): the others keep their own resize, as before. */}
      {mine?.preprocessing && isImageNetLayout(size, channels) && <PreprocessingPanel result={mine} />}
      {/* Every square model (issue 16, finer maps): all have a positional embedding to interpolate. */}
      <InputSizeControl />
      <h3>Your image</h3>
      <ImageDrop size={size} channels={channels} incoming={incoming} />
      {channels === 1 && (
        <>
          <h3>Draw a digit</h3>
          <DrawDigit size={size} />
        </>
      )}
      <h3>Dataset</h3>
      <DatasetSwitch incomingFiles={incomingFiles} />
    </div>
  );
}
