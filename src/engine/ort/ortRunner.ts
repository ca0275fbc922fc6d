import type * as Ort from 'onnxruntime-web';
import type { AnyCrateConfig } from '../config.ts';
import { shapeOf } from '../config.ts';
import { outputShapes } from '../outputCheck.ts';
import type { AlphaLayerOutputs, ForwardOutputs, LayerOutputs, ModelRunner } from '../runner.ts';

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

/**
 * A copy of one output, after checking its type and shape against what the
 * config implies: the graph comes from an untrusted file, and the views index
 * these arrays by the config's sizes (issue 20 #2). Copied, so the array
 * outlives the ORT tensor, which is disposed right after.
 */
function checkedCopy(results: Ort.InferenceSession.ReturnType, name: string, expected: number[]): Float32Array {
  const tensor = results[name];
  const dims = tensor ? [...tensor.dims] : [];
  if (!tensor || tensor.type !== 'float32' || dims.length !== expected.length || dims.some((d, i) => d !== expected[i])) {
    const got = tensor ? `${tensor.type}[${dims.join(', ')}]` : 'nothing';
    throw new OrtRunnerError(`the ONNX graph's output "${name}" is ${got}, but the model's config implies float32[${expected.join(', ')}]: the graph is not the CRATE graph its metadata describes`);
  }
  return Float32Array.from(tensor.data as Float32Array);
}

/** CRATE-α graphs (tools/alpha_onnx_export.py) also output each layer's sparse code z2, [batch, N, r·d]. */
export const sparseCodeOutputName = (layer: number) => `layers.${layer}.sparse_code`;

export async function createOrtRunner(ort: OrtModule, bytes: Uint8Array, config: AnyCrateConfig, provider: OrtProvider): Promise<ModelRunner> {
  const ratio = config.arch === 'crate-alpha' ? config.ratio : undefined;
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
  } catch (error) {
    throw new OrtRunnerError(`onnxruntime-web (${provider}) could not load the model: ${(error as Error).message}`);
  }
  const lastLayer = [...Object.values(layerOutputNames(config.depth - 1)), ...(ratio ? [sparseCodeOutputName(config.depth - 1)] : [])];
  const missing = ['logits', ...lastLayer].filter((n) => !session.outputNames.includes(n));
  if (missing.length) {
    await session.release();
    throw new OrtRunnerError(`the ONNX graph lacks the output ${missing[0]} (export it with tools/onnx_export.py)`);
  }
  const { imageHeight, imageWidth } = shapeOf(config);
  const dims = [1, config.channels, imageHeight, imageWidth];
  const allOutputs = ['logits', ...Array.from({ length: config.depth }, (_, l) => [...Object.values(layerOutputNames(l)), ...(ratio ? [sparseCodeOutputName(l)] : [])]).flat()];
  // The output shapes depend on the sizes alone, which both families describe alike.
  const shapes = outputShapes({ ...config, arch: 'crate' });
  const sparseCodeShape = [1, shapeOf(config).tokens, (ratio ?? 1) * config.dim];

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
      try {
        const take = (name: string, expected: number[]) => checkedCopy(results, name, expected);
        const logits = take('logits', shapes.logits);
        const layers: LayerOutputs[] = [];
        if (wantLayers) {
          for (let l = 0; l < config.depth; l++) {
            const names = layerOutputNames(l);
            const layer: LayerOutputs = {
              w: take(names.w, shapes.layer.w),
              attention: take(names.attention, shapes.layer.attention),
              zHalf: take(names.zHalf, shapes.layer.zHalf),
              zNext: take(names.zNext, shapes.layer.zNext),
            };
            const alphaLayer: AlphaLayerOutputs | undefined = ratio ? { ...layer, sparseCode: take(sparseCodeOutputName(l), sparseCodeShape) } : undefined;
            layers.push(alphaLayer ?? layer);
          }
        }
        return { logits, layers };
      } finally {
        for (const tensor of Object.values(results)) tensor.dispose();
      }
    },
    async dispose() {
      await session.release();
    },
  };
}
