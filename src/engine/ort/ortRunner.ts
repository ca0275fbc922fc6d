import type * as Ort from 'onnxruntime-web';
import type { CrateConfig } from '../config.ts';
import { shapeOf } from '../config.ts';
import type { ForwardOutputs, LayerOutputs, ModelRunner } from '../runner.ts';

/**
 * onnxruntime-web behind the runner interface: the independent reference for
 * our engine and the fallback without WebGPU. The ORT module is passed in, so
 * the browser can load `onnxruntime-web/webgpu` lazily and Node tests can use
 * the default build; both have the same API.
 */
export type OrtModule = typeof Ort;
export type OrtProvider = 'webgpu' | 'wasm';

export class OrtRunnerError extends Error {
  override name = 'OrtRunnerError';
}

/** Output names written by tools/onnx_export.py. */
export function layerOutputNames(layer: number) {
  return { w: `layers.${layer}.w`, attention: `layers.${layer}.attention`, zHalf: `layers.${layer}.z_half`, zNext: `layers.${layer}.z_next` };
}

export async function createOrtRunner(ort: OrtModule, bytes: Uint8Array, config: CrateConfig, provider: OrtProvider): Promise<ModelRunner> {
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
  } catch (error) {
    throw new OrtRunnerError(`onnxruntime-web (${provider}) could not load the model: ${(error as Error).message}`);
  }
  const missing = ['logits', ...Object.values(layerOutputNames(config.depth - 1))].filter((n) => !session.outputNames.includes(n));
  if (missing.length) {
    await session.release();
    throw new OrtRunnerError(`the ONNX graph lacks the output ${missing[0]} (export it with tools/onnx_export.py)`);
  }
  const { imageHeight, imageWidth } = shapeOf(config);
  const dims = [1, config.channels, imageHeight, imageWidth];
  const allOutputs = ['logits', ...Array.from({ length: config.depth }, (_, l) => Object.values(layerOutputNames(l))).flat()];

  return {
    kind: provider === 'webgpu' ? 'ort-webgpu' : 'ort-wasm',
    async run(image, options = {}): Promise<ForwardOutputs> {
      const wantLayers = options.layers !== false;
      const input = new ort.Tensor('float32', image, dims);
      let results: Ort.InferenceSession.ReturnType;
      try {
        results = await session.run({ image: input }, wantLayers ? allOutputs : ['logits']);
      } catch (error) {
        throw new OrtRunnerError(`onnxruntime-web (${provider}) failed to run: ${(error as Error).message}`);
      }
      const take = (name: string) => {
        const tensor = results[name];
        const data = tensor.data as Float32Array;
        // Copy out so the arrays outlive the ORT tensors, which are disposed right after.
        const copy = Float32Array.from(data);
        tensor.dispose();
        return copy;
      };
      const logits = take('logits');
      const layers: LayerOutputs[] = [];
      if (wantLayers) {
        for (let l = 0; l < config.depth; l++) {
          const names = layerOutputNames(l);
          layers.push({ w: take(names.w), attention: take(names.attention), zHalf: take(names.zHalf), zNext: take(names.zNext) });
        }
      }
      return { logits, layers };
    },
    async dispose() {
      await session.release();
    },
  };
}
