/**
 * The URL codec: which parts of the view state live in `location.search`, and
 * how they are read and written. Modelled on TensorFlow Playground's
 * `state.ts`: ONE typed list of properties, each with its name, type,
 * default, parse, serialise and validate; nothing else in the app reads or
 * writes the query string.
 *
 * The query string is untrusted (anyone can send a link). Parsing never
 * throws: a missing, garbled, duplicated, oversized or out-of-range value
 * falls back to its default and adds a human-readable notice.
 */
import { DEFAULT_MASS_FRACTION, DEFAULT_SEGMENTATION_METHOD, DEFAULT_TOP_FRACTION } from '../analysis/segmentation.ts';
import { MAX_HEADS } from '../engine/config.ts';
import { PREP_CHOICES, type PrepChoice } from '../image/inputPreprocessing.ts';

/** The view state a link carries. */
export interface UrlState {
  /** Manifest id of the model, or the http(s) URL of a hosted ONNX model. */
  model: string;
  /** Index of the sample image in the model's manifest entry. */
  sample: number;
  /** Selected layer ℓ, 0-based. */
  layer: number;
  /** Where the image comes from: a shipped sample, or a local upload/drawing (which a link cannot carry). */
  source: ImageSource;
  /** Attention head shown large: 'mean' (over heads) or a head index. */
  head: HeadChoice;
  /** Query token whose attention row is shown: 0 is the class token, 1.. are patches in row-major order. */
  query: number;
  /** Detail view in focus. */
  view: DetailView;
  /** Segmentation method: the top-P% of patches or DINO's attention mass τ (docs/MEASUREMENTS.md §2). */
  seg: SegmentationMethod;
  /** P of the top-P% method, a fraction in (0, 1]. */
  p: number;
  /** τ of the mass method, a fraction in (0, 1]. */
  tau: number;
  /** Coding-rate variant plotted beside the official one (docs/MEASUREMENTS.md §2). */
  rate: RateVariant;
  /** Show mean ± std over the model's sample set instead of one image. */
  dataset: boolean;
  /** Show the teaching explanations (KaTeX) beside each view. */
  teach: boolean;
  /** Presentation layout (issue 19): one projected screen holds the layer curves, the detail figure and its numbers, in large type. */
  present: boolean;
  /** Guided tour step, 1-based; 0 = no tour (issue 15, src/ui/tour.ts). */
  tour: number;
  /** Embedded: the current view's figure alone, for an <iframe> (issue 15). */
  embed: boolean;
  /** PCA view: this image alone, or the official procedure fitted jointly over sample images (docs/MEASUREMENTS.md §2). */
  pca: PcaMode;
  /** Engine the user chose; 'auto' lets the app pick the fastest for the adapter. */
  engine: EngineChoice;
  /** Preprocessing of ImageNet-layout models (issue 16, src/image/inputPreprocessing.ts): the evaluation transform, squash, or the user's crop. */
  prep: PrepChoice;
  /**
   * Finer maps (issue 16): the input side in pixels, the positional embedding interpolated
   * (src/engine/posEmbedding.ts); 0 is the model's own size. The link only bounds it; whether the
   * model takes it (a multiple of its patch, the attention memory) is src/image/inputSize.ts
   * resolveInputSize, which falls back to 0 with a notice, as the layer does past the model's depth.
   */
  size: number;
}

export const ENGINE_CHOICES = ['auto', 'wgsl', 'ort-webgpu', 'ort-wasm', 'cpu'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];
export const IMAGE_SOURCES = ['sample', 'upload', 'drawing'] as const;
export type ImageSource = (typeof IMAGE_SOURCES)[number];
export const DETAIL_VIEWS = ['attention', 'segmentation', 'histogram', 'pca', 'objective', 'coherence', 'heads'] as const;
export const PCA_MODES = ['image', 'official'] as const;
export type PcaMode = (typeof PCA_MODES)[number];
export type DetailView = (typeof DETAIL_VIEWS)[number];
export const SEGMENTATION_METHODS = ['top', 'mass'] as const;
export type SegmentationMethod = (typeof SEGMENTATION_METHODS)[number];
export const RATE_VARIANTS = ['official', 'paper'] as const;
export type RateVariant = (typeof RATE_VARIANTS)[number];
export type HeadChoice = 'mean' | number;
/**
 * Most heads any model may have: the config's own limit, so that every head a
 * model the app accepts can show is also a head a link can carry (issue 20 #1:
 * a private limit of 64 here froze the page on head 70 of a 96-head model).
 */
