/**
 * How the app turns an image into the model's input (issue 16, docs/MEASUREMENTS.md §1.2). A
 * 3-channel model with a 224×224 input and no preprocessing of its own (the ImageNet layout) gets
 * the official evaluation transform by default (resize the shorter side to 256, centre crop 224,
 * the model's mean/std); the user may switch to "squash" (the whole image resized to 224×224) or to
 * a crop they place by hand (the crop editor, src/ui/ImageDrop.tsx). Every other model keeps its own
 * resize (preprocess.ts imageToTensor), with the hand crop for uploads as before. One link property,
 * `prep`, records the choice (urlState.ts).
 */
import { shapeOf, type AnyCrateConfig } from '../engine/config.ts';
import { defaultPreprocessing, describePreprocessing, IMAGENET_EVAL, imageNetEvalTensor, preprocessImage, roundHalfEven, type Preprocessing, type RgbaImage } from '../engine/preprocess.ts';

export const PREP_CHOICES = ['auto', 'squash', 'crop'] as const;
/** 'auto': the model's default (the evaluation transform for the ImageNet layout); 'squash': the whole image; 'crop': the user's crop. */
export type PrepChoice = (typeof PREP_CHOICES)[number];

export const PREP_LABELS: Record<PrepChoice, string> = {
  auto: `ImageNet evaluation: shorter side to ${IMAGENET_EVAL.resize}, centre ${IMAGENET_EVAL.crop}×${IMAGENET_EVAL.crop} crop`,
  squash: 'Squash: the whole image resized to the input size',
  crop: 'Your crop: place it on your image',
};

type Config = Omit<AnyCrateConfig, 'arch'>;

/** True for the models the choice applies to: those whose default is the ImageNet evaluation transform. */
export function hasPreprocessingChoice(config: Config): boolean {
  return defaultPreprocessing(config) === 'imagenet-eval';
}

/** The same from the input's [height, width] and channels, as the views know them (preprocess.ts defaultPreprocessing's rule). */
export function isImageNetLayout([height, width]: readonly [number, number], channels: number): boolean {
  return channels === 3 && height === IMAGENET_EVAL.crop && width === IMAGENET_EVAL.crop;
}

/**
 * Whether the image the app keeps for an upload is the whole decoded picture (the evaluation
 * transform and "squash" work on it) rather than the user's crop at the model's size.
 */
export function keepsWholeImage(size: readonly [number, number], channels: number, choice: PrepChoice): boolean {
  return isImageNetLayout(size, channels) && choice !== 'crop';
}

/** A rectangle in the source image's pixels (fractional). */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What was done to one image: the preprocessing, in words, and where its crop lies on the source. */
export interface AppliedPreprocessing {
  choice: PrepChoice;
  kind: Preprocessing;
  /** One sentence for people (preprocess.ts describePreprocessing, plus the crop when the user placed it). */
  description: string;
  /** The source image's size and the part of it the model sees (the whole image for "squash"). */
  source: { width: number; height: number };
  outline: Box;
}

/**
 * The evaluation transform's crop in the source image's pixels: the resized image is
 * int(256·long/short) on its long side, and the centre 224×224 of it is kept (preprocess.ts
 * imageNetEvalTensor), so the box is that crop scaled back by each axis's own factor.
 */
export function evalCropBox(width: number, height: number, crop: number = IMAGENET_EVAL.crop): Box {
  const short = evalResize(crop);
  const [outW, outH] = width <= height ? [short, Math.trunc((short * height) / width)] : [Math.trunc((short * width) / height), short];
  const sx = width / outW;
  const sy = height / outH;
  return { x: roundHalfEven((outW - crop) / 2) * sx, y: roundHalfEven((outH - crop) / 2) * sy, width: crop * sx, height: crop * sy };
}

/**
 * The shorter side the evaluation transform resizes to before a centre crop of `crop`: 256 for 224,
 * and the same ratio for finer maps (448 → 512), rounded down as timm's floor(img_size / crop_pct)
 * with crop_pct = 224/256.
 */
export function evalResize(crop: number): number {
  return Math.floor((crop * IMAGENET_EVAL.resize) / IMAGENET_EVAL.crop);
}

