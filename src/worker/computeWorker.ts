/**
 * The compute worker's entry (docs/ARCHITECTURE.md, "The worker boundary"):
 * wires the real fetch, runners, PNG decoder, model-file reader and analysis
 * helpers into the compute service and answers the main thread's calls. Started by
 * computeClient.ts as a module worker.
 */
import { openModelBlob } from '../models/modelFile.ts';
import { decodePng } from '../models/sampleSet.ts';
import { fetchBytes } from '../fetching/fetchBytes.ts';
import { createRunner } from '../runners/engines.ts';
import type { SampleTensors } from '../dataset/sampleTensors.ts';
import type { ComputeApi, ImageRun } from './computeApi.ts';
import { figuresHereEachImage } from '../dataset/dataset.ts';
import { startAnalysisPool } from './analysisPool.ts';
import { createComputeService } from './computeService.ts';
import { serve, transferablesOf } from './rpc.ts';

const scope = self as unknown as Parameters<typeof serve>[0];

/** The per-image float64 figures, spread over one helper worker per core (analysisPool.ts); this worker alone on one core. */
const analysis = startAnalysisPool(figuresHereEachImage, (message) => notice(message));

const service = createComputeService({
  fetchBytes,
  // Kernel tuning waits until the first result is shown (computeService.ts): a cold first render pays no timing.
  createRunner: (kind, loaded, onNote) => createRunner(kind, loaded, (message) => notice(message), { onTuning: onNote, deferTuning: true }),
  decodePng,
  async openModelFile(name, file, { heads, onProgress, signal }) {
    // A .pth is read by slices, tensor by tensor, never as a second copy of the file (modelFile.ts openModelBlob);
    // reading and parsing interleave, so "read" ends when the last byte has been read.
    const start = performance.now();
    let readMillis = 0;
    const opened = await openModelBlob(name, file, {
      heads,
      signal,
      onProgress: (done, total) => {
        if (done >= total && !readMillis) readMillis = performance.now() - start;
        onProgress?.(done, total);
      },
    });
    return { ...opened, readMillis };
  },
  modelsUrl: new URL('models/', new URL(import.meta.env.BASE_URL, self.location.origin)).href,
  now: () => performance.now(),
  figuresOf: analysis?.compute,
});

/**
 * What each answer hands over instead of copying: the run's tensors and images, which the
 * service made for this answer alone (it keeps its own copy of what it still needs). Not the
 * layer figures: their weight-only parts come from a per-model cache the next run reuses.
 */
function handedOver(method: string, value: unknown): Transferable[] {
  if (method === 'runImage') {
    const run = value as ImageRun;
    return transferablesOf([run.outputs, run.image, run.sourceImage, run.mask]);
  }
  if (method === 'sampleTensors') {
    const tensors = value as SampleTensors;
    return transferablesOf([tensors.images, tensors.layers]);
  }
  return [];
}

const notice = serve<ComputeApi>(scope, service, handedOver);
