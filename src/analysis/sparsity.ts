/**
 * Sparsity of an ISTA output Z^{ℓ+1} (docs/MEASUREMENTS.md §2): over all N×d entries,
 * class token included. The ReLU makes exact zeros, so zeros are counted
 * exactly, not against a tolerance.
 */
export interface SparsitySummary {
  /** Fraction of entries that are exactly 0. */
  zeroFraction: number;
  /** ‖Z‖₀/(d·N), the quantity the paper plots. */
  l0Fraction: number;
  /** ‖Z‖₁. */
  l1: number;
}

export function sparsity(z: ArrayLike<number>): SparsitySummary {
  let zeros = 0;
  let l1 = 0;
  for (let i = 0; i < z.length; i++) {
    const v = z[i];
    if (v === 0) zeros++;
    l1 += Math.abs(v);
  }
  const zeroFraction = z.length === 0 ? 0 : zeros / z.length;
  return { zeroFraction, l0Fraction: 1 - zeroFraction, l1 };
}

/**
 * Histogram of non-negative sparse data such as Z^{ℓ+1} (docs/MEASUREMENTS.md §2:
 * "the histogram of values"). Exact zeros (what the ReLU produces) are
 * counted on their own; the positive values go into `bins` log-spaced bins,
 * because they span several decades and a linear axis would put them all in
 * the first bin.
 */
export interface LogHistogram {
  /** Entries exactly 0. */
  zeros: number;
  /** Entries < 0 (none in a ReLU output; counted, never binned). */
  negatives: number;
  /** Positive entries below edges[0] (only with a caller-given range). */
  below: number;
  /** Entries above edges[bins] (only with a caller-given range). */
  above: number;
  /** bins + 1 edges, edges[i] = lo·(hi/lo)^(i/bins). */
  edges: Float64Array;
  /**
   * counts[i]: positive entries in [edges[i], edges[i+1]), the last bin closed
   * at hi. The bin is ⌊bins·(log v − log lo)/(log hi − log lo)⌋ in float64, so a
   * value within a few ulps of an inner edge may land in either neighbour.
   */
  counts: Uint32Array;
  /** All entries, NaN included (NaN falls in no other count). */
  total: number;
}

export interface LogHistogramOptions {
  /** Number of log-spaced bins over the positive values (default 32). */
  bins?: number;
  /**
   * [lo, hi], 0 < lo ≤ hi. Default: [smallest positive, largest] of this
   * input. Give a fixed range to average histograms over a data set: every
   * image then has the same edges (dataset.ts meanStd over `counts`).
   */
  range?: readonly [number, number];
}

const DEFAULT_HISTOGRAM_BINS = 32;

export function logHistogram(values: ArrayLike<number>, options: LogHistogramOptions = {}): LogHistogram {
  const bins = options.bins ?? DEFAULT_HISTOGRAM_BINS;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  let zeros = 0;
  let negatives = 0;
  let smallest = Infinity;
  let largest = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === 0) zeros++;
    else if (v < 0) negatives++;
    else if (v > 0) {
      if (v < smallest) smallest = v;
      if (v > largest) largest = v;
    }
  }
  let lo: number;
  let hi: number;
  if (options.range) {
    [lo, hi] = options.range;
    if (!(lo > 0 && hi >= lo && Number.isFinite(hi))) throw new RangeError(`range must be 0 < lo ≤ hi < ∞, got [${lo}, ${hi}]`);
  } else if (largest > 0) {
    lo = smallest;
    hi = largest;
  } else {
    // No positive value: one degenerate range so the edges are still numbers.
    lo = hi = 1;
  }
  const logLo = Math.log(lo);
  const span = Math.log(hi) - logLo;
  const edges = new Float64Array(bins + 1);
  // Clamped to [lo, hi] so that rounding in exp never makes the edges non-monotonic.
  for (let i = 0; i <= bins; i++) edges[i] = Math.min(Math.max(Math.exp(logLo + (i * span) / bins), lo), hi);
  edges[0] = lo;
  edges[bins] = hi;
  const counts = new Uint32Array(bins);
  let below = 0;
  let above = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v > 0)) continue;
    if (v < lo) below++;
    else if (v > hi) above++;
    else {
      // span = 0 (one distinct positive value) puts everything in bin 0.
      const bin = span > 0 ? Math.floor((bins * (Math.log(v) - logLo)) / span) : 0;
      counts[Math.min(Math.max(bin, 0), bins - 1)]++;
    }
  }
  return { zeros, negatives, below, above, edges, counts, total: values.length };
}
