/**
 * Finer maps (issue 16, docs/MEASUREMENTS.md §1.2 "Finer maps"): which input sides the app offers
 * a model, what each costs, and whether a side asked for (the link property `size`,
 * src/state/urlState.ts) can run. The model itself is resized by posEmbedding.ts atImageSize.
 *
 * Bounds, and why:
 * - a multiple of the patch size (atImageSize refuses anything else);
 * - at most MAX_SIDE_FACTOR times the model's own side: the positional embedding is interpolated
 *   from the trained grid, and far beyond it the positions no longer mean what training taught;
 * - the attention the run keeps: every layer's A (heads × N × N float32) stays in the result so that
 *   a layer or head change needs no new pass (store.ts RunResult.outputs), and the worker copies it to
 *   the page, so depth·heads·N²·4 bytes must stay within MAX_ATTENTION_BYTES. N grows as the side
 *   squared, so this grows as its fourth power: a B/16 (12 layers × 12 heads) takes 14 MB at 224
 *   (N = 197), 355 MB at 448 (N = 785) and 1.8 GB at 672 (N = 1765), which is refused.
 */
import { configRunCost, type CostConfig } from '../engine/posEmbedding.ts';

/** What the choices and the check need of a model: its sizes (a config, or one built from a model summary). */
export type InputSizeConfig = CostConfig & { image_size: number | readonly [number, number] };

/** What a model summary (store.ts ModelSummary, all the page and the pipeline hold) says of a model's sizes. */
export interface SummarySizes {
  /** The input size the run used: the model's own, or the finer one it was run at. */
  imageSize: readonly [number, number];
  /** The model's own input size where the run was at another (a finer-maps result); absent: imageSize is the model's own. */
  ownImageSize?: readonly [number, number];
  patchSize: number;
  dim: number;
  depth: number;
  heads: number;
  dimHead: number;
  arch?: 'crate' | 'crate-alpha';
  ratio?: number;
}

/**
 * CRATE-α's ratio r, when a summary does not carry it: the released checkpoints' 4 (issue 16). It
 * only enters the cost shown, never a forward pass; `assumedRatio` says when it was used.
 */
export const RELEASED_ALPHA_RATIO = 4;

/** The sizes of a model summary as the choices and the check take them: the model's own, never a finer run's. */
export function sizeConfigOfSummary(summary: SummarySizes): { config: InputSizeConfig; assumedRatio: boolean } {
  const sizes = { image_size: summary.ownImageSize ?? summary.imageSize, patch_size: summary.patchSize, dim: summary.dim, depth: summary.depth, heads: summary.heads, dim_head: summary.dimHead };
  if (summary.arch !== 'crate-alpha') return { config: { ...sizes, arch: 'crate' }, assumedRatio: false };
  return { config: { ...sizes, arch: 'crate-alpha', ratio: summary.ratio ?? RELEASED_ALPHA_RATIO }, assumedRatio: summary.ratio === undefined };
}

export const MAX_SIDE_FACTOR = 4;
/** 512 MiB of kept attention (see the bounds above). */
export const MAX_ATTENTION_BYTES = 512 * 2 ** 20;
/** Multiples of the model's own side offered, each rounded to the patch size. */
const OFFERED_FACTORS = [1, 1.5, 2, 3, 4];

export interface InputSizeChoice {
  /** The input side in pixels (the input is side × side). */
  side: number;
  /** Patch tokens plus the class token. */
  tokens: number;
  /** Multiply-adds of one forward pass (posEmbedding.ts runCost). */
  multiplyAdds: number;
  /** multiplyAdds over those at the model's own size. */
  relativeCost: number;
  /** Bytes of attention the run keeps, depth·heads·N²·4. */
  attentionBytes: number;
  /** True for the model's own size. */
  native: boolean;
}

/** The model's own side, or undefined for a non-square input (the link carries one side, so only squares are resized). */
export function nativeSide(config: InputSizeConfig): number | undefined {
  const size = config.image_size;
  if (typeof size === 'number') return size;
  return size[0] === size[1] ? size[0] : undefined;
}

