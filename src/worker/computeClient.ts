/**
 * The main thread's handle on the compute worker (docs/ARCHITECTURE.md, "The
 * worker boundary"): starts it once, as a module worker, and returns the
 * typed client the pipeline jobs call. A worker that dies (a crash, or out
 * of memory on a huge model) is reported as a notice; the next call starts a
 * fresh one.
 */
import type { ComputeApi } from './computeApi.ts';
import { COMPUTE_METHODS } from './computeApi.ts';
import { connect, type Client } from './rpc.ts';

export type Compute = Client<ComputeApi>;

export function startComputeWorker(onNotice: (message: string) => void): Compute {
  const worker = new Worker(new URL('./computeWorker.ts', import.meta.url), { type: 'module', name: 'crate-compute' });
  worker.addEventListener('error', (event) => onNotice(`the compute worker failed: ${event.message || 'it could not start'}`));
  return connect<ComputeApi>(worker, COMPUTE_METHODS, onNotice);
}
