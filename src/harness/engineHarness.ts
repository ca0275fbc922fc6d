/**
 * The engine test harness (harness.html): the real CrateGpuEngine on the
 * page's navigator.gpu, driven by e2e/engine.spec.ts through
 * `window.crateHarness`. It only runs the engine and hands back raw numbers;
 * every comparison against PyTorch's fixtures and the CPU reference happens in
 * Node with test/helpers/fixtures.ts, so there is one definition of the error
 * measure.
 *
 * Arrays cross the page boundary as base64 of little-endian float32 bytes
 * (exact and about a third the size of JSON numbers); plain number arrays and
 * Uint8Arrays are accepted as input too.
 */
import { CAPTURE_ALL, CAPTURE_NOTHING, CAPTURE_TENSORS, type CaptureTensor } from '../engine/gpu/capture.ts';
import { deviceDescriptor } from '../engine/gpu/deviceRequest.ts';
import { CrateGpuEngine } from '../engine/gpu/engine.ts';
import type { GpuProfile } from '../engine/gpu/profiler.ts';
import { modelFromSafetensors } from '../engine/model.ts';
import { analyseImageOutputs } from '../analysis/analyseRun.ts';
import { productEngine } from '../analysis/rowProducts.ts';
import { cpuForward } from '../engine/cpu/reference.ts';
import { startAnalysisPool } from '../worker/analysisPool.ts';

/** Bytes as base64, a Uint8Array, or a plain array of byte values. */
export type BytesInput = string | Uint8Array | number[];
/** Float32 values as base64 of their bytes, a Float32Array, or a plain number array. */
export type FloatsInput = string | Float32Array | number[];

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** Features the adapter offers, sorted. */
  adapterFeatures: string[];
  /** Features the harness's device was created with, sorted. */
  deviceFeatures: string[];
}

export interface ImageResult {
  /** base64 float32 [num_classes]. */
  logits: string;
  /** Per layer, each captured tensor as base64 float32 (empty when capture was off). */
  layers: Partial<Record<CaptureTensor, string>>[];
}

export interface FixtureRun {
  depth: number;
  tokens: number;
  images: ImageResult[];
  gpuBytes: number;
  /** Uncaptured WebGPU errors raised while this call ran. */
  gpuErrors: string[];
  wallMs: number;
}

export interface ProfileRun {
  timestampsSupported: boolean;
  profile: GpuProfile;
  logits: string;
  /** Wall-clock time of the profiled run as the page saw it (submit to read-back), ms. */
  wallMs: number;
  dispatches: { total: number; perLayer: number };
  gpuErrors: string[];
}

export interface DispatchCounts {
  depth: number;
  /** The LN1 placement in use: 'separate' adds one layerNorm dispatch per layer (kernels/variants.ts). */
  qkvNorm: string;
  withoutCapture: { total: number; perLayer: number };
  withCaptureAll: { total: number; perLayer: number };
  gpuErrors: string[];
}

export interface CrateHarness {
  adapterInfo(): Promise<AdapterDescription>;
  runFixture(model: BytesInput, images: FloatsInput[], options?: { capture?: boolean }): Promise<FixtureRun>;
  profile(model: BytesInput, image: FloatsInput, options?: { warmup?: number }): Promise<ProfileRun>;
  dispatchCount(model: BytesInput): Promise<DispatchCounts>;
  analysisHelpers(model: BytesInput, image: FloatsInput): Promise<HelperAgreement>;
}

/** The analysis helpers in this page against the page itself (e2e/engine.spec.ts). */
export interface HelperAgreement {
  helpers: number;
  /** rowProducts.ts's way here: 'wasm' unless the page refused to compile WebAssembly. */
  productEngine: string;
  /** The helpers' figures and the page's, as JSON: the same functions on the same tensors give the same text. */
  fromHelpers: string;
  inPage: string;
  /** Whether the pool fell back to the page. */
  fellBack: boolean;
}

declare global {
  interface Window {
    crateHarness?: CrateHarness;
  }
}

// ─── encoding ────────────────────────────────────────────────────────────────

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

function toBytes(input: BytesInput): Uint8Array {
  if (typeof input === 'string') return base64ToBytes(input);
  return input instanceof Uint8Array ? input : Uint8Array.from(input);
}

