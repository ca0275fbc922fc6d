/**
 * Class names for 1000-class models that carry none (issue 16): a CRATE-α
 * checkpoint (a plain state dict) or a bare CRATE one trained on
 * ImageNet-1k shows its classes as "0" … "999" unless the app supplies the
 * ImageNet-1k names, which ship as data (src/data/imagenet1kClasses.json,
 * torchvision's order). The user's own labels file still wins (labels.ts);
 * the model description says which names are shown.
 */
import imagenet1kClasses from '../data/imagenet1kClasses.json' with { type: 'json' };

export const IMAGENET_1K_CLASSES: readonly string[] = imagenet1kClasses;

export const IMAGENET_NAMES_NOTE =
  'class names: the ImageNet-1k names (1,000 classes and no names in the file, so the app assumes ImageNet-1k order); a labels file replaces them';

/** The names a model with `numClasses` classes and no names of its own is shown with: ImageNet-1k's for 1000 classes. */
export function fallbackClassNames(numClasses: number): readonly string[] | undefined {
  return numClasses === IMAGENET_1K_CLASSES.length ? IMAGENET_1K_CLASSES : undefined;
}
