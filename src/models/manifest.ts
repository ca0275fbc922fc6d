/**
 * `public/models/manifest.json`, written by tools/export_model.py: the models
 * the app ships, with their size, accuracy, card and held-out sample set. The
 * file is data, so it is checked like any other input.
 */
export interface SampleSet {
  /** One PNG holding every sample, row-major cells of width × height, `cols` per row. */
  atlas: string;
  /** Ground-truth object masks in the same layout (scene models only). */
  masks?: string;
  count: number;
  cols: number;
  width: number;
  height: number;
  channels: number;
  /** Class index of each sample. */
  labels: number[];
}

export interface ManifestModel {
  /** Stable id used in links (`?model=`). */
  id: string;
  name: string;
  /** ONNX (or safetensors) file, relative to the manifest. */
  file: string;
  /** Size of `file` in bytes, shown in the picker before downloading. */
  bytes?: number;
  /** Held-out accuracy in [0, 1] from the model card, and what it was measured on. */
  accuracy?: number;
  accuracyOn?: string;
  /** Model card (Markdown), relative to the manifest. */
  card?: string;
  description: string;
  samples?: SampleSet;
}

export interface Manifest {
  models: ManifestModel[];
  /** The model the explorer opens on. */
  defaultModel: string;
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// Relative paths inside the models folder only: no scheme, no "..", no leading "/".
const RELATIVE_PATH = /^(?!.*\.\.)(?!\/)[A-Za-z0-9._\-/]{1,200}$/;
const MAX_SAMPLES = 10_000;

function text(where: string, value: unknown, max = 2000): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new ManifestError(`${where} must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function path(where: string, value: unknown): string {
  const s = text(where, value, 200);
  if (!RELATIVE_PATH.test(s)) throw new ManifestError(`${where} ${JSON.stringify(s)} is not a relative path inside the models folder`);
  return s;
}

function count(where: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ManifestError(`${where} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function optional<T>(value: unknown, read: (v: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : read(value);
}

function sampleSet(where: string, raw: unknown): SampleSet {
  if (typeof raw !== 'object' || raw === null) throw new ManifestError(`${where} is not an object`);
  const s = raw as Record<string, unknown>;
  const n = count(`${where}.count`, s.count, 0, MAX_SAMPLES);
  if (!Array.isArray(s.labels) || s.labels.length !== n) throw new ManifestError(`${where}.labels must list ${n} class indices`);
  return {
    atlas: path(`${where}.atlas`, s.atlas),
    masks: optional(s.masks, (v) => path(`${where}.masks`, v)),
    count: n,
    cols: count(`${where}.cols`, s.cols, 1, 1000),
    width: count(`${where}.width`, s.width, 1, 4096),
    height: count(`${where}.height`, s.height, 1, 4096),
    channels: count(`${where}.channels`, s.channels, 1, 4),
    labels: s.labels.map((v, i) => count(`${where}.labels[${i}]`, v, 0, 1_000_000)),
  };
}

export function parseManifest(input: unknown): Manifest {
  if (typeof input !== 'object' || input === null || !Array.isArray((input as { models?: unknown }).models)) {
    throw new ManifestError('manifest must be an object with a "models" list');
  }
  const list = (input as { models: unknown[] }).models;
  if (list.length === 0) throw new ManifestError('manifest lists no models');
  const seen = new Set<string>();
  const models = list.map((entry, i): ManifestModel => {
    const where = `models[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new ManifestError(`${where} is not an object`);
    const raw = entry as Record<string, unknown>;
    const id = text(`${where}.id`, raw.id, 64);
    if (!ID.test(id)) throw new ManifestError(`${where}.id ${JSON.stringify(id)} may only use letters, digits, ".", "_" and "-"`);
    if (seen.has(id)) throw new ManifestError(`${where}.id ${JSON.stringify(id)} is listed twice`);
    seen.add(id);
    const accuracy = optional(raw.accuracy, (v) => {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new ManifestError(`${where}.accuracy must be a number in [0, 1]`);
      return v;
    });
    return {
      id,
      name: text(`${where}.name`, raw.name, 200),
      file: path(`${where}.file`, raw.file),
      bytes: optional(raw.bytes, (v) => count(`${where}.bytes`, v, 0, Number.MAX_SAFE_INTEGER)),
      accuracy,
      accuracyOn: optional(raw.accuracyOn, (v) => text(`${where}.accuracyOn`, v, 200)),
      card: optional(raw.card, (v) => path(`${where}.card`, v)),
      description: text(`${where}.description`, raw.description),
      samples: optional(raw.samples, (v) => sampleSet(`${where}.samples`, v)),
    };
  });
  const requested = (input as { default?: unknown }).default;
  const defaultModel = typeof requested === 'string' && seen.has(requested) ? requested : models[0].id;
  return { models, defaultModel };
}
