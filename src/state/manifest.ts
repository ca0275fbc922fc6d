/**
 * `public/models/manifest.json`: the models the app ships and their sample
 * images. The file is data, so it is checked like any other input.
 */
export interface ManifestSample {
  /** Path relative to the manifest. */
  file: string;
  /** Ground-truth label, shown as text. */
  label: string;
}

export interface ManifestModel {
  /** Stable id used in links (`?model=`). */
  id: string;
  name: string;
  /** Safetensors file, relative to the manifest. */
  file: string;
  description: string;
  samples: ManifestSample[];
}

export interface Manifest {
  models: ManifestModel[];
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// Relative paths inside the models folder only: no scheme, no "..", no leading "/".
const RELATIVE_PATH = /^(?!.*\.\.)(?!\/)[A-Za-z0-9._\-/]{1,200}$/;

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
    if (!Array.isArray(raw.samples)) throw new ManifestError(`${where}.samples must be a list`);
    const samples = raw.samples.map((sample: unknown, j): ManifestSample => {
      const s = (sample ?? {}) as Record<string, unknown>;
      return { file: path(`${where}.samples[${j}].file`, s.file), label: text(`${where}.samples[${j}].label`, s.label, 200) };
    });
    return {
      id,
      name: text(`${where}.name`, raw.name, 200),
      file: path(`${where}.file`, raw.file),
      description: text(`${where}.description`, raw.description),
      samples,
    };
  });
  return { models };
}