export { MAX_HEADS };
/** Largest `size` a link may carry, pixels: the largest side a model config may declare (engine/config.ts LIMITS.side). */
export const MAX_INPUT_SIDE = 4096;

export interface UrlProp<K extends keyof UrlState> {
  name: K;
  type: 'int' | 'enum' | 'model' | 'fraction' | 'bool' | 'head';
  default: UrlState[K];
  /** Longest raw value looked at (MAX_VALUE_LENGTH unless set). */
  maxLength?: number;
  /** Left out of links while at its default, so a link records only what the user chose. */
  omitDefault?: boolean;
  /** Text → value, or undefined when the text is not of this type. */
  parse(raw: string): UrlState[K] | undefined;
  serialise(value: UrlState[K]): string;
  /** null when the value is acceptable, else the reason it is not. */
  validate(value: UrlState[K]): string | null;
}

type AnyUrlProp = { [K in keyof UrlState]: UrlProp<K> }[keyof UrlState];

/** Longest value, in characters, that is even looked at. */
export const MAX_VALUE_LENGTH = 128;
/** Longest query string that is parsed at all. */
export const MAX_SEARCH_LENGTH = 4096;
/** At most this many notices about unknown parameters, then one summary. */
const MAX_UNKNOWN_NOTICES = 3;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A hosted model: http(s) only (never javascript:, data: or blob:), printable ASCII, no quotes or spaces. */
const MODEL_URL_PATTERN = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/;
export const MAX_MODEL_URL_LENGTH = 512;

export function isModelUrl(value: string): boolean {
  return value.length <= MAX_MODEL_URL_LENGTH && MODEL_URL_PATTERN.test(value);
}
const INT_PATTERN = /^(0|[1-9][0-9]{0,8})$/;

/** A manifest id, or the URL of a hosted ONNX model (`?model=<url>` in shared links). */
function modelProp<K extends 'model'>(name: K, fallback: string): UrlProp<K> {
  const ok = (value: string) => ID_PATTERN.test(value) || isModelUrl(value);
  return {
    name,
    type: 'model',
    default: fallback,
    maxLength: MAX_MODEL_URL_LENGTH,
    parse: (raw) => (ok(raw) ? raw : undefined),
    serialise: (value) => value,
    validate: (value) =>
      ok(value) ? null : 'must be a model id (letters, digits, ".", "_", "-") or an http(s) URL of an .onnx file',
  };
}

function enumProp<K extends 'engine' | 'source' | 'view' | 'seg' | 'rate' | 'pca' | 'prep'>(
  name: K,
  values: readonly UrlState[K][],
  fallback: UrlState[K],
  omitDefault = false,
): UrlProp<K> {
  return {
    name,
    type: 'enum',
    default: fallback,
    omitDefault,
    parse: (raw) => values.find((v) => v === raw),
    serialise: (value) => value,
    validate: (value) => (values.includes(value) ? null : `must be one of ${values.join(', ')}`),
  };
}

function intProp<K extends 'sample' | 'layer' | 'query' | 'tour' | 'size'>(name: K, fallback: number, min: number, max: number): UrlProp<K> {
  return {
    name,
    type: 'int',
    default: fallback,
    parse: (raw) => (INT_PATTERN.test(raw) ? Number(raw) : undefined),
    serialise: (value) => String(value),
    validate: (value) =>
      Number.isSafeInteger(value) && value >= min && value <= max ? null : `must be a whole number from ${min} to ${max}`,
  };
}

const FRACTION_PATTERN = /^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$/;

/** A fraction in (0, 1], written with at most 4 decimals so links stay short and exact. */
function fractionProp<K extends 'p' | 'tau'>(name: K, fallback: number): UrlProp<K> {
  return {
    name,
    type: 'fraction',
    default: fallback,
    parse: (raw) => (FRACTION_PATTERN.test(raw) ? Number(raw) : undefined),
    serialise: (value) => String(Math.round(value * 1e4) / 1e4),
    validate: (value) => (Number.isFinite(value) && value > 0 && value <= 1 ? null : 'must be a fraction above 0 and at most 1'),
  };
}

