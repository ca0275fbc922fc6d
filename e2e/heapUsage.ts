/**
 * The V8 heap of a page and of each of its workers, over CDP (`Runtime.getHeapUsage`
 * per target; workers through non-flat sessions, since Playwright's CDPSession has no
 * child sessions). The compute worker holds the models and runs (docs/ARCHITECTURE.md),
 * so a page's own heap alone says little. Used by the large-file and soak tests.
 */
import type { CDPSession, Page } from '@playwright/test';

const MB = 1e6;

interface Peak {
  usedSize: number;
  backingStorageSize?: number;
}

/** CDP sessions to the page and (non-flat) to each of its workers, polled for heap usage. */
export class HeapSampler {
  private readonly workers = new Map<string, string>();
  private nextId = 1;
  private readonly pending = new Map<number, (result: Record<string, number>) => void>();
  readonly peaks = new Map<string, Peak>();
  pageMetricPeak = 0;
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly cdp: CDPSession) {
    cdp.on('Target.attachedToTarget', ({ sessionId, targetInfo }) => {
      if (targetInfo.type.includes('worker')) this.workers.set(sessionId, `${targetInfo.type} ${targetInfo.url.split('/').pop()}`);
    });
    cdp.on('Target.detachedFromTarget', ({ sessionId }) => this.workers.delete(sessionId));
    cdp.on('Target.receivedMessageFromTarget', ({ message }) => {
      const reply = JSON.parse(message) as { id?: number; result?: Record<string, number> };
      if (reply.id !== undefined && this.pending.has(reply.id)) {
        this.pending.get(reply.id)!(reply.result ?? {});
        this.pending.delete(reply.id);
      }
    });
  }

  /** `pollMs`: sample the peaks this often (0: only when asked). */
  static async start(page: Page, pollMs = 250): Promise<HeapSampler> {
    const cdp = await page.context().newCDPSession(page);
    const sampler = new HeapSampler(cdp);
    await cdp.send('Performance.enable');
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    if (pollMs > 0) sampler.timer = setInterval(() => void sampler.sample().catch(() => undefined), pollMs);
    return sampler;
  }

  private record(target: string, usage: Record<string, number>) {
    const peak = this.peaks.get(target) ?? { usedSize: 0 };
    peak.usedSize = Math.max(peak.usedSize, usage.usedSize ?? 0);
    if (usage.backingStorageSize !== undefined) peak.backingStorageSize = Math.max(peak.backingStorageSize ?? 0, usage.backingStorageSize);
    this.peaks.set(target, peak);
  }

  private workerHeap(sessionId: string): Promise<Record<string, number>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      void this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) }).catch(() => resolve({}));
    });
  }

  async sample(): Promise<void> {
    this.record('page', (await this.cdp.send('Runtime.getHeapUsage')) as unknown as Record<string, number>);
    const { metrics } = await this.cdp.send('Performance.getMetrics');
    this.pageMetricPeak = Math.max(this.pageMetricPeak, metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0);
    await Promise.all([...this.workers].map(async ([sessionId, name]) => this.record(`worker (${name})`, await this.workerHeap(sessionId))));
  }

  /** The V8 heap in use now, the page and its workers together (one fresh reading of each), bytes. */
  async current(): Promise<number> {
    const page = (await this.cdp.send('Runtime.getHeapUsage')) as unknown as { usedSize: number };
    const workers = await Promise.all([...this.workers.keys()].map((sessionId) => this.workerHeap(sessionId)));
    return page.usedSize + workers.reduce((sum, usage) => sum + (usage.usedSize ?? 0), 0);
  }

  stop() {
    clearInterval(this.timer);
  }

  report(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [target, peak] of this.peaks) {
      out[`${target}: peak V8 heap (Runtime.getHeapUsage usedSize)`] = `${(peak.usedSize / MB).toFixed(1)} MB`;
      if (peak.backingStorageSize !== undefined) out[`${target}: peak ArrayBuffer backing stores (backingStorageSize)`] = `${(peak.backingStorageSize / MB).toFixed(1)} MB`;
    }
    out['page: peak JSHeapUsedSize (Performance.getMetrics)'] = `${(this.pageMetricPeak / MB).toFixed(1)} MB`;
    return out;
  }
}
