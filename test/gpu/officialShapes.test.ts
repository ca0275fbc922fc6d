import { afterAll, describe, expect, it } from 'vitest';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { CrateGpuEngine } from '../../src/engine/gpu/engine.ts';
import type { CrateConfig } from '../../src/engine/config.ts';
import { relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';
import { randomImage, randomModel } from '../helpers/randomModel.ts';

// Official shapes (docs/MEASUREMENTS.md §1) with random weights, GPU against the CPU
// reference. Depth is cut where SwiftShader would take minutes; the token
// counts and head widths, which are what the kernels' edge handling sees, are the real ones.
const SHAPES: [string, Partial<CrateConfig> & Pick<CrateConfig, 'dim' | 'depth' | 'heads' | 'dim_head'>][] = [
  ['CRATE-T 224/16 (N = 197, 12 layers)', { dim: 384, depth: 12, heads: 6, dim_head: 64 }],
  ['CRATE-S 224/16 (dh = 48)', { dim: 576, depth: 2, heads: 12, dim_head: 48 }],
  ['demo B/8 (N = 785, 6 heads of 128)', { dim: 768, depth: 1, heads: 6, dim_head: 128, patch_size: 8, num_classes: 21 }],
];

const TOLERANCE = 1e-4;

describe.each(SHAPES)('GPU engine at the %s shape', (_, partial) => {
  const model = randomModel(partial, 1234);
  const image = randomImage(model, 99);
  let engine: CrateGpuEngine | undefined;
  afterAll(() => engine?.destroy());

  it('matches the CPU reference on logits, the last Z and the last attention', async () => {
    const { device } = await testGpu();
    engine = CrateGpuEngine.create(device, model);
    const last = model.config.depth - 1;
    const { logits, captures } = await engine.run(image, { layers: [last], tensors: ['zNext', 'attention'] });
    const reference = cpuForward(model, image);
    expect(relativeError(logits, reference.logits), 'logits').toBeLessThanOrEqual(TOLERANCE);
    expect(relativeError(await captures.read(last, 'zNext'), reference.layers[last].zNext), 'last Z').toBeLessThanOrEqual(TOLERANCE);
    expect(relativeError(await captures.read(last, 'attention'), reference.layers[last].attention), 'last attention').toBeLessThanOrEqual(TOLERANCE);
  });
});
