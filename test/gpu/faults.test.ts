/**
 * GPU faults in Node/Dawn (issue 9), beyond engineLifecycle.test.ts (which
 * covers a loss between runs, a loss with no way to recover, and timestamp
 * queries present or absent): a device destroyed while a run is in flight,
 * repeated losses, a loss while captures are being read, and models that do
 * not fit the device's buffer limits. After every fault the engine either
 * gives the right answer on the next run or rejects with an EngineError; it
 * never gives a wrong answer or an untyped error.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CrateGpuEngine, EngineError } from '../../src/engine/gpu/engine.ts';
import { createGpuRunner } from '../../src/engine/gpu/gpuRunner.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';
import { randomImage, randomModel } from '../helpers/randomModel.ts';
import { testGpu } from '../helpers/gpu.ts';

const fixture = loadFixture('grey17');
const inputs = [0, 1].map((i) => ({ image: goldenTensor(fixture, `input.${i}`), logits: goldenTensor(fixture, `input.${i}.logits`), w0: goldenTensor(fixture, `input.${i}.layers.0.w`) }));
const TOLERANCE = 1e-4;

const instances: GPU[] = [];
const devices: GPUDevice[] = [];
let faultsInjected = 0;

async function freshAdapter(): Promise<GPUAdapter> {
  await testGpu();
  const { create } = await import('webgpu');
  const gpu = create([]);
  instances.push(gpu);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  return adapter;
}

async function freshDevice(limits: Record<string, number> = {}, features: GPUFeatureName[] = []): Promise<GPUDevice> {
  const adapter = await freshAdapter();
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits });
  devices.push(device);
  return device;
}

function destroy(device: GPUDevice): void {
  faultsInjected++;
  device.destroy();
}

/** Either a result or an EngineError: anything else fails the test. */
async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: EngineError }> {
  try {
    return { value: await promise };
  } catch (error) {
    expect(error, `a typed error, not ${(error as Error)?.name}: ${(error as Error)?.message}`).toBeInstanceOf(EngineError);
    return { error: error as EngineError };
  }
}

afterAll(() => {
  for (const d of devices) d.destroy();
  console.log(`GPU faults injected: ${faultsInjected}`);
});

describe('device loss during a run', () => {
  it('a device destroyed while a run is in flight: that run gives the right answer or an EngineError, and the next run is right', async () => {
    const lost: string[] = [];
    const engine = CrateGpuEngine.create(await freshDevice(), fixture.model, { recreateDevice: () => freshDevice(), onDeviceLost: (info) => lost.push(info.reason) });
    expect(relativeError((await engine.run(inputs[0].image)).logits, inputs[0].logits)).toBeLessThanOrEqual(TOLERANCE);
    const inFlight = engine.run(inputs[1].image);
    destroy(engine.device);
    const outcome = await settle(inFlight);
    if (outcome.value) expect(relativeError(outcome.value.logits, inputs[1].logits)).toBeLessThanOrEqual(TOLERANCE);
    else expect(outcome.error!.message).toMatch(/GPU device was lost/);
    const after = await engine.run(inputs[1].image);
    expect(relativeError(after.logits, inputs[1].logits)).toBeLessThanOrEqual(TOLERANCE);
    expect(lost).toEqual(['destroyed']);
    engine.destroy();
  });

  it('repeated losses, during and between runs, through the app runner with every capture the views read', async () => {
    const engine = CrateGpuEngine.create(await freshDevice(), fixture.model, { recreateDevice: () => freshDevice() });
    const runner = createGpuRunner(engine);
    const outcomes: string[] = [];
    for (let round = 0; round < 4; round++) {
      const input = inputs[round % 2];
      if (round % 2 === 1) destroy(engine.device); // between runs
      const live = engine.device;
      const pending = runner.run(input.image, { profile: round % 2 === 0 });
      if (round % 2 === 0) destroy(live); // mid-run, on the device the run is using
      const outcome = await settle(pending);
      outcomes.push(outcome.value ? 'ran' : 'EngineError');
      if (outcome.value) {
        expect(relativeError(outcome.value.logits, input.logits)).toBeLessThanOrEqual(TOLERANCE);
        expect(relativeError(outcome.value.layers[0].w!, input.w0)).toBeLessThanOrEqual(TOLERANCE);
      }
      // The next run on a fresh device is right, logits and captures alike.
      const next = inputs[(round + 1) % 2];
      const good = await runner.run(next.image);
      expect(relativeError(good.logits, next.logits), `round ${round}`).toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(good.layers[0].w!, next.w0), `round ${round}`).toBeLessThanOrEqual(TOLERANCE);
    }
    // Each mid-run loss cost that run (an EngineError); each loss between runs cost nothing.
    expect(outcomes).toEqual(['EngineError', 'ran', 'EngineError', 'ran']);
    console.log(`runs hit by a mid-run loss: ${outcomes.join(', ')}`);
    await runner.dispose();
  });

  it('a loss while captures are being read: the reads reject with an EngineError, and the next run is right', async () => {
    const engine = CrateGpuEngine.create(await freshDevice(), fixture.model, { recreateDevice: () => freshDevice() });
    const { captures } = await engine.run(inputs[0].image, { layers: [0], tensors: ['w'] });
    const read = captures.read(0, 'w');
    destroy(engine.device);
    const outcome = await settle(read);
    if (outcome.value) expect(relativeError(outcome.value, inputs[0].w0)).toBeLessThanOrEqual(TOLERANCE);
    // Reading again after the loss: the buffers are gone, and the error says so.
    await expect(captures.read(0, 'w')).rejects.toThrow(EngineError);
    expect(relativeError((await engine.run(inputs[0].image)).logits, inputs[0].logits)).toBeLessThanOrEqual(TOLERANCE);
    engine.destroy();
  });

  it('without recreateDevice, a mid-run loss rejects that run or the next with an EngineError, every time after', async () => {
    const engine = CrateGpuEngine.create(await freshDevice(), fixture.model);
    const inFlight = engine.run(inputs[0].image);
    destroy(engine.device);
    await settle(inFlight);
    await expect(engine.run(inputs[0].image)).rejects.toThrow(/GPU device was lost \(destroyed/);
    await expect(engine.run(inputs[0].image)).rejects.toThrow(EngineError);
  });
});

