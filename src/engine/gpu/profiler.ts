/**
 * GPU time per dispatch from timestamp queries: each dispatch gets its own
 * compute pass with beginning/end timestamps. Adapters without the
 * 'timestamp-query' feature get an explicit "unsupported" profile instead of
 * made-up numbers.
 */
export interface KernelTiming {
  kernel: string;
  scope: string;
  role: string;
  ms: number;
}

export type GpuProfile =
  | { supported: true; dispatches: KernelTiming[]; totalMs: number; byKernel: Record<string, number>; byScope: Record<string, number> }
  | { supported: false; reason: string };

export function summarise(dispatches: KernelTiming[]): GpuProfile {
  const byKernel: Record<string, number> = {};
  const byScope: Record<string, number> = {};
  let totalMs = 0;
  for (const t of dispatches) {
    byKernel[t.kernel] = (byKernel[t.kernel] ?? 0) + t.ms;
    byScope[t.scope] = (byScope[t.scope] ?? 0) + t.ms;
    totalMs += t.ms;
  }
  return { supported: true, dispatches, totalMs, byKernel, byScope };
}

export class TimestampProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly readBuffer: GPUBuffer;

  constructor(
    device: GPUDevice,
    readonly capacity: number,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({ size: 16 * capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readBuffer = device.createBuffer({ size: 16 * capacity, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  }

  passDescriptor(index: number): GPUComputePassDescriptor {
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 } };
  }

  resolve(encoder: GPUCommandEncoder, count: number): void {
    encoder.resolveQuerySet(this.querySet, 0, 2 * count, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, 16 * count);
  }

  async read(labels: { kernel: string; scope: string; role: string }[]): Promise<GpuProfile> {
    await this.readBuffer.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(this.readBuffer.getMappedRange().slice(0));
    this.readBuffer.unmap();
    return summarise(labels.map((label, i) => ({ ...label, ms: Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6 })));
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.readBuffer.destroy();
  }
}
