import { describe, expect, it } from 'vitest';
import type { AdapterStatus } from '../../src/runners/adapter.ts';
import { forwardFlops, planEngines, SOFTWARE_ADAPTER_FLOP_LIMIT } from '../../src/runners/engines.ts';
import type { LoadedModel } from '../../src/models/modelFile.ts';
import { randomModel } from '../helpers/randomModel.ts';

const gpu: AdapterStatus = { status: 'ready', name: 'NVIDIA H200', vendor: 'nvidia', architecture: 'hopper', fallback: false, features: [] };
const swiftshader: AdapterStatus = { status: 'ready', name: 'google swiftshader', vendor: 'google', architecture: 'swiftshader', fallback: true, features: [] };
const none: AdapterStatus = { status: 'unavailable', reason: 'this browser has no navigator.gpu' };

function loaded(onnx: boolean, dim = 96): LoadedModel {
  const model = randomModel({ dim, depth: 2, heads: 4, dim_head: 24, image_size: 28, patch_size: 4, channels: 1 }, 1);
  return { model, onnx: onnx ? new Uint8Array(1) : undefined, bytes: 1 };
}

describe('engine choice (issue 7)', () => {
  it('runs our WGSL engine on a real GPU and checks it against ORT WASM', () => {
    expect(planEngines('auto', gpu, loaded(true))).toMatchObject({ primary: 'wgsl', reference: 'ort-wasm' });
  });

  it('prefers ORT WASM on a software adapter, with our engine as the check, and says why', () => {
    const plan = planEngines('auto', swiftshader, loaded(true));
    expect(forwardFlops(loaded(true).model)).toBeGreaterThan(SOFTWARE_ADAPTER_FLOP_LIMIT);
    expect(plan).toMatchObject({ primary: 'ort-wasm', reference: 'wgsl' });
    expect(plan.reason).toContain('software renderer');
  });

  it('falls back to ORT WASM without WebGPU, checked by the CPU reference', () => {
    const plan = planEngines('auto', none, loaded(true));
    expect(plan).toMatchObject({ primary: 'ort-wasm', reference: 'cpu' });
    expect(plan.reason).toContain('WebGPU is unavailable');
  });

  it('uses the CPU reference for a model without an ONNX graph and no WebGPU', () => {
    const plan = planEngines('auto', none, loaded(false));
    expect(plan.primary).toBe('cpu');
    expect(plan.reference).toBeUndefined();
  });

  it('on a software adapter runs a large model without an ONNX graph on our engine, saying ORT would need one', () => {
    const plan = planEngines('auto', swiftshader, loaded(false));
    expect(plan).toMatchObject({ primary: 'wgsl', reference: 'cpu' });
    expect(plan.reason).toContain('needs an ONNX graph');
    expect(plan.reason).not.toContain('small');
  });

  it("honours the user's choice, and explains when it cannot", () => {
    expect(planEngines('ort-webgpu', gpu, loaded(true))).toMatchObject({ primary: 'ort-webgpu', reference: 'wgsl' });
    expect(planEngines('wgsl', swiftshader, loaded(true)).primary).toBe('wgsl');
    const refused = planEngines('ort-wasm', gpu, loaded(false));
    expect(refused.primary).toBe('wgsl');
    expect(refused.reason).toContain('needs an ONNX model');
    expect(planEngines('wgsl', none, loaded(true))).toMatchObject({ primary: 'ort-wasm' });
  });
});
