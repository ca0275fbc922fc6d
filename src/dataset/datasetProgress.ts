/**
 * The line a long dataset run shows (issue 19: "a CRATE-T run over 100
 * images took about 7 minutes here with no estimate"): images done, time per
 * image so far, and the time left at that pace.
 */

/** "850 ms" under ten seconds, "12 s" under two minutes, else "4 min 10 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export interface DatasetProgress {
  done: number;
  total: number;
  perImageMs: number;
  remainingMs: number;
}

export function datasetProgress(done: number, total: number, elapsedMs: number): DatasetProgress {
  const perImageMs = done > 0 ? elapsedMs / done : NaN;
  return { done, total, perImageMs, remainingMs: done > 0 ? perImageMs * (total - done) : NaN };
}

/** "Dataset: 12 of 100 images · 4.2 s per image · about 6 min 10 s left (CPU reference)". */
export function datasetProgressText(p: DatasetProgress, engine: string): string {
  if (p.done === 0) return `Dataset: starting ${p.total} images on ${engine}…`;
  const left = p.done < p.total ? ` · about ${formatDuration(p.remainingMs)} left` : '';
  return `Dataset: ${p.done} of ${p.total} images · ${formatDuration(p.perImageMs)} per image${left} (${engine})`;
}
