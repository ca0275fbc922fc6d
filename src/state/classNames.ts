/**
 * Class names for 1000-class models that carry none (issue 16): a CRATE-α
 * checkpoint (a plain state dict) or a bare CRATE one trained on
 * ImageNet-1k shows its classes as "0" … "999" unless the app supplies the
 * ImageNet-1k names, which ship as data (src/data/imagenet1kClasses.json,
 * torchvision's order). The model description says so in a note.
 */
import type { AnyCrateModel } from '../engine/alphaModel.ts';
import imagenet1kClasses from '../data/imagenet1kClasses.json' with { type: 'json' };
import { hasDefaultLabels } from './labels.ts';

export const IMAGENET_1K_CLASSES: readonly string[] = imagenet1kClasses;

export const IMAGENET_NAMES_NOTE =
  'class names: the ImageNet-1k names (1,000 classes and no names in the file, so the app assumes ImageNet-1k order)';

/**
 * The model with ImageNet-1k class names when it has exactly 1000 classes and only the default
 * names; otherwise the model itself. `note` says when the names were supplied.
 */
export function withFallbackClassNames<M extends AnyCrateModel>(model: M): { model: M; note?: string } {
  const { labels, num_classes: classes } = model.config;
  if (classes !== IMAGENET_1K_CLASSES.length || !hasDefaultLabels(labels)) return { model };
  return { model: { ...model, config: { ...model.config, labels: [...IMAGENET_1K_CLASSES] } }, note: IMAGENET_NAMES_NOTE };
}