function nativeShape(config: InputSizeConfig): [number, number] {
  const size = config.image_size;
  return typeof size === 'number' ? [size, size] : [size[0], size[1]];
}

/** Tokens, cost and kept attention of a side × side run. */
export function inputSizeChoice(config: InputSizeConfig, side: number): InputSizeChoice {
  const [height, width] = nativeShape(config);
  const own = configRunCost(config, height, width);
  const { tokens, multiplyAdds } = configRunCost(config, side, side);
  return {
    side,
    tokens,
    multiplyAdds,
    relativeCost: multiplyAdds / own.multiplyAdds,
    attentionBytes: config.depth * config.heads * tokens * tokens * 4,
    native: side === height && side === width,
  };
}

/** Why a side cannot run on this model, or null when it can. */
function sizeProblem(config: InputSizeConfig, side: number): string | null {
  const own = nativeSide(config);
  const P = config.patch_size;
  if (own === undefined) {
    const [h, w] = nativeShape(config);
    return `the model's input is ${h}×${w}, not square, and only square inputs can be resized here`;
  }
  if (!Number.isSafeInteger(side) || side < P) return `${side} is not a whole number of patches of ${P} pixels`;
  if (side % P !== 0) {
    const below = Math.floor(side / P) * P;
    return `${side} is not a multiple of the patch size ${P} (the nearest are ${below} and ${below + P})`;
  }
  if (side > MAX_SIDE_FACTOR * own) return `${side} is more than ${MAX_SIDE_FACTOR}× the model's own ${own}`;
  const { tokens, attentionBytes } = inputSizeChoice(config, side);
  if (attentionBytes > MAX_ATTENTION_BYTES) {
    return `${side}×${side} gives ${tokens} tokens, whose attention over ${config.depth} layers × ${config.heads} heads would take ${Math.round(attentionBytes / 2 ** 20)} MiB (at most ${MAX_ATTENTION_BYTES / 2 ** 20} MiB)`;
  }
  return null;
}

/**
 * The sides offered: 1×, 1.5×, 2×, 3× and 4× the model's own side, each rounded to the nearest
 * multiple of the patch size, without repeats and without those over the bounds. A non-square
 * model gets none: the link carries one side, so it runs at its own size only.
 */
export function inputSizeChoices(config: InputSizeConfig): InputSizeChoice[] {
  const own = nativeSide(config);
  if (own === undefined) return [];
  const P = config.patch_size;
  const sides = new Set<number>([own]);
  for (const factor of OFFERED_FACTORS) {
    const side = P * Math.max(1, Math.round((factor * own) / P));
    if (sizeProblem(config, side) === null) sides.add(side);
  }
  return [...sides].sort((a, b) => a - b).map((side) => inputSizeChoice(config, side));
}

export interface ResolvedInputSize {
  /** The side to run at, pixels. */
  side: number;
  /** True when that is the model's own size: run the model as it is (no atImageSize). */
  native: boolean;
  /** Set when the side asked for cannot run: why, and that the model's own size runs instead (the link's `size` should then go back to 0). */
  notice?: string;
}

/**
 * The side to run for the link's `size` (0: the model's own). A side the model cannot take is
 * replaced by the model's own size, with a notice, as the link codec does with a bad value.
 */
export function resolveInputSize(config: InputSizeConfig, requested: number): ResolvedInputSize {
  const [height, width] = nativeShape(config);
  const own = { side: height, native: true } as const;
  if (requested === 0 || (requested === height && requested === width)) return own;
  const problem = sizeProblem(config, requested);
  if (problem === null) return { side: requested, native: false };
  return { ...own, notice: `input size ${requested}: ${problem}; running at the model's own ${height}×${width}` };
}

/** One line for the control: "448 × 448 · 785 tokens · 4.3× the cost". */
export function describeInputSize(choice: InputSizeChoice): string {
  const cost = choice.native ? 'the model’s own size' : `${formatFactor(choice.relativeCost)}× the cost`;
  return `${choice.side} × ${choice.side} · ${choice.tokens} tokens · ${cost}`;
}

function formatFactor(x: number): string {
  return x >= 10 ? x.toFixed(0) : x.toFixed(1);
}
