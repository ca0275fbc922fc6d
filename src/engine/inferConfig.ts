/**
 * A CRATE config from a state dict's tensor names and shapes, for files that
 * carry no config (PyTorch checkpoints, bare safetensors). Everything the
 * shapes determine is read from them; what they do not (heads, η, λ, pool,
 * normalisation) is proposed and reported in `notes`, and can be overridden.
 * The names and shapes must then match docs/MEASUREMENTS.md §1 exactly
 * (`officialTensorShapes`); the error names the first tensor that does not.
 */
import { alphaModelFromTensors, alphaTensorShapes, type AnyCrateModel } from './alphaModel.ts';
import { ConfigError, parseAnyConfig, parseConfig, type AnyCrateConfig, type CrateAlphaConfig, type CrateConfig } from './config.ts';
import { modelFromTensors, ModelError, officialTensorShapes, type CrateModel } from './model.ts';
import { readSafetensors } from './safetensors.ts';
import type { Tensor } from './tensor.ts';

export interface InferOptions {
  /** Heads are not in the weights (U is [heads·dh, d] either way); give them when the proposal is wrong. */
  heads?: number;
  /** Anything else the shapes cannot tell (image_size for a non-square grid, channels, eta, lambda, pool, mean, std, labels). */
  overrides?: Partial<Omit<CrateConfig, 'arch' | 'dim' | 'depth' | 'dim_head' | 'num_classes'>>;
}

export interface InferredConfig {
  config: CrateConfig;
  /** What was assumed rather than read, one sentence each. */
  notes: string[];
}

type Shapes = ReadonlyMap<string, readonly number[]>;

/** ImageNet normalisation, which every official CRATE model was trained with. */
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Official head counts by width (docs/MEASUREMENTS.md §1), with the B/8 segmentation demo's 6 heads of 128. */
function officialHeads(dim: number, innerDim: number, patchSize: number): number | undefined {
  if (innerDim !== dim) return undefined;
  if (dim === 768 && patchSize === 8) return 6;
  return ({ 384: 6, 576: 12, 768: 12, 1024: 16 } as Record<number, number>)[dim];
}

/**
 * Heads proposed for a model of width `dim` whose MSSA projection U has
 * `innerDim` rows: the official count for the official widths, otherwise the
 * divisor of innerDim (at most 256 heads, as parseConfig allows) whose head
 * size is a multiple of 4 closest to 64 (ties to the larger head size).
 */
export function proposeHeads(dim: number, innerDim: number, patchSize = 16): number {
  const official = officialHeads(dim, innerDim, patchSize);
  if (official !== undefined) return official;
  let best = 1;
  let bestScore = Infinity;
  // Only divisors up to the most heads a config may have are candidates: a forged width (a
  // [2⁵³−1, 0] tensor costs no bytes) must not turn this into billions of iterations.
  const candidates = divisors(innerDim, MAX_PROPOSED_HEADS);
  for (const preferMultipleOf4 of [true, false]) {
    for (const heads of candidates) {
      const dh = innerDim / heads;
      if (preferMultipleOf4 && dh % 4) continue;
      const score = Math.abs(dh - 64) - (dh > 64 ? 0.5 : 0); // ties go to the larger head
      if (score < bestScore) {
        best = heads;
        bestScore = score;
      }
    }
    if (bestScore < Infinity) break;
  }
  return best;
}

/** parseConfig's limit on heads: no larger count is ever proposed. */
const MAX_PROPOSED_HEADS = 256;

/** The divisors of n up to `max`, in increasing order, in O(max). */
function divisors(n: number, max: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= Math.min(n, max); i++) if (n % i === 0) out.push(i);
  return out;
}

/** Refuses the CRATE variants this engine does not run yet, recognised by their own keys. */
export function detectUnsupportedVariant(names: Iterable<string>): void {
  const list = [...names];
  const mae = list.find((n) => /(^|\.)(decoder[._]|decoder_|mask_token$|enc_to_dec)/.test(n) || n.startsWith('decoder'));
  if (mae) throw new ModelError(`not supported yet: CRATE-MAE (found "${mae}")`);
  const alpha = list.find((n) => /\.fn\.D1?$/.test(n) || /(^|\.)conv_proj\./.test(n));
  // Reached only when the port's layout is absent (inferAnyConfig reads that layout as CRATE-α).
  if (alpha) {
    throw new ModelError(
      `a CRATE-α key ("${alpha}") in a state dict without the CRATE-α port's layout: CRATE-α is read as the port saves it (conv1.weight, transformer.layers.ℓ.1.fn.D and D1; docs/MEASUREMENTS.md §1.1)`,
    );
  }
}

