import { BufferArena, readBuffer } from '../../src/engine/gpu/arena.ts';
import { encodeDispatch, PipelineCache, prepare, type Dispatch } from '../../src/kernels/program.ts';

/** Runs single dispatches on small buffers, for kernel-level tests and benchmarks. */
export class KernelRunner {
  readonly arena: BufferArena;
  readonly cache: PipelineCache;

  constructor(readonly device: GPUDevice) {
    this.arena = new BufferArena(device);
    this.cache = new PipelineCache(device);
  }

  input(data: Float32Array): GPUBuffer {
    return this.arena.storage('input', data);
  }

  output(floats: number): GPUBuffer {
    return this.arena.activation('output', floats);
  }

  uniform(data: ArrayBuffer): GPUBuffer {
    return this.arena.uniform('params', data);
  }

  /** Encodes `repeats` copies of the dispatch in one pass and waits for the GPU. */
  async run(dispatch: Dispatch, repeats = 1): Promise<void> {
    this.device.pushErrorScope('validation');
    const prepared = prepare(this.device, this.cache, dispatch);
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let i = 0; i < repeats; i++) encodeDispatch(pass, prepared);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`${dispatch.spec.name}: ${error.message}`);
  }

  read(buffer: GPUBuffer, floats: number): Promise<Float32Array> {
    return readBuffer(this.device, buffer, floats);
  }

  destroy(): void {
    this.arena.destroyAll();
  }
}
