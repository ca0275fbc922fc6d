/**
 * The shipped models as Node sees them: the same files the app loads from
 * public/models/, decoded without a browser (pngjs), so tests can compute
 * independently what the page or the engine must produce.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { CrateModel } from '../../src/engine/model.ts';
import { modelFromOnnx } from '../../src/engine/onnx/onnxModel.ts';
import type { RgbaImage } from '../../src/engine/preprocess.ts';
import { parseManifest, type Manifest, type ManifestModel } from '../../src/models/manifest.ts';

export const MODELS_DIR = join(import.meta.dirname, '../../public/models');

export function shippedManifest(): Manifest {
  return parseManifest(JSON.parse(readFileSync(join(MODELS_DIR, 'manifest.json'), 'utf8')));
}

export interface ShippedModel {
  entry: ManifestModel;
  model: CrateModel;
  onnx: Uint8Array;
  card: Record<string, unknown>;
  /** Every held-out sample as stored (RGBA from the atlas PNG). */
  samples: RgbaImage[];
  labels: number[];
  /** Ground-truth masks [H·W] 0/1, scene models only. */
  masks?: Uint8Array[];
}

function atlasCells(file: string, count: number, cols: number, width: number, height: number): RgbaImage[] {
  const png = PNG.sync.read(readFileSync(join(MODELS_DIR, file)));
  return Array.from({ length: count }, (_, i) => {
    const x0 = (i % cols) * width;
    const y0 = Math.floor(i / cols) * height;
    const data = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      const from = ((y0 + y) * png.width + x0) * 4;
      data.set(png.data.subarray(from, from + width * 4), y * width * 4);
    }
    return { width, height, data };
  });
}

export function loadShippedModel(id: string): ShippedModel {
  const entry = shippedManifest().models.find((m) => m.id === id);
  if (!entry) throw new Error(`public/models/manifest.json has no model ${id}`);
  const onnx = new Uint8Array(readFileSync(join(MODELS_DIR, entry.file)));
  const { model } = modelFromOnnx(onnx);
  const card = JSON.parse(readFileSync(join(MODELS_DIR, entry.card ?? `${id}/card.json`).replace(/card\.md$/, 'card.json'), 'utf8'));
  const set = entry.samples;
  if (!set) throw new Error(`model ${id} ships no samples`);
  const samples = atlasCells(set.atlas, set.count, set.cols, set.width, set.height);
  const masks = set.masks
    ? atlasCells(set.masks, set.count, set.cols, set.width, set.height).map((cell) => Uint8Array.from({ length: cell.width * cell.height }, (_, p) => (cell.data[4 * p] > 127 ? 1 : 0)))
    : undefined;
  return { entry, model, onnx, card, samples, labels: set.labels, masks };
}
