/**
 * The model description shared by every engine and every file format.
 * Field names follow the project's safetensors format (`__metadata__.config`)
 * and the ONNX `metadata_props`; see docs/MEASUREMENTS.md §1 for the official sizes.
 */
export interface CrateConfig {
  arch: 'crate';
  /** Square side, or [height, width], in pixels. */
  image_size: number | [number, number];
  patch_size: number;
  channels: number;
  dim: number;
  depth: number;
  heads: number;
  dim_head: number;
  num_classes: number;
  eta: number;
  lambda: number;
  pool: 'cls' | 'mean';
  labels: string[];
  /** Per-channel normalisation applied to [0,1] pixels before the model. */
  mean: number[];
  std: number[];
}

/**
 * CRATE-α (docs/MEASUREMENTS.md §1.1): the same description plus the overcomplete ratio r of its
 * ISTA dictionaries D, D1 ([dim, r·dim]). Its files carry no labels, mean or std of their own.
 */
export interface CrateAlphaConfig extends Omit<CrateConfig, 'arch'> {
  arch: 'crate-alpha';
  ratio: number;
}

/** Either family; `arch` says which, so every consumer can tell them apart. */
export type AnyCrateConfig = CrateConfig | CrateAlphaConfig;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Derived sizes every engine needs; computed once so no engine re-derives them differently. */
export interface CrateShape {
  imageHeight: number;
  imageWidth: number;
  gridHeight: number;
  gridWidth: number;
  /** Patch tokens plus the class token. */
  tokens: number;
  patchDim: number;
  /** heads × dim_head: the width of the MSSA projection W = LN1(Z)·Uᵀ. */
  innerDim: number;
}

export function shapeOf(config: Omit<CrateConfig, 'arch'>): CrateShape {
  const [imageHeight, imageWidth] =
    typeof config.image_size === 'number' ? [config.image_size, config.image_size] : config.image_size;
  const gridHeight = imageHeight / config.patch_size;
  const gridWidth = imageWidth / config.patch_size;
  return {
    imageHeight,
    imageWidth,
    gridHeight,
    gridWidth,
    tokens: 1 + gridHeight * gridWidth,
    patchDim: config.patch_size * config.patch_size * config.channels,
    innerDim: config.heads * config.dim_head,
  };
}

/**
 * The most attention heads a config may declare. The one limit for heads everywhere (config,
 * URL state, the heads form): import it from here rather than restating it.
 */
export const MAX_HEADS = 256;

/** Sizes beyond these are refused before anything is allocated for them. */
const LIMITS = { side: 4096, dim: 8192, depth: 256, heads: MAX_HEADS, classes: 100_000, tokens: 16_385 };

/**
 * Sane ranges for the real-valued fields, inclusive, so a config that would only fail later on
 * the GPU ("matrix is not positive definite (pivot 0 = NaN)") is refused here, naming the field.
 * - eta, the ISTA step size: official 0.1; a step over 10 only amplifies (z ← ReLU(z + η·Dᵀ(…) − ηλ))
 *   and 1e38 overflows float32 on the first layer. A zero or negative step is not a descent step.
 * - lambda, the sparsity penalty: official 0.1; negative is not a penalty, over 100 zeroes every
 *   activation of any trained model (weights are O(1)).
 * - mean, per channel on [0, 1] pixels: |mean| ≤ 1e6 keeps (x − mean)/std finite in float32.
 * - std, per channel: in [1e-6, 1e6], so 1/std is finite in float32 (1e-40 is a float32 denormal,
 *   whose reciprocal is Infinity) and the inputs keep a useful scale.
 */
export const VALUE_RANGES = {
  eta: { min: 0, minExclusive: true, max: 10 },
  lambda: { min: 0, minExclusive: false, max: 100 },
  mean: { min: -1e6, minExclusive: false, max: 1e6 },
  std: { min: 1e-6, minExclusive: false, max: 1e6 },
} as const;

type ValueRange = (typeof VALUE_RANGES)[keyof typeof VALUE_RANGES];

function describeRange(range: ValueRange): string {
  return `${range.minExclusive ? '(' : '['}${range.min}, ${range.max}]`;
}

function inRange(value: number, range: ValueRange): boolean {
  return (range.minExclusive ? value > range.min : value >= range.min) && value <= range.max;
}

function checkRange(field: string, value: number, range: ValueRange): void {
  if (!inRange(value, range)) throw new ConfigError(`config.${field} must be in ${describeRange(range)}, got ${value}`);
}