function anchor(shapes: Shapes, name: string, rank: number, pattern: string): readonly number[] {
  const shape = shapes.get(name);
  if (!shape) throw new ModelError(`missing tensor "${name}" (expected shape ${pattern})`);
  if (shape.length !== rank) throw new ModelError(`tensor "${name}" has shape [${shape}], expected ${pattern}`);
  return shape;
}

function square(n: number): number | undefined {
  const r = Math.round(Math.sqrt(n));
  return r * r === n ? r : undefined;
}

/** The given image size, else the square one the positional embedding's token count implies. */
function imageSizeFor<T>(given: T | undefined, tokens: number, patchSize: number): T | number {
  if (given !== undefined) return given;
  const grid = square(tokens - 1);
  if (grid === undefined) throw new ConfigError(`${tokens - 1} patch tokens do not form a square grid; give image_size as [height, width]`);
  return grid * patchSize;
}

/**
 * The head count: the one given (checked to divide the MSSA width), or the proposal, with a note
 * saying whether it is `official` (the family's published value for the width) or a guess.
 */
function resolveHeads(given: number | undefined, dim: number, innerDim: number, patchSize: number, official: string, notes: string[]): number {
  if (given !== undefined) {
    if (!Number.isInteger(given) || given < 1 || innerDim % given) {
      throw new ConfigError(`heads ${given} does not divide the MSSA width ${innerDim} (transformer.layers.0.0.fn.qkv.weight has ${innerDim} rows)`);
    }
    return given;
  }
  const heads = proposeHeads(dim, innerDim, patchSize);
  const known = officialHeads(dim, innerDim, patchSize) !== undefined;
  notes.push(
    `heads = ${heads} (dim_head ${innerDim / heads}) ${known ? `is ${official} for width ${dim}` : 'is a guess'}: heads are not stored in the weights; override it if the model was trained otherwise`,
  );
  return heads;
}

/** mean/std as overridden, else ImageNet's for 3 channels (every official model's) and none otherwise, noted. */
function assumedNormalisation(channels: number, o: NonNullable<InferOptions['overrides']>, notes: string[]): { mean?: number[]; std?: number[] } {
  const imagenet = channels === 3;
  if (o.mean === undefined || o.std === undefined) {
    notes.push(imagenet ? 'mean/std not stored: assuming ImageNet normalisation' : 'mean/std not stored: assuming mean 0, std 1');
  }
  return { mean: o.mean ?? (imagenet ? IMAGENET_MEAN : undefined), std: o.std ?? (imagenet ? IMAGENET_STD : undefined) };
}

