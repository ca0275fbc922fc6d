import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/engine/safetensors.ts';
import { analyseOutputs } from '../../src/state/analyse.ts';
import { IMAGENET_1K_CLASSES, IMAGENET_NAMES_NOTE, withFallbackClassNames } from '../../src/state/classNames.ts';
import { openModelBytes } from '../../src/state/modelFile.ts';
import { randomModel, randomModelTensors } from '../helpers/randomModel.ts';

/** Issue 16: a 1000-class model without names shows ImageNet-1k's, and says so. */
describe('ImageNet-1k class names as the fallback', () => {
  const small = { dim: 8, depth: 1, heads: 2, dim_head: 4, image_size: 8, patch_size: 4 };

  it('names a 1000-class model that has only "0" … "999", with a note', () => {
    const model = randomModel({ ...small, num_classes: 1000 }, 1);
    const { model: named, note } = withFallbackClassNames(model);
    expect(note).toBe(IMAGENET_NAMES_NOTE);
    expect(named.config.labels).toHaveLength(1000);
    expect(named.config.labels[0]).toBe('tench, Tinca tinca');
    expect(named.config.labels[999]).toBe(IMAGENET_1K_CLASSES[999]);
    expect(named.weights).toBe(model.weights); // the same weights, not a copy
    expect(model.config.labels[0]).toBe('0'); // the model it was given is unchanged
    const logits = new Float32Array(1000);
    logits[1] = 5;
    expect(analyseOutputs(named, { logits, layers: [] }).top[0]).toMatchObject({ index: 1, label: 'goldfish, Carassius auratus' });
  });

  it('keeps a model\'s own names, and the numbers of a model with another class count', () => {
    const own = randomModel({ ...small, num_classes: 1000, labels: Array.from({ length: 1000 }, (_, i) => `c${i}`) }, 2);
    expect(withFallbackClassNames(own)).toEqual({ model: own });
    const ten = randomModel({ ...small, num_classes: 10 }, 3);
    expect(withFallbackClassNames(ten)).toEqual({ model: ten });
  });

  it('applies when a file is opened: the names and the note in the model description', async () => {
    const bare = writeSafetensors(randomModelTensors({ ...small, num_classes: 1000 }, 4).tensors);
    const opened = await openModelBytes('bare1000.safetensors', bare, { heads: 2 });
    expect(opened.model.config.labels[2]).toBe(IMAGENET_1K_CLASSES[2]);
    expect(opened.notes).toContain(IMAGENET_NAMES_NOTE);
    expect(opened.configFrom).toBe('inferred');
    const tenClasses = await openModelBytes('bare10.safetensors', writeSafetensors(randomModelTensors({ ...small, num_classes: 10 }, 5).tensors), { heads: 2 });
    expect(tenClasses.notes).not.toContain(IMAGENET_NAMES_NOTE);
    expect(tenClasses.model.config.labels[2]).toBe('2');
  });
});
