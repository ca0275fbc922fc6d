import type { CrateModel } from '../model.ts';
import type { ForwardOutputs, ModelRunner } from '../runner.ts';
import { cpuForward } from './reference.ts';

/** The float32 TypeScript reference (reference.ts) behind the runner interface: slow, but needs nothing. */
export function createCpuRunner(model: CrateModel): ModelRunner {
  return {
    kind: 'cpu',
    async run(image, options = {}): Promise<ForwardOutputs> {
      const trace = cpuForward(model, image);
      const layers = options.layers === false ? [] : trace.layers.map(({ w, attention, zHalf, zNext }) => ({ w, attention, zHalf, zNext }));
      return { logits: trace.logits, layers };
    },
    async dispose() {},
  };
}
