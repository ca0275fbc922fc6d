/**
 * The CRATE-α engine checks every buffer against the adapter's limits before it
 * uploads (issue 16). A device cannot be asked for limits below the defaults, so
 * the small limit is faked: the real device seen through a wrapper whose
 * `limits` report a smaller maxStorageBufferBindingSize.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AlphaGpuEngine } from '../../src/engine/gpu/alphaEngine.ts';
import { alphaPlannedBuffers, checkBufferLimits } from '../../src/engine/gpu/alphaLimits.ts';
import { EngineError } from '../../src/engine/gpu/engine.ts';
import { alphaFixtureModel, alphaGolden, loadAlphaFixture } from '../helpers/alphaFixtures.ts';
import { relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';

const engines: AlphaGpuEngine[] = [];
afterAll(() => engines.forEach((engine) => engine.destroy()));

/** The device, with `limits` replaced; the engine must refuse before it calls anything else on it. */
function withLimits(device: GPUDevice, limits: Partial<GPUSupportedLimits>): GPUDevice {
  const fake = { ...Object.fromEntries(['maxBufferSize', 'maxStorageBufferBindingSize'].map((k) => [k, device.limits[k as keyof GPUSupportedLimits]])), ...limits };
  return new Proxy(device, {
    get: (target, key) => (key === 'limits' ? fake : Reflect.get(target, key, target)),
  });
}

describe('CRATE-α buffers against the adapter limits', () => {
  it("the real adapter's limits hold alpha_r4, and the engine runs it", async () => {
    const { device } = await testGpu();
    const fixture = loadAlphaFixture('alpha_r4');
    const model = await alphaFixtureModel(fixture);
    expect(() => checkBufferLimits(alphaPlannedBuffers(model), device.limits)).not.toThrow();
    const engine = AlphaGpuEngine.create(device, model);
    engines.push(engine);
    const out = await engine.run(alphaGolden(fixture, 'input.0'), { layers: false });
    expect(relativeError(out.logits, alphaGolden(fixture, 'input.0.logits'))).toBeLessThanOrEqual(1e-4);
  });

  it('a binding limit just under the largest buffer: create refuses with an EngineError naming it', async () => {
    const { device } = await testGpu();
    const model = await alphaFixtureModel(loadAlphaFixture('alpha_r4'));
    const planned = alphaPlannedBuffers(model).filter((b) => b.storage);
    const largest = planned.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const small = withLimits(device, { maxStorageBufferBindingSize: largest.bytes - 4 });
    const error = (() => {
      try {
        engines.push(AlphaGpuEngine.create(small, model));
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EngineError);
    expect(error!.message).toMatch(new RegExp(`^${largest.name.replace(/[()·²×]/g, '.')} \\(.* MB, ${largest.bytes} bytes\\) exceeds this adapter's maxStorageBufferBindingSize \\(.* MB, ${largest.bytes - 4} bytes\\)$`));
  });

  it('a buffer-size limit under the largest buffer is named as maxBufferSize', async () => {
    const { device } = await testGpu();
    const model = await alphaFixtureModel(loadAlphaFixture('alpha_r4'));
    expect(() => AlphaGpuEngine.create(withLimits(device, { maxBufferSize: 64, maxStorageBufferBindingSize: 64 }), model)).toThrow(/exceeds this adapter's maxBufferSize \(0 MB, 64 bytes\)/);
  });
});
