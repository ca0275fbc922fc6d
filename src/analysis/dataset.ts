/**
 * Dataset view (docs/MEASUREMENTS.md §2, last item): every per-layer figure averaged over
 * a set of images, mean ± std, as the paper's plots are (1,000 images there).
 */

/** One figure's mean ± std over a set of images (the views' and dataset mode's). */
export interface MeanStd {
  mean: number;
  std: number;
}

/** Element-wise mean ± std of same-length samples. */
export interface MeanStdSeries {
  mean: Float64Array;
  /** Standard deviation: population (divisor n) unless asked for the sample std (n − 1); 0 for one image. */
  std: Float64Array;
  /** Number of samples. */
  count: number;
}

/**
 * Which std a figure uses (docs/MEASUREMENTS.md §2, dataset mode): 'sample'
 * (divisor n − 1, torch.std's default, as the official coding-rate plot)
 * or 'population' (divisor n, np.std's default, as the official sparsity plot).
 */
export type StdKind = 'sample' | 'population';

/**
 * Element-wise mean and std of same-length samples: per-layer curves
 * (one value per layer), histogram counts on a shared range, maps on a grid.
 * Two passes in float64 (mean first, then squared deviations) so a large
 * mean does not cancel the spread. One sample has std 0 with either kind
 * (torch.std would give NaN; a chart cannot draw that).
 */
export function meanStd(samples: readonly ArrayLike<number>[], kind: StdKind = 'population'): MeanStdSeries {
  if (samples.length === 0) throw new RangeError('no samples');
  const length = samples[0].length;
  const mean = new Float64Array(length);
  for (const sample of samples) {
    if (sample.length !== length) throw new RangeError(`sample lengths differ: ${sample.length} vs ${length}`);
    for (let i = 0; i < length; i++) mean[i] += sample[i];
  }
  for (let i = 0; i < length; i++) mean[i] /= samples.length;
  const std = new Float64Array(length);
  for (const sample of samples) for (let i = 0; i < length; i++) std[i] += (sample[i] - mean[i]) ** 2;
  const divisor = kind === 'sample' ? Math.max(samples.length - 1, 1) : samples.length;
  for (let i = 0; i < length; i++) std[i] = Math.sqrt(std[i] / divisor);
  return { mean, std, count: samples.length };
}

/**
 * Per-image records of named per-layer series → mean ± std of each name over
 * the images; the names in `sampleStd` use the sample std (n − 1), the
 * others the population std (n).
 */
export function summariseImages<K extends string>(images: readonly Record<K, ArrayLike<number>>[], sampleStd: readonly string[] = []): Record<K, MeanStdSeries> {
  if (images.length === 0) throw new RangeError('no images');
  const names = Object.keys(images[0]) as K[];
  return Object.fromEntries(
    names.map((name) => [name, meanStd(images.map((image) => image[name]), sampleStd.includes(name) ? 'sample' : 'population')]),
  ) as Record<K, MeanStdSeries>;
}

/** The middle value (the mean of the two middle ones for an even count): the benches' summary of repeated timings. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
