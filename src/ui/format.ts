/** How numbers are shown; shared with the e2e tests, which check the text exactly. */
export const formatRate = (v: number) => v.toFixed(3);
export const formatFraction = (v: number) => v.toFixed(4);
export const formatPercent = (p: number) => `${(100 * p).toFixed(p >= 0.995 || p < 0.0005 ? 1 : 2)}%`;

/** A byte count for people: B, KB or MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}
