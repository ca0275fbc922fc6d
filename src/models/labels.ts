/**
 * Class names for a model that has none (issue 19): a checkpoint carries no
 * labels, so its classes show as numbers until the user gives a labels file,
 * a JSON list of strings or one name per line. The choice is kept with the
 * model: in localStorage under the model's name and size, so reopening the
 * same file (or link) brings its names back. Names are untrusted text: they
 * are only ever rendered as text, and bounded here.
 */
import { fallbackClassNames } from './classNames.ts';
import type { ModelSummary, RunResult } from '../state/store.ts';

/** Longest class name kept; a longer one is cut (labels are shown in one line). */
export const MAX_LABEL_LENGTH = 200;
const STORAGE_PREFIX = 'crate-explorer-labels:';

/** True when the labels are the config's default, "0", "1", …: the model has no class names. */
export function hasDefaultLabels(labels: readonly string[]): boolean {
  return labels.every((label, i) => label === String(i));
}

/** One name per class from a labels file, or a sentence saying why not. */
export function parseLabelsFile(text: string, numClasses: number): string[] | string {
  let names: unknown;
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('[')) {
    try {
      names = JSON.parse(trimmed);
    } catch (error) {
      return `the file starts like a JSON list but is not valid JSON (${(error as Error).message})`;
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' || typeof n === 'number')) return 'the JSON must be a list of names (strings)';
    names = (names as (string | number)[]).map(String);
  } else {
    names = trimmed.split(/\r\n|\r|\n/).map((line) => line.trim());
  }
  const list = (names as string[]).map((n) => n.slice(0, MAX_LABEL_LENGTH));
  if (list.length !== numClasses) return `the file has ${list.length} names, but the model has ${numClasses} classes`;
  if (list.some((n) => n === '')) return `name ${list.findIndex((n) => n === '') + 1} is empty`;
  return list;
}

/** Where a model's names are kept: its name and size (a local file's name, or a hosted model's URL). */
export function labelsKey(model: Pick<ModelSummary, 'name' | 'bytes'>): string {
  return `${STORAGE_PREFIX}${model.name}|${model.bytes}`;
}

function storage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined; // storage blocked (privacy settings): names last for this page only
  }
}

export function storeLabels(model: Pick<ModelSummary, 'name' | 'bytes'>, labels: readonly string[]): void {
  try {
    storage()?.setItem(labelsKey(model), JSON.stringify(labels));
  } catch {
    // Quota or blocked storage: the names still apply to this page.
  }
}

export function storedLabels(model: Pick<ModelSummary, 'name' | 'bytes' | 'numClasses'>): string[] | undefined {
  const raw = storage()?.getItem(labelsKey(model));
  if (!raw) return undefined;
  const parsed = parseLabelsFile(raw, model.numClasses);
  return typeof parsed === 'string' ? undefined : parsed;
}

/** Puts `labels` on a run: its model summary and its top-5 (whose names were taken when it ran). */
export function applyLabels(result: RunResult, labels: readonly string[], from?: ModelSummary['labelsFrom']): void {
  result.model = { ...result.model, labels: [...labels], labelsFrom: from };
  result.top = result.top.map((c) => ({ ...c, label: labels[c.index] ?? c.label }));
}

/** The user's names, if they gave some for this model and it has none of its own; else ImageNet-1k's for a 1000-class model (classNames.ts, issue 16). */
export function applyStoredLabels(result: RunResult): void {
  if (!hasDefaultLabels(result.model.labels)) return;
  const labels = storedLabels(result.model);
  const fallback = fallbackClassNames(result.model.numClasses);
  if (labels) applyLabels(result, labels);
  else if (fallback) applyLabels(result, fallback, 'imagenet-1k');
}
