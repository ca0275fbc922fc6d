import { afterEach, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/engine/safetensors.ts';
import { IMAGENET_1K_CLASSES, IMAGENET_NAMES_NOTE } from '../../src/models/classNames.ts';
import { applyStoredLabels, storeLabels } from '../../src/models/labels.ts';
import { openModelBytes } from '../../src/models/modelFile.ts';
import type { RunResult } from '../../src/state/store.ts';
import { randomModelTensors } from '../helpers/randomModel.ts';

/** Issue 16: a 1000-class model without names shows ImageNet-1k's, says so, and a labels file still replaces them. */
const small = { dim: 8, depth: 1, heads: 2, dim_head: 4, image_size: 8, patch_size: 4 };

function run(numClasses: number, labels = Array.from({ length: numClasses }, (_, i) => String(i))): RunResult {
  const top = [1, 0, 2].map((index) => ({ index, label: labels[index], probability: 0.3, logit: 1 }));
  return { model: { name: 'model.pth', bytes: 123, numClasses, labels }, top } as unknown as RunResult;
}

afterEach(() => {
  delete (globalThis as { localStorage?: Storage }).localStorage;
});

describe('ImageNet-1k class names as the fallback', () => {
  it('names a 1000-class run that has only "0" … "999", marked as assumed', () => {
    const result = run(1000);
    applyStoredLabels(result);
    expect(result.model.labelsFrom).toBe('imagenet-1k');
    expect(result.model.labels[999]).toBe(IMAGENET_1K_CLASSES[999]);
    expect(result.top[0]).toMatchObject({ index: 1, label: 'goldfish, Carassius auratus' });
    expect(result.top[1].label).toBe('tench, Tinca tinca');
  });

  it("keeps a model's own names, the numbers of another class count, and the user's labels file first", () => {
    const own = run(1000, Array.from({ length: 1000 }, (_, i) => `c${i}`));
    applyStoredLabels(own);
    expect(own.top[0].label).toBe('c1');
    expect(own.model.labelsFrom).toBeUndefined();
    const ten = run(10);
    applyStoredLabels(ten);
    expect(ten.top[0].label).toBe('1');
    const items = new Map<string, string>();
    (globalThis as { localStorage?: Partial<Storage> }).localStorage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v) };
    const mine = run(1000);
    storeLabels(mine.model, Array.from({ length: 1000 }, (_, i) => `mine ${i}`));
    applyStoredLabels(mine);
    expect(mine.top[0].label).toBe('mine 1');
    expect(mine.model.labelsFrom).toBeUndefined();
  });

  it('says so in the notes of a 1000-class file without names, and only there', async () => {
    const bare = writeSafetensors(randomModelTensors({ ...small, num_classes: 1000 }, 4).tensors);
    const opened = await openModelBytes('bare1000.safetensors', bare, { heads: 2 });
    expect(opened.notes).toContain(IMAGENET_NAMES_NOTE);
    expect(opened.configFrom).toBe('inferred');
    const ten = await openModelBytes('bare10.safetensors', writeSafetensors(randomModelTensors({ ...small, num_classes: 10 }, 5).tensors), { heads: 2 });
    expect(ten.notes).not.toContain(IMAGENET_NAMES_NOTE);
  });
});