/** Infers the config, then checks every tensor against docs/MEASUREMENTS.md §1 (first missing / mismatched / unexpected one named). */
export function inferConfig(shapes: Shapes, options: InferOptions = {}): InferredConfig {
  detectUnsupportedVariant(shapes.keys());
  const notes: string[] = [];
  const o = options.overrides ?? {};
  const dim = anchor(shapes, 'cls_token', 3, '[1, 1, dim]')[2];
  const tokens = anchor(shapes, 'pos_embedding', 3, '[1, tokens, dim]')[1];
  const patchDim = anchor(shapes, 'to_patch_embedding.1.weight', 1, '[patch_size²·channels]')[0];
  const classes = anchor(shapes, 'mlp_head.1.weight', 2, '[num_classes, dim]')[0];

  let depth = 0;
  for (const name of shapes.keys()) {
    const m = /^transformer\.layers\.(\d+)\./.exec(name);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  if (depth === 0) throw new ModelError('missing tensor "transformer.layers.0.0.fn.qkv.weight" (expected shape [heads·dim_head, dim])');
  const innerDim = anchor(shapes, 'transformer.layers.0.0.fn.qkv.weight', 2, '[heads·dim_head, dim]')[0];

  // patch_dim = P²·C: the channels are not stored. 3 then 1 then 4 (P²·3 is never a square, so 3 vs 1 is unambiguous).
  let channels = o.channels;
  let patchSize = o.patch_size;
  if (channels !== undefined || patchSize !== undefined) {
    channels ??= patchDim / (patchSize! * patchSize!);
    patchSize ??= square(patchDim / channels);
    if (!Number.isInteger(channels) || patchSize === undefined || patchSize * patchSize * channels !== patchDim) {
      throw new ConfigError(`patch_size ${o.patch_size ?? '?'} and channels ${o.channels ?? '?'} do not give the patch dimension ${patchDim} of "to_patch_embedding.1.weight"`);
    }
  } else {
    for (const c of [3, 1, 4]) {
      const p = patchDim % c === 0 ? square(patchDim / c) : undefined;
      if (p !== undefined) {
        channels = c;
        patchSize = p;
        break;
      }
    }
    if (channels === undefined) throw new ConfigError(`cannot split the patch dimension ${patchDim} of "to_patch_embedding.1.weight" into patch_size²·channels; give channels`);
    notes.push(`channels = ${channels} and patch_size = ${patchSize} read from the patch dimension ${patchDim} (P²·C)`);
  }

  const imageSize = imageSizeFor(o.image_size, tokens, patchSize!);

  const heads = resolveHeads(options.heads, dim, innerDim, patchSize!, 'the official value', notes);

  const normalisation = assumedNormalisation(channels!, o, notes);
  if (o.eta === undefined || o.lambda === undefined || o.pool === undefined) notes.push('eta = lambda = 0.1 and pool "cls" assumed (the official values)');

  const config = parseConfig({
    arch: 'crate',
    image_size: imageSize,
    patch_size: patchSize,
    channels,
    dim,
    depth,
    heads,
    dim_head: innerDim / heads,
    num_classes: classes,
    eta: o.eta ?? 0.1,
    lambda: o.lambda ?? 0.1,
    pool: o.pool ?? 'cls',
    ...normalisation,
    labels: o.labels,
  });
  checkOfficialShapes(config, shapes);
  return { config, notes };
}

/** Every official tensor present with its shape, and nothing else. */
export function checkOfficialShapes(config: CrateConfig, shapes: Shapes): void {
  checkExactShapes(officialTensorShapes(config), shapes, 'the official CRATE state dict (docs/MEASUREMENTS.md §1)');
}

/** Every expected tensor present with its shape, and nothing else (the error names the first that is not). */
function checkExactShapes(expected: readonly [string, number[]][], shapes: Shapes, layout: string): void {
  for (const [name, shape] of expected) {
    const actual = shapes.get(name);
    if (!actual) throw new ModelError(`missing tensor "${name}" (expected shape [${shape}])`);
    if (actual.length !== shape.length || actual.some((n, i) => n !== shape[i])) {
      throw new ModelError(`tensor "${name}" has shape [${actual}], expected [${shape}]`);
    }
  }
  const known = new Set(expected.map(([name]) => name));
  for (const [name, shape] of shapes) {
    if (!known.has(name)) throw new ModelError(`unexpected tensor "${name}" [${shape}]: not part of ${layout}`);
  }
}

export interface InferredModel extends InferredConfig {
  model: CrateModel;
}

/** A model from official-name tensors with no config: the config is inferred. */
export function modelFromInferredTensors(tensors: ReadonlyMap<string, Tensor>, options: InferOptions = {}): InferredModel {
  const shapes = new Map([...tensors].map(([name, t]) => [name, t.shape] as const));
  const inferred = inferConfig(shapes, options);
  return { ...inferred, model: modelFromTensors(inferred.config, tensors) };
}

/**
 * Reads a safetensors model: with `__metadata__.config` as the project format
 * says, or, when that is absent, with the config inferred from the tensors.
 */
export function modelFromSafetensorsAuto(bytes: Uint8Array, options: InferOptions = {}): InferredModel {
  const { tensors, metadata } = readSafetensors(bytes);
  if (metadata.config !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(metadata.config);
    } catch {
      throw new ConfigError('__metadata__.config is not valid JSON');
    }
    const config = parseConfig(raw);
    return { model: modelFromTensors(config, tensors), config, notes: [] };
  }
  return modelFromInferredTensors(tensors, options);
}

/** The port's CRATE-α layout (docs/MEASUREMENTS.md §1.1): a convolution `conv1` and ISTA dictionaries `….1.fn.D`. */
export function isAlphaStateDict(names: Iterable<string>): boolean {
  const list = [...names];
  return list.includes('conv1.weight') && list.some((n) => /^transformer\.layers\.\d+\.1\.fn\.D$/.test(n));
}