function boolProp<K extends 'dataset' | 'teach' | 'embed' | 'present'>(name: K, fallback: boolean): UrlProp<K> {
  return {
    name,
    type: 'bool',
    default: fallback,
    parse: (raw) => (raw === '1' ? true : raw === '0' ? false : undefined),
    serialise: (value) => (value ? '1' : '0'),
    validate: (value) => (typeof value === 'boolean' ? null : 'must be 0 or 1'),
  };
}

function headProp<K extends 'head'>(name: K): UrlProp<K> {
  const ok = (value: HeadChoice) => value === 'mean' || (Number.isSafeInteger(value) && value >= 0 && value < MAX_HEADS);
  return {
    name,
    type: 'head',
    default: 'mean',
    parse: (raw) => (raw === 'mean' ? 'mean' : INT_PATTERN.test(raw) ? Number(raw) : undefined),
    serialise: (value) => String(value),
    validate: (value) => (ok(value) ? null : `must be "mean" or a head index from 0 to ${MAX_HEADS - 1}`),
  };
}

/** THE list. Order is the order of parameters in a serialised link. */
export const URL_PROPS: readonly AnyUrlProp[] = [
  modelProp('model', 'digits'),
  intProp('sample', 0, 0, 9999),
  intProp('layer', 0, 0, 1023),
  enumProp('source', IMAGE_SOURCES, 'sample'),
  headProp('head'),
  intProp('query', 0, 0, 65535),
  enumProp('view', DETAIL_VIEWS, 'attention'),
  enumProp('seg', SEGMENTATION_METHODS, DEFAULT_SEGMENTATION_METHOD),
  fractionProp('p', DEFAULT_TOP_FRACTION),
  fractionProp('tau', DEFAULT_MASS_FRACTION),
  enumProp('rate', RATE_VARIANTS, 'official'),
  boolProp('dataset', false),
  boolProp('teach', true),
  // Recorded only when on, so an ordinary link stays as it was (issue 15).
  { ...intProp('tour', 0, 0, 99), omitDefault: true },
  { ...boolProp('embed', false), omitDefault: true },
  enumProp('pca', PCA_MODES, 'image', true),
  // Recorded only when on, so existing links stay as they were (issue 19).
  { ...boolProp('present', false), omitDefault: true },
  // Recorded only when the user chose an engine (issue 7): a link must not force the sender's engine.
  enumProp('engine', ENGINE_CHOICES, 'auto', true),
  // Recorded only when the user changed it (issue 16): the model's own preprocessing needs no mention.
  enumProp('prep', PREP_CHOICES, 'auto', true),
  // Recorded only when the user chose a size (issue 16). 4096 is the largest side a config may have (engine/config.ts).
  { ...intProp('size', 0, 0, MAX_INPUT_SIDE), omitDefault: true },
];

export function defaultUrlState(): UrlState {
  const state: Partial<Record<keyof UrlState, unknown>> = {};
  for (const prop of URL_PROPS) state[prop.name] = prop.default;
  return state as UrlState;
}

/** A value quoted for a notice: never longer than a short line, control characters shown as �. */
export function quote(text: string, max = 40): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\uFFFD');
  return JSON.stringify(clean.length > max ? `${clean.slice(0, max)}…` : clean);
}

export interface ParsedUrlState {
  state: UrlState;
  /** One line per value that was ignored, and why. Empty for a clean link. */
  notices: string[];
}

function setValue<K extends keyof UrlState>(state: UrlState, prop: UrlProp<K>, value: UrlState[K]) {
  state[prop.name] = value;
}

