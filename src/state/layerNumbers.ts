/**
 * The coding-rate numbers the layer panel prints beside its chart (issue 19,
 * bug 2): they come from the SAME series the chart plots as primary for the
 * selected variant (derived.ts rateChart), so `rate=paper` can never print the
 * official Rᶜ under a paper-formula chart. docs/MEASUREMENTS.md §2 defines
 * both variants.
 */
import { rateChart } from './derived.ts';
import type { DatasetStats, RunResult } from './store.ts';
import type { RateVariant } from './urlState.ts';

export interface RateNumbers {
  variant: RateVariant;
  /** Short name of the measurement, for the table header and the layer line. */
  label: string;
  /** One value per layer, nats. */
  values: number[];
}

/** Short names of the primary series rateChart can pick. */
const LABELS: Record<string, string> = {
  official: 'Rᶜ official',
  paper: 'Rᶜ(Z^(ℓ+½); U) paper',
  expansion: 'R(Z^(ℓ+½)) paper',
};

export function rateNumbers(run: RunResult, variant: RateVariant, stats?: DatasetStats): RateNumbers {
  const primary = rateChart(run, variant, stats).series.find((s) => s.primary);
  if (!primary) return { variant, label: LABELS.official, values: run.layers.map((l) => l.codingRate) };
  return { variant, label: LABELS[primary.id] ?? primary.name, values: primary.values };
}
