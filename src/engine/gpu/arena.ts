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

/** Copies `floats` values of a buffer, from float `offsetFloats` on, back to the CPU. */
export async function readBuffer(device: GPUDevice, source: GPUBuffer, floats: number, offsetFloats = 0): Promise<Float32Array> {
  const [out] = await readBuffers(device, [{ buffer: source, floats, offsetFloats }]);
  return out;
}

/**
 * Reads several buffers with one submit and one mapAsync. Each map is a round
 * trip to the GPU process, and on SwiftShader that costs far more than the
 * copy; reading a run's 48 captures one by one was what made the explorer's
 * workload 2.2× a plain forward on CRATE-T (issue 7). Sources are packed into
 * staging buffers of at most `maxBytes` each.
 */
export async function readBuffers(device: GPUDevice, sources: readonly { buffer: GPUBuffer; floats: number; offsetFloats?: number }[], maxBytes = device.limits.maxBufferSize): Promise<Float32Array[]> {
  const groups: { start: number; end: number; bytes: number }[] = [];
  for (let i = 0; i < sources.length; i++) {
    const bytes = sources[i].floats * 4;
    const last = groups.at(-1);
    if (last && last.bytes + bytes <= maxBytes) {
      last.end = i + 1;
      last.bytes += bytes;
    } else groups.push({ start: i, end: i + 1, bytes });
  }
  const encoder = device.createCommandEncoder({ label: 'readback' });
  const stagings = groups.map((group) => {
    const staging = device.createBuffer({ label: 'readback', size: Math.max(4, group.bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let offset = 0;
    for (let i = group.start; i < group.end; i++) {
      const size = sources[i].floats * 4;
      if (size > 0) encoder.copyBufferToBuffer(sources[i].buffer, 4 * (sources[i].offsetFloats ?? 0), staging, offset, size);
      offset += size;
    }
    return staging;
  });
  try {
    device.queue.submit([encoder.finish()]);
    const out: Float32Array[] = [];
    for (const [g, staging] of stagings.entries()) {
      await staging.mapAsync(GPUMapMode.READ);
      const all = staging.getMappedRange();
      let offset = 0;
      for (let i = groups[g].start; i < groups[g].end; i++) {
        out.push(new Float32Array(all.slice(offset, offset + sources[i].floats * 4)));
        offset += sources[i].floats * 4;
      }
      staging.unmap();
    }
    return out;
  } finally {
    for (const staging of stagings) staging.destroy();
  }
}
