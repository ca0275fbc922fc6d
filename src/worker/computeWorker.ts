/**
 * The compute worker's entry (docs/ARCHITECTURE.md, "The worker boundary"):
 * wires the real fetch, runners, PNG decoder and model-file reader into the
 * compute service and answers the main thread's calls. Started by
 * computeClient.ts as a module worker.
 */
import { openModelBytes } from '../models/modelFile.ts';
import { decodePng } from '../models/sampleSet.ts';
import { fetchBytes, LoadError } from '../fetching/fetchBytes.ts';
import { createRunner } from '../runners/engines.ts';
import type { SampleTensors } from '../dataset/sampleTensors.ts';
import type { ComputeApi, ImageRun } from './computeApi.ts';
import { createComputeService } from './computeService.ts';
import { serve, transferablesOf } from './rpc.ts';

const scope = self as unknown as Parameters<typeof serve>[0];

/** Reads a local file with byte progress (a 90 MB checkpoint takes a moment even from disk). */
async function readBlob(file: Blob, onProgress: (received: number, total: number) => void, signal?: AbortSignal): Promise<Uint8Array> {
  const total = file.size;
  const out = new Uint8Array(total);
  const reader = file.stream().getReader();
  let received = 0;
  for (;;) {
    if (signal?.aborted) {
      await reader.cancel();
      throw Object.assign(new Error('superseded'), { name: 'AbortError' });
    }
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.byteLength > total) throw new LoadError('the file grew while it was read');
    out.set(value, received);
    received += value.byteLength;
    onProgress(received, total);
  }
  return received === total ? out : out.subarray(0, received);
}

const service = createComputeService({
  fetchBytes,
  createRunner: (kind, loaded) => createRunner(kind, loaded, (message) => notice(message)),
  decodePng,
  async openModelFile(name, file, { heads, onProgress, signal }) {
    const readStart = performance.now();
    const bytes = await readBlob(file, (done, total) => onProgress?.(done, total), signal);
    const readMillis = performance.now() - readStart;
    const opened = await openModelBytes(name, bytes, { heads, signal, onProgress });
    return { ...opened, readMillis };
  },
  modelsUrl: new URL('models/', new URL(import.meta.env.BASE_URL, self.location.origin)).href,
  now: () => performance.now(),
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
