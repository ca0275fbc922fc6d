/**
 * Owns every GPU buffer an engine creates, so memory can be accounted for
 * (the benchmark and the soak test read `bytes`) and released in one call.
 */
export class BufferArena {
  private readonly buffers = new Set<GPUBuffer>();
  bytes = 0;

  constructor(private readonly device: GPUDevice) {}

  create(label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    // WebGPU needs sizes in multiples of 4; tiny placeholders still need 16 for uniforms.
    const alignedSize = Math.max(16, Math.ceil(size / 4) * 4);
    const buffer = this.device.createBuffer({ label, size: alignedSize, usage });
    this.buffers.add(buffer);
    this.bytes += alignedSize;
    return buffer;
  }

  /** A storage buffer holding `data`, written once. */
  storage(label: string, data: Float32Array | ArrayBuffer): GPUBuffer {
    const bytes = toBytes(data);
    const buffer = this.create(label, bytes.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC);
    this.device.queue.writeBuffer(buffer, 0, bytes);
    return buffer;
  }

  uniform(label: string, data: ArrayBuffer): GPUBuffer {
    const buffer = this.create(label, data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buffer, 0, toBytes(data));
    return buffer;
  }

  /** An activation: written by kernels, copied out when captured. */
  activation(label: string, floats: number): GPUBuffer {
    return this.create(label, floats * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
  }

  release(buffer: GPUBuffer): void {
    if (this.buffers.delete(buffer)) {
      this.bytes -= buffer.size;
      buffer.destroy();
    }
  }

  destroyAll(): void {
    for (const buffer of this.buffers) buffer.destroy();
    this.buffers.clear();
    this.bytes = 0;
  }
}

/**
 * writeBuffer takes a typed-array view: Dawn's Node binding (npm `webgpu`
 * 0.6) hangs or aborts when handed a bare ArrayBuffer.
 */
function toBytes(data: Float32Array | ArrayBuffer): Uint8Array<ArrayBuffer> {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

/** Copies a buffer's first `floats` values back to the CPU. */
export async function readBuffer(device: GPUDevice, source: GPUBuffer, floats: number, offsetFloats = 0): Promise<Float32Array> {
  const size = floats * 4;
  const staging = device.createBuffer({ label: 'readback', size: Math.max(4, size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder({ label: 'readback' });
    encoder.copyBufferToBuffer(source, offsetFloats * 4, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return new Float32Array(staging.getMappedRange().slice(0));
  } finally {
    staging.destroy();
  }
}
