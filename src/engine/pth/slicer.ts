/**
 * Cooperative time slicing: long loops call `maybeYield()` between small
 * chunks of work; once the current slice has run for `budgetMs`, it awaits a
 * macrotask so the page (or the Node event loop) gets a turn.
 */
export type ProgressCallback = (bytesDone: number, bytesTotal: number) => void;

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export class Slicer {
  private sliceStart = now();
  /** The longest stretch of synchronous work between two yields, as measured here. */
  longestSliceMs = 0;
  yields = 0;

  constructor(
    readonly budgetMs = 16,
    private readonly signal?: AbortSignal,
  ) {}

  get due(): boolean {
    return now() - this.sliceStart >= this.budgetMs;
  }

  async yield(): Promise<void> {
    this.longestSliceMs = Math.max(this.longestSliceMs, now() - this.sliceStart);
    this.yields++;
    await nextMacrotask();
    this.signal?.throwIfAborted();
    this.sliceStart = now();
  }

  maybeYield(): Promise<void> | undefined {
    return this.due ? this.yield() : undefined;
  }

  /** Closes the last slice (for the statistics). */
  finish(): void {
    this.longestSliceMs = Math.max(this.longestSliceMs, now() - this.sliceStart);
  }
}
