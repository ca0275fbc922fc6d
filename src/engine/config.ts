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

export function shapeOf(config: CrateConfig): CrateShape {
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

/** Sizes beyond these are refused before anything is allocated for them. */
const LIMITS = { side: 4096, dim: 8192, depth: 256, heads: 256, classes: 100_000, tokens: 16_385 };

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