function positiveInt(raw: Record<string, unknown>, key: string, max: number): number {
  const value = raw[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(`config.${key} must be an integer in [1, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

function finiteNumber(raw: Record<string, unknown>, key: string, fallback: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConfigError(`config.${key} must be a finite number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function numberList(raw: Record<string, unknown>, key: string, length: number, fallback: number): number[] {
  const value = raw[key] ?? new Array(length).fill(fallback);
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new ConfigError(`config.${key} must be ${length} finite numbers (one per channel)`);
  }
  return value as number[];
}

/**
 * Validates an untrusted config object (from a file's metadata) and fills the
 * documented defaults (η = λ = 0.1, pool 'cls', mean 0, std 1, numeric labels).
 */
export function parseConfig(input: unknown): CrateConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('config must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  const arch = raw.arch ?? 'crate';
  if (arch !== 'crate') throw new ConfigError(`config.arch ${JSON.stringify(arch)} is not supported (only "crate")`);

  const sizeRaw = raw.image_size;
  let imageSize: number | [number, number];
  if (Array.isArray(sizeRaw) && sizeRaw.length === 2) {
    imageSize = [positiveInt({ h: sizeRaw[0] }, 'h', LIMITS.side), positiveInt({ w: sizeRaw[1] }, 'w', LIMITS.side)];
  } else {
    imageSize = positiveInt(raw, 'image_size', LIMITS.side);
  }
  const channels = positiveInt(raw, 'channels', 4);
  const config: CrateConfig = {
    arch: 'crate',
    image_size: imageSize,
    patch_size: positiveInt(raw, 'patch_size', LIMITS.side),
    channels,
    dim: positiveInt(raw, 'dim', LIMITS.dim),
    depth: positiveInt(raw, 'depth', LIMITS.depth),
    heads: positiveInt(raw, 'heads', LIMITS.heads),
    dim_head: positiveInt(raw, 'dim_head', LIMITS.dim),
    num_classes: positiveInt(raw, 'num_classes', LIMITS.classes),
    eta: finiteNumber(raw, 'eta', 0.1),
    lambda: finiteNumber(raw, 'lambda', 0.1),
    pool: raw.pool === undefined ? 'cls' : (raw.pool as CrateConfig['pool']),
    labels: [],
    mean: numberList(raw, 'mean', channels, 0),
    std: numberList(raw, 'std', channels, 1),
  };
  if (config.pool !== 'cls' && config.pool !== 'mean') {
    throw new ConfigError(`config.pool must be "cls" or "mean", got ${JSON.stringify(raw.pool)}`);
  }
  if (config.std.some((s) => s === 0)) throw new ConfigError('config.std must not contain 0');
  checkRange('eta', config.eta, VALUE_RANGES.eta);
  checkRange('lambda', config.lambda, VALUE_RANGES.lambda);
  config.mean.forEach((value, channel) => checkRange(`mean[${channel}]`, value, VALUE_RANGES.mean));
  config.std.forEach((value, channel) => checkRange(`std[${channel}]`, value, VALUE_RANGES.std));

  const shape = shapeOf(config);
  if (!Number.isInteger(shape.gridHeight) || !Number.isInteger(shape.gridWidth)) {
    throw new ConfigError(
      `config.patch_size ${config.patch_size} does not divide the image size ${shape.imageHeight}×${shape.imageWidth}`,
    );
  }
  if (shape.tokens > LIMITS.tokens) throw new ConfigError(`the model has ${shape.tokens} tokens; at most ${LIMITS.tokens} are supported`);

  const labels = raw.labels;
  if (labels === undefined) {
    config.labels = Array.from({ length: config.num_classes }, (_, i) => String(i));
  } else if (Array.isArray(labels) && labels.length === config.num_classes && labels.every((l) => typeof l === 'string')) {
    config.labels = labels as string[];
  } else {
    throw new ConfigError(`config.labels must be ${config.num_classes} strings (one per class)`);
  }
  return config;
}

/** The largest overcomplete ratio accepted (the releases use 4). */
const MAX_RATIO = 64;

/**
 * Validates a config of either family: `arch` "crate" as parseConfig, "crate-alpha" with a
 * `ratio` (docs/MEASUREMENTS.md §1.1) and every other field checked as parseConfig checks it.
 */
export function parseAnyConfig(input: unknown): AnyCrateConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ConfigError('config must be a JSON object');
  const raw = input as Record<string, unknown>;
  if (raw.arch !== 'crate-alpha') return parseConfig(input);
  const ratio = positiveInt(raw, 'ratio', MAX_RATIO);
  if (raw.pool !== undefined && raw.pool !== 'cls') throw new ConfigError(`config.pool must be "cls" for CRATE-α (its head reads the class token), got ${JSON.stringify(raw.pool)}`);
  const { ratio: _ratio, ...rest } = raw;
  return { ...parseConfig({ ...rest, arch: 'crate' }), arch: 'crate-alpha', ratio };
}