/** The config at side × side (finer maps), or the config itself when that is its own size or no side is given. */
export function configAtSide<C extends Config>(config: C, side?: number): C {
  if (side === undefined) return config;
  const { imageHeight, imageWidth } = shapeOf(config);
  return side === imageHeight && side === imageWidth ? config : { ...config, image_size: side };
}

/**
 * The preprocessing a model and a choice give for an image of this size ('crop' images are already
 * the crop). `side`: the input side for finer maps (src/image/inputSize.ts); the choice is the one
 * of the model's own size, with the evaluation transform scaled to the side.
 */
export function appliedPreprocessing(config: Config, choice: PrepChoice, image: { width: number; height: number }, source = 'image', side?: number): AppliedPreprocessing {
  const kind: Preprocessing = hasPreprocessingChoice(config) && choice === 'auto' ? 'imagenet-eval' : 'squash';
  const whole: Box = { x: 0, y: 0, width: image.width, height: image.height };
  const sized = configAtSide(config, side);
  let description = describePreprocessing(kind, sized);
  if (sized !== config && kind === 'imagenet-eval') {
    // describePreprocessing states the 224 sizes; finer maps scale both (one sentence, one source).
    const crop = shapeOf(sized).imageHeight;
    description = description
      .replace(`resized to ${IMAGENET_EVAL.resize}`, `resized to ${evalResize(crop)}`)
      .replace(`${IMAGENET_EVAL.crop}×${IMAGENET_EVAL.crop} crop`, `${crop}×${crop} crop (both scaled by ${crop}/${IMAGENET_EVAL.crop} for finer maps)`);
  }
  if (hasPreprocessingChoice(config) && choice === 'crop') description = `your crop of the ${source}, ${description}`;
  return {
    choice,
    kind,
    description,
    source: { width: image.width, height: image.height },
    outline: kind === 'imagenet-eval' ? evalCropBox(image.width, image.height, shapeOf(sized).imageHeight) : whole,
  };
}

/**
 * The pixels the model sees, at its input size, from its normalised input [C, H, W]: x·std + mean
 * on [0, 1], then 8-bit. The views overlay their maps on this (attention on a 224 crop, not on the
 * whole photo). Grey models give grey RGBA.
 */
export function inputPixels(input: Float32Array, config: Config): RgbaImage {
  const { imageHeight: H, imageWidth: W } = shapeOf(config);
  const C = config.channels;
  const data = new Uint8ClampedArray(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    for (let c = 0; c < 3; c++) {
      const ch = C === 1 ? 0 : c;
      data[i * 4 + c] = Math.round((input[ch * H * W + i] * config.std[ch] + config.mean[ch]) * 255);
    }
    data[i * 4 + 3] = C === 4 ? Math.round((input[3 * H * W + i] * config.std[3] + config.mean[3]) * 255) : 255;
  }
  return { width: W, height: H, data };
}

/**
 * The model input of one image under the choice, with what was applied and the pixels to overlay
 * maps on: the image itself when it already is at the model's size and squashed (every shipped
 * model's samples), else the pixels the model sees.
 *
 * `config` is the model's own (trained) config, never one already resized by atImageSize: the
 * choice between the evaluation transform and squash is made at the trained size. `side` (finer
 * maps, src/image/inputSize.ts) makes the input side × side; absent or equal to the model's own
 * size, the input is exactly what it was without it.
 */
export function modelInput(image: RgbaImage, config: Config, choice: PrepChoice, side?: number): { input: Float32Array; shown: RgbaImage; applied: AppliedPreprocessing } {
  const applied = appliedPreprocessing(config, choice, image, 'image', side);
  const sized = configAtSide(config, side);
  const { imageHeight: H, imageWidth: W } = shapeOf(sized);
  const input =
    applied.kind === 'imagenet-eval' && sized !== config ? imageNetEvalTensor(image, sized, evalResize(H)) : preprocessImage(image, sized, applied.kind);
  const sameSize = image.width === W && image.height === H && applied.kind === 'squash';
  return { input, shown: sameSize ? image : inputPixels(input, sized), applied };
}