function depthOf(shapes: Shapes): number {
  let depth = 0;
  for (const name of shapes.keys()) {
    const m = /^transformer\.layers\.(\d+)\./.exec(name);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  return depth;
}

/**
 * A CRATE-α config from the port's state dict (docs/MEASUREMENTS.md §1.1): width, channels and
 * patch size from `conv1.weight` [d, C, P, P], tokens from `pos_embedding`, the ratio r from D's
 * shape [d, r·d], never assumed. Heads are not stored: `options.heads`, or proposed (the released
 * B/16 has 12, L/14 16) and said so in `notes`. Every tensor is then checked against the layout.
 */
export function inferAlphaConfig(shapes: Shapes, options: InferOptions = {}): { config: CrateAlphaConfig; notes: string[] } {
  const notes: string[] = [];
  const o = options.overrides ?? {};
  const [dim, channels, patchSize, patchWidth] = anchor(shapes, 'conv1.weight', 4, '[dim, channels, P, P]');
  if (patchSize !== patchWidth) throw new ModelError(`tensor "conv1.weight" has shape [${shapes.get('conv1.weight')}]: the patch must be square`);
  const tokens = anchor(shapes, 'pos_embedding', 3, '[1, tokens, dim]')[1];
  const classes = anchor(shapes, 'mlp_head.1.weight', 2, '[num_classes, dim]')[0];
  const depth = depthOf(shapes);
  if (depth === 0) throw new ModelError('missing tensor "transformer.layers.0.0.fn.qkv.weight" (expected shape [heads·dim_head, dim])');
  const innerDim = anchor(shapes, 'transformer.layers.0.0.fn.qkv.weight', 2, '[heads·dim_head, dim]')[0];
  const wide = anchor(shapes, 'transformer.layers.0.1.fn.D', 2, '[dim, ratio·dim]')[1];
  if (wide % dim !== 0 || wide === 0) throw new ModelError(`tensor "transformer.layers.0.1.fn.D" has ${wide} columns, not a multiple of the width ${dim}`);
  const ratio = wide / dim;

  const imageSize = imageSizeFor(o.image_size, tokens, patchSize);
  const heads = resolveHeads(options.heads, dim, innerDim, patchSize, 'the released CRATE-α value', notes);
  const normalisation = assumedNormalisation(channels, o, notes);
  notes.push(`CRATE-α: overcomplete ratio ${ratio} read from D [${dim}, ${wide}]`);
  const config = parseAnyConfig({
    arch: 'crate-alpha',
    ratio,
    image_size: imageSize,
    patch_size: patchSize,
    channels,
    dim,
    depth,
    heads,
    dim_head: innerDim / heads,
    num_classes: classes,
    eta: o.eta ?? 0.1,
    lambda: o.lambda ?? 0.1,
    pool: 'cls',
    ...normalisation,
    labels: o.labels,
  }) as CrateAlphaConfig;
  checkExactShapes(alphaTensorShapes(config), shapes, "the CRATE-α port's state dict (docs/MEASUREMENTS.md §1.1)");
  return { config, notes };
}

/** CRATE or CRATE-α, told apart by their own keys; CRATE-MAE and other variants are refused as inferConfig does. */
export function inferAnyConfig(shapes: Shapes, options: InferOptions = {}): { config: AnyCrateConfig; notes: string[] } {
  return isAlphaStateDict(shapes.keys()) ? inferAlphaConfig(shapes, options) : inferConfig(shapes, options);
}

/** The model's tensors, in load order, for either family (what a reader decodes). */
export function tensorNamesOf(config: AnyCrateConfig): string[] {
  return (config.arch === 'crate-alpha' ? alphaTensorShapes(config) : officialTensorShapes(config)).map(([name]) => name);
}

/** A model of either family from its tensors and a config of that family. */
export function anyModelFromTensors(config: AnyCrateConfig, tensors: ReadonlyMap<string, Tensor>): AnyCrateModel {
  return config.arch === 'crate-alpha' ? alphaModelFromTensors(config, tensors) : modelFromTensors(config, tensors);
}

/** A model of either family from its tensors alone: the config is inferred (inferAnyConfig). */
export function anyModelFromInferredTensors(
  tensors: ReadonlyMap<string, Tensor>,
  options: InferOptions = {},
): { config: AnyCrateConfig; notes: string[]; model: AnyCrateModel } {
  const shapes = new Map([...tensors].map(([name, t]) => [name, t.shape] as const));
  const inferred = inferAnyConfig(shapes, options);
  return { ...inferred, model: anyModelFromTensors(inferred.config, tensors) };
}
