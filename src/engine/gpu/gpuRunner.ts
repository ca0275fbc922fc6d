import type { ForwardOutputs, LayerOutputs, ModelRunner } from '../runner.ts';
import { CAPTURE_NOTHING, type CaptureRequest } from './capture.ts';
import type { CrateGpuEngine } from './engine.ts';

/** Exactly what the views need: no Z^ℓ (it is the previous layer's Z^{ℓ+1}) and nothing else read back. */
const CAPTURE_VIEWS: CaptureRequest = { layers: 'all', tensors: ['w', 'attention', 'zHalf', 'zNext'] };

/** Our WGSL engine behind the runner interface; the captures are read back in one GPU round trip per run. */
export function createGpuRunner(engine: CrateGpuEngine): ModelRunner {
  return {
    kind: 'wgsl',
    async run(image, options = {}): Promise<ForwardOutputs> {
      const wantLayers = options.layers !== false;
      const result = await engine.run(image, wantLayers ? CAPTURE_VIEWS : CAPTURE_NOTHING, { profile: options.profile });
      if (!wantLayers) return { logits: result.logits, layers: [], profile: result.profile };
      const { tensors } = CAPTURE_VIEWS;
      const depth = engine.model.config.depth;
      const read = await result.captures.readMany(Array.from({ length: depth }, (_, layer) => tensors.map((tensor) => ({ layer, tensor }))).flat());
      const layers = Array.from({ length: depth }, (_, l): LayerOutputs => {
        const [w, attention, zHalf, zNext] = read.slice(l * tensors.length, (l + 1) * tensors.length);
        return { w, attention, zHalf, zNext };
      });
      return { logits: result.logits, layers, profile: result.profile };
    },
    async dispose() {
      engine.destroy();
    },
  };
}