function readProp<K extends keyof UrlState>(
  prop: UrlProp<K>,
  values: string[],
  state: UrlState,
  notices: string[],
): void {
  if (values.length === 0) return;
  const fallback = `using the default ${quote(prop.serialise(prop.default))}`;
  if (values.length > 1) notices.push(`"${prop.name}" appears ${values.length} times in the link; the first is used`);
  const raw = values[0];
  const maxLength = prop.maxLength ?? MAX_VALUE_LENGTH;
  if (raw.length > maxLength) {
    notices.push(`"${prop.name}" is ${raw.length} characters long (at most ${maxLength}); ${fallback}`);
    return;
  }
  const value = prop.parse(raw);
  if (value === undefined) {
    const kind = {
      int: 'a whole number',
      id: 'a valid id',
      enum: 'a known choice',
      model: 'a model id or an http(s) model URL',
      fraction: 'a fraction such as 0.6',
      bool: '0 or 1',
      head: '"mean" or a head index',
    }[prop.type];
    notices.push(`"${prop.name}" = ${quote(raw)} is not ${kind}; ${fallback}`);
    return;
  }
  const problem = prop.validate(value);
  if (problem !== null) {
    notices.push(`"${prop.name}" = ${quote(raw)} ${problem}; ${fallback}`);
    return;
  }
  setValue(state, prop, value);
}

/** Reads the view state from a query string (`location.search`, with or without the leading "?"). */
export function parseUrlState(search: string): ParsedUrlState {
  const state = defaultUrlState();
  const notices: string[] = [];
  if (search.length > MAX_SEARCH_LENGTH) {
    notices.push(`the link's parameters are ${search.length} characters long (at most ${MAX_SEARCH_LENGTH}); all were ignored`);
    return { state, notices };
  }
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(search);
  } catch {
    notices.push("the link's parameters could not be read; all were ignored");
    return { state, notices };
  }
  const known = new Set<string>(URL_PROPS.map((p) => p.name));
  const unknown = [...new Set([...params.keys()].filter((key) => !known.has(key)))];
  for (const key of unknown.slice(0, MAX_UNKNOWN_NOTICES)) notices.push(`unknown parameter ${quote(key)} was ignored`);
  if (unknown.length > MAX_UNKNOWN_NOTICES) notices.push(`${unknown.length - MAX_UNKNOWN_NOTICES} more unknown parameters were ignored`);
  for (const prop of URL_PROPS) readProp(prop, params.getAll(prop.name), state, notices);
  return { state, notices };
}

/**
 * Writes the view state as a query string with a leading "?", every property
 * in list order. Throws on a value its own property rejects: that is a bug in
 * the caller, and a link that cannot be read back must never be produced.
 */
export function serialiseUrlState(state: UrlState): string {
  const params = new URLSearchParams();
  for (const prop of URL_PROPS) writeProp(prop, state, params);
  return `?${params.toString()}`;
}

/** Why `state[prop.name]` cannot go in a link, or null when it can. */
function writeProblem<K extends keyof UrlState>(prop: UrlProp<K>, state: UrlState): string | null {
  const problem = prop.validate(state[prop.name]);
  return problem === null ? null : `URL state "${prop.name}" = ${quote(String(state[prop.name]))} ${problem}`;
}

function writeProp<K extends keyof UrlState>(prop: UrlProp<K>, state: UrlState, params: URLSearchParams): void {
  const problem = writeProblem(prop, state);
  if (problem !== null) throw new RangeError(problem);
  const value = state[prop.name];
  if (prop.omitDefault && value === prop.default) return;
  params.set(prop.name, prop.serialise(value));
}

export interface EncodedUrlState {
  /** The query string, with a leading "?". */
  search: string;
  /** One line per property whose value cannot be written (the link carries its default instead), and why. Empty when none. */
  omitted: string[];
}

/**
 * Like serialiseUrlState, but never throws: a property whose value its
 * validator rejects is left out of the link (a reader falls back to its
 * default) and reported. For the store → URL subscriber, which must never
 * throw on a state the store accepted (issue 20 #1).
 */
export function encodeUrlState(state: UrlState): EncodedUrlState {
  const omitted: string[] = [];
  const writable = { ...state };
  for (const prop of URL_PROPS) {
    const problem = writeProblem(prop, state);
    if (problem === null) continue;
    omitted.push(`${problem}; the link carries its default instead`);
    setValue(writable, prop, prop.default);
  }
  return { search: serialiseUrlState(writable), omitted };
}

export function sameUrlState(a: UrlState, b: UrlState): boolean {
  return URL_PROPS.every((prop) => a[prop.name] === b[prop.name]);
}
