/**
 * Every shipped model (public/models/manifest.json), run by our WGSL engine on
 * its shipped held-out samples exactly as the app loads them: the accuracy
 * must reproduce the model card's figure for those samples (within 1 point),
 * and onnxruntime-web must agree with our engine on every sample's logits to
 * 1e-4 relative (issue 4's "both engines" bar). The card's figure was measured
 * by PyTorch (tools/export_model.py), so this checks the whole chain: training
 * → ONNX export → our ONNX reader → preprocessing → WGSL kernels.
 */
import * as ort from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { CrateGpuEngine } from '../../src/engine/gpu/engine.ts';
import { createOrtRunner } from '../../src/engine/ort/ortRunner.ts';
import { imageToTensor } from '../../src/engine/preprocess.ts';
import { relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';
import { loadShippedModel, shippedManifest } from '../helpers/shippedModels.ts';

ort.env.wasm.numThreads = 1;

const ids = shippedManifest().models.map((m) => m.id);

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

describe('the manifest', () => {
  it('opens on the digit model and ships the three trained models', () => {
    const manifest = shippedManifest();
    expect(manifest.defaultModel).toBe('digits');
    expect(ids).toEqual(expect.arrayContaining(['digits', 'fashion', 'scenes']));
  });
});

describe.each(ids)('shipped model %s', (id) => {
  const shipped = loadShippedModel(id);
  const engines: CrateGpuEngine[] = [];
  afterAll(() => engines.forEach((e) => e.destroy()));

  it('ships at least 100 held-out samples with labels, and masks for the scene model', () => {
    expect(shipped.samples.length).toBeGreaterThanOrEqual(100);
    expect(shipped.labels).toHaveLength(shipped.samples.length);
    if (id === 'scenes') expect(shipped.masks).toHaveLength(shipped.samples.length);
  });

  it('reaches the accuracy of its model card on the shipped samples with our engine, and ORT agrees on every logit', async () => {
    const { device } = await testGpu();
    const engine = CrateGpuEngine.create(device, shipped.model);
    engines.push(engine);
    const reference = await createOrtRunner(ort, shipped.onnx, shipped.model.config, 'wasm');
    let correct = 0;
    let worst = 0;
    for (let i = 0; i < shipped.samples.length; i++) {
      const input = imageToTensor(shipped.samples[i], shipped.model.config);
      const { logits } = await engine.run(input);
      const theirs = await reference.run(input, { layers: false });
      worst = Math.max(worst, relativeError(logits, theirs.logits));
      if (argmax(logits) === shipped.labels[i]) correct++;
    }
    await reference.dispose();
    const accuracy = correct / shipped.samples.length;
    const card = shipped.card as { samples: { accuracy: number; count: number } };
    expect(card.samples.count).toBe(shipped.samples.length);
    console.log(`${id}: our engine ${(100 * accuracy).toFixed(1)}% on ${shipped.samples.length} samples (card ${(100 * card.samples.accuracy).toFixed(1)}%), max ORT deviation ${worst.toExponential(2)}`);
    expect(Math.abs(accuracy - card.samples.accuracy)).toBeLessThanOrEqual(0.01);
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});
