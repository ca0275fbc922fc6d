import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrateGpuEngine } from '../../src/engine/gpu/engine.ts';
import { readBuffers } from '../../src/engine/gpu/arena.ts';
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

  it('reads every capture of a run in one round trip, in the order asked, matching the fixture', async () => {
    const { captures } = await engine.run(goldenTensor(fixture, 'input.0'), CAPTURE_ALL);
    const requests = Array.from({ length: fixture.model.config.depth }, (_, layer) => GOLDEN_CAPTURES.map(([tensor, golden]) => ({ layer, tensor, golden })))
      .flat()
      .reverse();
    const read = await captures.readMany(requests);
    expect(read).toHaveLength(requests.length);
    requests.forEach(({ layer, tensor, golden }, i) => {
      expect(relativeError(read[i], goldenTensor(fixture, `input.0.layers.${layer}.${golden}`)), `${name} layer ${layer} ${tensor}`).toBeLessThanOrEqual(TOLERANCE);
    });
    await expect(captures.readMany([{ layer: 0, tensor: 'w' }, { layer: fixture.model.config.depth, tensor: 'w' }])).rejects.toThrow(/was not captured/);
  });

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

describe('readBuffers', () => {
  it('packs buffers into staging buffers of at most maxBytes and returns each exactly, in order', async () => {
    const { device } = await testGpu();
    const sizes = [1, 7, 16, 3, 40, 0, 5];
    const sources = sizes.map((floats, k) => {
      const data = Float32Array.from({ length: floats }, (_, i) => k * 1000 + i + 0.5);
      const buffer = device.createBuffer({ size: Math.max(4, floats * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buffer, 0, data);
      return { buffer, floats, data };
    });
    try {
      for (const maxBytes of [64, 160, 1 << 20]) {
        const read = await readBuffers(device, sources, maxBytes);
        read.forEach((values, k) => expect([...values], `buffer ${k}, maxBytes ${maxBytes}`).toEqual([...sources[k].data]));
      }
    } finally {
      for (const { buffer } of sources) buffer.destroy();
    }
  });
});