describe('models that do not fit the device', () => {
  // WebGPU never gives a device limits below the defaults (Dawn returns the defaults when asked for
  // less), so the models are made to exceed the defaults instead: tiny weights, huge activations.
  // W = tokens × heads·dim_head floats: 16,385 tokens (1024², patch 8) × 2048 is 8 KB over 128 MiB.
  const overBinding = randomModel({ image_size: 1024, patch_size: 8, channels: 1, dim: 8, depth: 1, heads: 16, dim_head: 128 }, 91);
  const overBuffer = randomModel({ image_size: 1024, patch_size: 8, channels: 1, dim: 8, depth: 1, heads: 32, dim_head: 128 }, 92);

  it('refuses, naming maxStorageBufferBindingSize, a model with an activation over 128 MiB, before allocating anything', async () => {
    const device = await freshDevice();
    expect(device.limits.maxStorageBufferBindingSize).toBe(134217728);
    faultsInjected++;
    expect(() => CrateGpuEngine.create(device, overBinding)).toThrow(EngineError);
    expect(() => CrateGpuEngine.create(device, overBinding)).toThrow(
      'this model needs a 134225920-byte buffer for W = LN1(Z)·Uᵀ (tokens × heads·dim_head), but this device allows maxStorageBufferBindingSize = 134217728 bytes',
    );
  });

  it('refuses, naming maxBufferSize, when the binding limit is raised but the buffer limit is not', async () => {
    const adapter = await freshAdapter();
    const device = await adapter.requestDevice({ requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
    devices.push(device);
    expect(device.limits.maxStorageBufferBindingSize).toBeGreaterThan(device.limits.maxBufferSize);
    faultsInjected++;
    // The first model fits now (its W is under both limits)…
    expect(() => CrateGpuEngine.create(device, overBinding).destroy()).not.toThrow();
    // …the second does not.
    expect(() => CrateGpuEngine.create(device, overBuffer)).toThrow(/needs a 268451840-byte buffer for W .*, but this device allows maxBufferSize = 268435456 bytes/);
  });

  it('refuses a capture request whose buffer does not fit, and still runs the model without it, right', async () => {
    // 785 tokens (224², patch 8) × 64 heads: the attention capture is 157.8 MB, everything else is small.
    const model = randomModel({ image_size: 224, patch_size: 8, channels: 1, dim: 8, depth: 1, heads: 64, dim_head: 4 }, 93);
    const engine = CrateGpuEngine.create(await freshDevice(), model);
    faultsInjected++;
    const image = randomImage(model, 94);
    await expect(engine.run(image, { layers: [0], tensors: ['attention'] })).rejects.toThrow(
      /this capture request needs a 157753600-byte buffer for the attention capture \(heads × tokens²\), but this device allows maxStorageBufferBindingSize = 134217728 bytes/,
    );
    const { logits } = await engine.run(image, { layers: [0], tensors: ['zNext'] });
    expect(relativeError(logits, cpuForward(model, image).logits)).toBeLessThanOrEqual(TOLERANCE);
    engine.destroy();
  });
});

describe('timestamp queries', () => {
  it('a device without timestamp-query profiles as unsupported with a reason, through the app runner too', async () => {
    const device = await freshDevice({}, []);
    expect(device.features.has('timestamp-query')).toBe(false);
    const runner = createGpuRunner(CrateGpuEngine.create(device, fixture.model));
    const { profile, logits } = await runner.run(inputs[1].image, { profile: true });
    expect(profile).toEqual({ supported: false, reason: expect.stringMatching(/timestamp-query/) });
    expect(relativeError(logits, inputs[1].logits)).toBeLessThanOrEqual(TOLERANCE);
    await runner.dispose();
  });
});
