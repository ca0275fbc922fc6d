import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlphaModel } from '../../src/engine/alphaModel.ts';
import type { AdapterStatus } from '../../src/runners/adapter.ts';
import { analyseImage, analyseOutputs, modelWeightMeasures, objectiveOfOutputs } from '../../src/analysis/analyseRun.ts';
import { measureImage, summariseDataset } from '../../src/dataset/dataset.ts';
import { createRunner, planEngines } from '../../src/runners/engines.ts';
import { headChoices, openModelBytes } from '../../src/models/modelFile.ts';
import { alphaGolden, ALPHA_FIXTURE_DIR, loadAlphaFixture } from '../helpers/alphaFixtures.ts';

/** Issue 16 in the app: CRATE-α files open, run on the right engine, and are measured on their sparse code z2. */

const gpu: AdapterStatus = { status: 'ready', name: 'NVIDIA H200', vendor: 'nvidia', architecture: 'hopper', fallback: false, features: [] };
const none: AdapterStatus = { status: 'unavailable', reason: 'this browser has no navigator.gpu' };

async function open(name: string, ext: 'pth' | 'onnx') {
  const fixture = loadAlphaFixture(name);
  const bytes = new Uint8Array(readFileSync(join(ALPHA_FIXTURE_DIR, `${name}.${ext}`)));
  const opened = await openModelBytes(`${name}.${ext}`, bytes, { heads: fixture.config.heads });
  return { fixture, opened };
}

describe('CRATE-α in the app (issue 16)', () => {
  it('opens the port .pth and the α ONNX export as CRATE-α; the head form offers the divisors of the MSSA width', async () => {
    const { fixture, opened } = await open('alpha_r4', 'pth');
    expect(opened.model.config.arch).toBe('crate-alpha');
    expect(opened.format).toBe('pth');
    expect(opened.configFrom).toBe('inferred');
    expect(opened.onnx).toBeUndefined();
    expect(headChoices(opened.model)).toContain(fixture.config.heads);
    const onnx = (await open('alpha_r4', 'onnx')).opened;
    expect(onnx.model.config.arch).toBe('crate-alpha');
    expect(onnx.onnx).toBeDefined();
  });

  it('plans the WGSL engine where d and dh are multiples of 4, the CPU reference (or ORT) otherwise', async () => {
    const r4 = (await open('alpha_r4', 'pth')).opened;
    expect(planEngines('auto', gpu, r4)).toMatchObject({ primary: 'wgsl', reference: 'cpu' });
    const dh6 = (await open('alpha_r2_dh6', 'pth')).opened;
    const plan = planEngines('auto', gpu, dh6);
    expect(plan.primary).toBe('cpu');
    expect(plan.reason).toMatch(/needs dim to be a multiple of 4 \(got 30\)/);
    const dh6Onnx = (await open('alpha_r2_dh6', 'onnx')).opened;
    expect(planEngines('auto', none, dh6Onnx)).toMatchObject({ primary: 'ort-wasm', reference: 'cpu' });
  });

  it('measures sparsity on z2 (as the PyTorch golden values) and leaves the LASSO and dictionary figures undefined', async () => {
    const { fixture, opened } = await open('alpha_r3_odd40', 'pth');
    const model = opened.model;
    if (!isAlphaModel(model)) throw new Error('not read as CRATE-α');
    const runner = await createRunner('cpu', opened);
    const outputs = await runner.run(alphaGolden(fixture, 'input.0'));
    const { layers } = analyseOutputs(model, outputs);
    layers.forEach((layer, l) => {
      // LayerStats.sparsity is ‖z2‖₀/(N·r·d); the golden value is the zero fraction of z2.
      expect(Math.abs(layer.sparsity - (1 - alphaGolden(fixture, `input.0.layers.${l}.sparsity`)[0])), `layer ${l}`).toBeLessThan(2e-3);
      const rate = alphaGolden(fixture, `input.0.layers.${l}.official_rate`)[0];
      expect(Math.abs(layer.codingRate - rate) / Math.abs(rate)).toBeLessThan(1e-3);
    });
    // z2 is sparse while Z^{ℓ+1} (residual) is dense: the figure must come from z2.
    expect(layers.some((l) => l.sparsity < 0.99)).toBe(true);
    for (const objective of objectiveOfOutputs(model, outputs)) {
      expect(Number.isFinite(objective.rateMssaOut)).toBe(true);
      expect(objective.lassoBefore).toBeUndefined();
      expect(objective.lassoAfter).toBeUndefined();
    }
    for (const measures of modelWeightMeasures(model)) {
      expect(measures.dictionary).toBeUndefined();
      expect(measures.headCoherence.matrix).toHaveLength(model.config.heads ** 2);
    }
    const record = await measureImage(model, outputs, { image: { width: 1, height: 1, data: new Uint8Array(4) } });
    expect(record.sparsity).toEqual(layers.map((l) => l.sparsity));
    const stats = summariseDataset('alpha', [record, record], undefined, { accuracy: false });
    expect(stats.layers[0].lassoBefore).toBeUndefined();
    expect(stats.layers[0].rateMssaOut?.mean).toBeCloseTo(record.rateMssaOut[0], 10);
  });

  it('analyseImage (the e2e tests\' Node side) runs the CRATE-α reference', async () => {
    const { opened } = await open('alpha_r4', 'pth');
    const { shape } = opened.model;
    const data = new Uint8Array(shape.imageWidth * shape.imageHeight * 4).map((_, i) => (i * 37) % 256);
    const { top, layers } = analyseImage(opened.model, { width: shape.imageWidth, height: shape.imageHeight, data });
    expect(top).toHaveLength(Math.min(5, opened.model.config.num_classes));
    expect(layers).toHaveLength(opened.model.config.depth);
    expect(layers[0].lassoBefore).toBeUndefined();
  });
});
