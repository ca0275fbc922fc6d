import { describe, expect, it } from 'vitest';
import { CrateGpuEngine, EngineError } from '../../src/engine/gpu/engine.ts';
import { goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';

const fixture = loadFixture('grey17');
const image = goldenTensor(fixture, 'input.0');
const expected = goldenTensor(fixture, 'input.0.logits');

// Each adapter gives one device, so every fresh device needs its own adapter;
// Dawn instances must stay referenced while their devices live.
const instances: GPU[] = [];
async function freshDevice(features: GPUFeatureName[] = []): Promise<GPUDevice> {
  await testGpu(); // picks the Vulkan driver (SwiftShader where there is no GPU)
  const { create } = await import('webgpu');
  const gpu = create([]);
  instances.push(gpu);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  return adapter.requestDevice({ requiredFeatures: features });
}

describe('engine lifecycle', () => {
  it('uploads in slices, pausing once per layer, and then runs exactly like a one-shot upload', async () => {
    const { device } = await testGpu();
    let pauses = 0;
    const sliced = await CrateGpuEngine.createInSlices(device, fixture.model, {}, async () => {
      pauses++;
    });
    const whole = CrateGpuEngine.create(device, fixture.model);
    try {
      expect(pauses).toBe(fixture.model.config.depth);
      expect(sliced.gpuBytes).toBe(whole.gpuBytes);
      const logits = (await sliced.run(image)).logits;
      expect([...logits]).toEqual([...(await whole.run(image)).logits]);
      expect(relativeError(logits, expected)).toBeLessThanOrEqual(1e-4);
    } finally {
      sliced.destroy();
      whole.destroy();
    }
  });

  it('recreates itself on a fresh device after device loss, when given a way to get one', async () => {
    const lost: string[] = [];
    const device = await freshDevice();
    const engine = CrateGpuEngine.create(device, fixture.model, { recreateDevice: () => freshDevice(), onDeviceLost: (info) => lost.push(info.reason) });
    expect(relativeError((await engine.run(image)).logits, expected)).toBeLessThanOrEqual(1e-4);
    device.destroy();
    await device.lost;
    expect(lost).toEqual(['destroyed']);
    const after = await engine.run(image);
    expect(engine.device).not.toBe(device);
    expect(relativeError(after.logits, expected)).toBeLessThanOrEqual(1e-4);
    engine.destroy();
  });

  it('reports a clear error after device loss when it cannot recreate itself', async () => {
    const device = await freshDevice();
    const engine = CrateGpuEngine.create(device, fixture.model);
    device.destroy();
    await device.lost;
    await expect(engine.run(image)).rejects.toThrow(EngineError);
    await expect(engine.run(image)).rejects.toThrow(/GPU device was lost \(destroyed/);
  });

  it('says plainly when the device has no timestamp queries', async () => {
    const engine = CrateGpuEngine.create(await freshDevice([]), fixture.model);
    const { profile, logits } = await engine.run(image, undefined, { profile: true });
    expect(engine.timestampsSupported).toBe(false);
    expect(profile).toEqual({ supported: false, reason: expect.stringMatching(/timestamp-query/) });
    expect(relativeError(logits, expected)).toBeLessThanOrEqual(1e-4);
    engine.destroy();
  });

  it('times every dispatch, per kernel and per layer, when the device has timestamp queries', async () => {
    const engine = CrateGpuEngine.create(await freshDevice(['timestamp-query']), fixture.model);
    const { profile } = await engine.run(image, undefined, { profile: true });
    if (!profile?.supported) throw new Error('SwiftShader offers timestamp-query; the profile must be supported here');
    expect(profile.dispatches).toHaveLength((await engine.dispatchCount()).total);
    expect(Object.keys(profile.byScope)).toEqual(['embed', 'layer 0', 'layer 1', 'layer 2', 'head']);
    expect(profile.dispatches.every((d) => d.ms >= 0)).toBe(true);
    expect(profile.totalMs).toBeGreaterThan(0);
    engine.destroy();
  });

  it('refuses an image of the wrong size with a clear error', async () => {
    const engine = CrateGpuEngine.create(await freshDevice(), fixture.model);
    await expect(engine.run(new Float32Array(10))).rejects.toThrow(/image has 10 values; the model needs 1×28×28/);
    engine.destroy();
  });
});

describe('capture plans', () => {
  it('refuse to read captures of a plan evicted by later capture requests', async () => {
    const engine = CrateGpuEngine.create(await freshDevice(), fixture.model);
    const first = await engine.run(image, { layers: [0], tensors: ['w'] });
    for (let layer = 0; layer < 3; layer++) await engine.run(image, { layers: [layer], tensors: ['zNext'] });
    await engine.run(image, { layers: [1], tensors: ['w'] });
    await expect(first.captures.read(0, 'w')).rejects.toThrow(/overwritten/);
    engine.destroy();
  });
});
