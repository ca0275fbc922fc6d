/**
 * Pure summaries for the responsiveness bench (bench/responsiveness.ts, issue
 * 17's targets): which main-thread long tasks fall in a measured window, and
 * how a figure reads against its target. Kept apart from the bench so that
 * they are unit-tested without a browser.
 */

/** One PerformanceObserver 'longtask' entry, in the page's performance.now() milliseconds. */
export interface LongTask {
  start: number;
  duration: number;
}

/**
 * The longest task that overlaps [from, to], or 0 when none does. A task that
 * began before the window and was still running inside it counts: the page was
 * frozen during the window all the same. The browser reports only tasks of
 * 50 ms or more, so 0 means "none of 50 ms or more".
 */
export function longestTaskIn(tasks: readonly LongTask[], from: number, to: number): number {
  return longestTaskEntry(tasks, from, to)?.duration ?? 0;
}

/** The longest task overlapping [from, to] itself (the first of equals), to say when in the window the page froze. */
export function longestTaskEntry(tasks: readonly LongTask[], from: number, to: number): LongTask | undefined {
  if (!(to >= from)) throw new RangeError(`window [${from}, ${to}] is empty`);
  let longest: LongTask | undefined;
  for (const t of tasks) {
    if (t.start <= to && t.start + t.duration >= from && t.duration > (longest?.duration ?? -1)) longest = t;
  }
  return longest;
}

export type Verdict = 'PASS' | 'FAIL' | 'n/a';

/** A figure against an upper bound; a figure that could not be measured (NaN) neither passes nor fails. */
export function verdict(value: number, limit: number): Verdict {
  if (!Number.isFinite(value)) return 'n/a';
  return value <= limit ? 'PASS' : 'FAIL';
}

/** Milliseconds as the table shows them: whole ms below 10 s, else seconds; long tasks of 0 read as "< 50 ms". */
export function formatMs(value: number, longTask = false): string {
  if (!Number.isFinite(value)) return '—';
  if (longTask && value === 0) return '< 50 ms';
  return value < 10_000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}
