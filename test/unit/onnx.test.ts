import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelFromOnnx } from '../../src/engine/onnx/onnxModel.ts';
import { createOrtRunner } from '../../src/engine/ort/ortRunner.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { FIXTURE_DIR, fixtureNames, goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';

// Issue 2's tolerance for every engine against the float64 PyTorch reference.
const TOLERANCE = 1e-5;
const LAYER_TENSORS = [
  ['w', 'w'],
  ['attention', 'attention'],
  ['zHalf', 'z_half'],
  ['zNext', 'z_next'],
] as const;

ort.env.wasm.numThreads = 1;

describe.each(fixtureNames())('ONNX export of fixture %s', (name) => {
  const fixture = loadFixture(name);
  const bytes = readFileSync(join(FIXTURE_DIR, `${name}.onnx`));

  it('carries the same config and bit-identical weights as the safetensors file', () => {
    const { model, card } = modelFromOnnx(bytes);
    expect(model.config).toEqual(fixture.model.config);
    expect(card?.name).toBe(`fixture ${name}`);
    const a = model.weights;
    const b = fixture.model.weights;
    expect(a.posEmbedding).toEqual(b.posEmbedding);
    expect(a.patchWeight).toEqual(b.patchWeight);
    a.layers.forEach((layer, l) => {
      expect(layer.qkv, `layer ${l} U`).toEqual(b.layers[l].qkv);
      expect(layer.dictionary, `layer ${l} D`).toEqual(b.layers[l].dictionary);
      expect(layer.outBias, `layer ${l} to_out bias`).toEqual(b.layers[l].outBias);
    });
    expect(a.headWeight).toEqual(b.headWeight);
  });

  describe('run by onnxruntime-web (WASM EP) against the PyTorch golden values', () => {
    let runner: ModelRunner;
    beforeAll(async () => {
      runner = await createOrtRunner(ort, bytes, fixture.model.config, 'wasm');
    });

    for (let input = 0; input < 2; input++) {
      it(`matches logits and every layer's W, A, Z^{l+1/2}, Z^{l+1} on input ${input}`, async () => {
        const out = await runner.run(goldenTensor(fixture, `input.${input}`));
        expect(out.layers).toHaveLength(fixture.model.config.depth);
        expect(relativeError(out.logits, goldenTensor(fixture, `input.${input}.logits`))).toBeLessThanOrEqual(TOLERANCE);
        out.layers.forEach((layer, l) => {
          for (const [ours, golden] of LAYER_TENSORS) {
            const error = relativeError(layer[ours], goldenTensor(fixture, `input.${input}.layers.${l}.${golden}`));
            expect(error, `layer ${l} ${golden}`).toBeLessThanOrEqual(TOLERANCE);
          }
        });
      });
    }

    it('returns only the logits when layers are not asked for', async () => {
      const out = await runner.run(goldenTensor(fixture, 'input.0'), { layers: false });
      expect(out.layers).toHaveLength(0);
      expect(relativeError(out.logits, goldenTensor(fixture, 'input.0.logits'))).toBeLessThanOrEqual(TOLERANCE);
    });
  });
});

describe('ONNX reader on bad files', () => {
  const good = readFileSync(join(FIXTURE_DIR, 'grey17.onnx'));
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['an empty file', new Uint8Array(0), /empty/],
    ['a PNG renamed .onnx', png, /ONNX/],
    ['a file cut in half', good.subarray(0, good.length >> 1), /ONNX|runs past/],
    ['zeros', new Uint8Array(4096), /field number 0|ONNX/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`refuses ${what} with an OnnxError`, () => {
      expect(() => modelFromOnnx(bytes)).toThrow(message);
      try {
        modelFromOnnx(bytes);
      } catch (error) {
        expect((error as Error).name).toBe('OnnxError');
      }
    });
  }
});