function toFloats(input: FloatsInput): Float32Array {
  if (input instanceof Float32Array) return input;
  if (Array.isArray(input)) return Float32Array.from(input);
  const bytes = base64ToBytes(input);
  if (bytes.length % 4 !== 0) throw new Error(`float32 data has ${bytes.length} bytes, not a multiple of 4`);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

function floatsToBase64(values: Float32Array): string {
  return bytesToBase64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

// ─── device ──────────────────────────────────────────────────────────────────

interface HarnessGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  errors: string[];
}

let pendingGpu: Promise<HarnessGpu> | undefined;

/** One device for the page, with 'timestamp-query' where the adapter offers it. Rejects (never resolves to nothing) without WebGPU. */
function gpu(): Promise<HarnessGpu> {
  pendingGpu ??= (async () => {
    if (!window.isSecureContext) throw new Error('no WebGPU: the page is not a secure context');
    if (!navigator.gpu) throw new Error('no WebGPU: navigator.gpu is missing');
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('no WebGPU adapter: navigator.gpu.requestAdapter() returned null');
    const device = await adapter.requestDevice(deviceDescriptor(adapter, 'crate harness'));
    const errors: string[] = [];
    device.addEventListener('uncapturederror', (event) => errors.push((event as GPUUncapturedErrorEvent).error.message));
    device.lost.then((info) => errors.push(`device lost (${info.reason}): ${info.message}`));
    return { adapter, device, errors };
  })();
  pendingGpu.catch(() => (pendingGpu = undefined));
  return pendingGpu;
}

/** Runs `task` with a fresh engine for `model`, destroyed afterwards; returns the task's value and the WebGPU errors raised meanwhile. */
async function withEngine<T>(model: BytesInput, task: (engine: CrateGpuEngine) => Promise<T>): Promise<T & { gpuErrors: string[] }> {
  const { device, errors } = await gpu();
  const firstError = errors.length;
  const engine = CrateGpuEngine.create(device, modelFromSafetensors(toBytes(model)));
  try {
    const value = await task(engine);
    await device.queue.onSubmittedWorkDone();
    return { ...value, gpuErrors: errors.slice(firstError) };
  } finally {
    engine.destroy();
  }
}

// ─── the API ─────────────────────────────────────────────────────────────────

const harness: CrateHarness = {
  async adapterInfo() {
    const { adapter, device } = await gpu();
    const info = adapter.info;
    return {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
      adapterFeatures: [...adapter.features].sort(),
      deviceFeatures: [...device.features].sort(),
    };
  },

  runFixture(model, images, options = {}) {
    const capture = options.capture ?? true;
    return withEngine(model, async (engine) => {
      const start = performance.now();
      const { depth } = engine.model.config;
      const results: ImageResult[] = [];
      for (const image of images) {
        const { logits, captures } = await engine.run(toFloats(image), capture ? CAPTURE_ALL : CAPTURE_NOTHING);
        const layers: ImageResult['layers'] = [];
        for (let l = 0; l < depth; l++) {
          const tensors: ImageResult['layers'][number] = {};
          if (capture) for (const name of CAPTURE_TENSORS) tensors[name] = floatsToBase64(await captures.read(l, name));
          layers.push(tensors);
        }
        results.push({ logits: floatsToBase64(logits), layers });
      }
      return { depth, tokens: engine.model.shape.tokens, images: results, gpuBytes: engine.gpuBytes, wallMs: performance.now() - start };
    });
  },

  profile(model, image, options = {}) {
    return withEngine(model, async (engine) => {
      const input = toFloats(image);
      // Warm-up runs compile the pipelines and the profiled plan, so the timed run measures kernels only.
      for (let i = 0; i < (options.warmup ?? 1); i++) await engine.run(input, CAPTURE_NOTHING, { profile: true });
      const start = performance.now();
      const { logits, profile } = await engine.run(input, CAPTURE_NOTHING, { profile: true });
      const wallMs = performance.now() - start;
      if (!profile) throw new Error('engine.run(…, { profile: true }) returned no profile');
      return {
        timestampsSupported: engine.timestampsSupported,
        profile,
        logits: floatsToBase64(logits),
        wallMs,
        dispatches: await engine.dispatchCount(CAPTURE_NOTHING),
      };
    });
  },

  dispatchCount(model) {
    return withEngine(model, async (engine) => ({
      depth: engine.model.config.depth,
      qkvNorm: engine.info.variants.qkvNorm,
      withoutCapture: await engine.dispatchCount(CAPTURE_NOTHING),
      withCaptureAll: await engine.dispatchCount(CAPTURE_ALL),
    }));
  },

  async analysisHelpers(bytes, image) {
    const model = modelFromSafetensors(toBytes(bytes));
    // The page's own figures from a second copy of the model: the weight-only measures are cached per model object.
    const samePage = modelFromSafetensors(toBytes(bytes));
    const trace = cpuForward(model, toFloats(image));
    const outputs = { logits: trace.logits, layers: trace.layers };
    let fellBack = false;
    // Two helpers and no size threshold, whatever this machine's cores: the point is the workers themselves.
    const pool = startAnalysisPool(
      async (m, o, options) => ((fellBack = true), analyseImageOutputs(m, o, options)),
      () => {},
      { count: 2, minMultiplyAdds: 0 },
    );
    if (!pool) throw new Error('this page cannot start workers');
    const fromHelpers = await pool.compute(model, outputs, {});
    return { helpers: pool.size, productEngine: productEngine(), fromHelpers: JSON.stringify(fromHelpers), inPage: JSON.stringify(analyseImageOutputs(samePage, outputs, {})), fellBack };
  },
};

window.crateHarness = harness;
const status = document.getElementById('harness-status');
if (status) {
  status.textContent = 'Ready: window.crateHarness';
  status.dataset.state = 'ready';
}
