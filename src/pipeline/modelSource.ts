/**
 * Which model the selection names: a manifest entry, a URL from a shared
 * link, or the file the user opened. Pure, so the corrections a bad link
 * gets (a model that does not exist, a local file a link cannot carry) are
 * unit-tested.
 */
import type { Manifest, ManifestModel } from '../models/manifest.ts';
import { LOCAL_MODEL_ID } from '../models/modelFile.ts';
import { samplesFor } from '../models/sampleSet.ts';
import type { AppState } from '../state/store.ts';
import { isModelUrl, quote } from '../state/urlState.ts';
import type { ModelInfo } from '../worker/computeApi.ts';

/** Where a model comes from: a manifest entry, a URL from a shared link, or a local file. */
export interface ModelSource {
  key: string;
  name: string;
  url: string;
  expectedBytes?: number;
  /** The manifest entry whose samples are shown (for other models: the closest in channels and size). */
  samplesFrom?: ManifestModel;
  /** True when the samples' labels are this model's own (a manifest model): only then is accuracy meaningful. */
  ownSamples: boolean;
}

/** The model a local file holds, while it is open. */
export interface LocalModel {
  key: string;
  name: string;
  info: ModelInfo;
}

export type SourceChoice = { source: ModelSource } | { correction: Partial<AppState>; notice: string };

/** The source the selection names, or the correction (and the notice that says why) a bad selection gets. */
export function resolveSource(manifest: Manifest, modelsUrl: string, s: Pick<AppState, 'model'>, local: LocalModel | undefined, lastGoodModel: string | undefined): SourceChoice {
  const fallback = lastGoodModel ?? manifest.defaultModel;
  if (s.model === LOCAL_MODEL_ID) {
    if (!local) return { correction: { model: fallback }, notice: `the model was a file local to the sender's browser, so a link cannot carry it; showing ${quote(fallback)}` };
    return { source: { key: local.key, name: local.name, url: '', samplesFrom: samplesFor(manifest, local.info), ownSamples: false } };
  }
  if (isModelUrl(s.model)) return { source: { key: s.model, name: s.model, url: s.model, samplesFrom: samplesFor(manifest, undefined), ownSamples: false } };
  const entry = manifest.models.find((m) => m.id === s.model);
  if (!entry) return { correction: { model: fallback, sample: 0 }, notice: `there is no model ${quote(s.model)}; showing ${quote(fallback)}` };
  return { source: { key: entry.id, name: entry.name, url: modelsUrl + entry.file, expectedBytes: entry.bytes, samplesFrom: entry, ownSamples: true } };
}
