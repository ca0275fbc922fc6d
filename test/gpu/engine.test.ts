import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrateGpuEngine } from '../../src/engine/gpu/engine.ts';
import { CAPTURE_ALL, CAPTURE_NOTHING } from '../../src/engine/gpu/capture.ts';
import { GOLDEN_CAPTURES, fixtureNames, goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';

// Issue 3's bar: every captured intermediate within 1e-4 × max |value|, logits within 1e-4 relative.
const TOLERANCE = 1e-4;

describe.each(fixtureNames())('GPU engine against PyTorch fixture %s', (name) => {
  const fixture = loadFixture(name);
  let engine: CrateGpuEngine;

  beforeAll(async () => {
    const { device } = await testGpu();
    engine = CrateGpuEngine.create(device, fixture.model);
  });
  afterAll(() => engine?.destroy());

  for (let input = 0; input < 2; input++) {
    it(`matches logits and every captured tensor of input ${input}`, async () => {
      const { logits, captures } = await engine.run(goldenTensor(fixture, `input.${input}`), CAPTURE_ALL);
      expect(relativeError(logits, goldenTensor(fixture, `input.${input}.logits`)), 'logits').toBeLessThanOrEqual(TOLERANCE);
      for (let l = 0; l < fixture.model.config.depth; l++) {
        for (const [tensor, golden] of GOLDEN_CAPTURES) {
          const actual = await captures.read(l, tensor);
          const error = relativeError(actual, goldenTensor(fixture, `input.${input}.layers.${l}.${golden}`));
          expect(error, `${name} input ${input} layer ${l} ${tensor}`).toBeLessThanOrEqual(TOLERANCE);
        }
      }
    });
  }

  it('gives the same logits with and without captures, compiling no pipeline and allocating no buffer on later runs', async () => {
    const image = goldenTensor(fixture, 'input.1');
    const plain = await engine.run(image, CAPTURE_NOTHING);
    const compiled = engine.pipelinesCompiled;
    const bytes = engine.gpuBytes;
    const again = await engine.run(image, CAPTURE_NOTHING);
    expect(engine.pipelinesCompiled).toBe(compiled);
    expect(engine.gpuBytes, 'buffers are reused, not reallocated, across runs').toBe(bytes);
    expect([...again.logits]).toEqual([...plain.logits]);
    expect(relativeError(plain.logits, goldenTensor(fixture, 'input.1.logits'))).toBeLessThanOrEqual(TOLERANCE);
    expect(plain.captures.has(0, 'z')).toBe(false);
    await expect(plain.captures.read(0, 'z')).rejects.toThrow(/was not captured/);
  });
});
