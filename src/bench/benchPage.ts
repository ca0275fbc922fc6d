/**
 * The benchmark page (bench.html), driven by bench/run.ts through
 * `window.crateBench`. Every engine runs in this one page session on the same
 * ONNX file and the same input, so their timings are comparable as ratios:
 *   wgsl        our engine (weights read from the ONNX file);
 *   ort-webgpu  onnxruntime-web's native WebGPU EP (`onnxruntime-web/webgpu`);
 *   ort-jsep    its default build's JSEP WebGPU EP (`onnxruntime-web`);
 *   ort-wasm    its WASM EP, threaded when the page is cross-origin isolated.
 * Each timed call includes reading the results back to the CPU.
 */
import { figuresHereEachImage, imageRunFigures } from '../dataset/dataset.ts';
import { summarise } from '../models/modelSummary.ts';
import { viewFigures } from '../state/derived.ts';
import type { RunResult } from '../state/store.ts';
import { startAnalysisPool } from '../worker/analysisPool.ts';
import { forwardFlops } from '../runners/engines.ts';
import { defaultUrlState } from '../state/urlState.ts';
import { requestBrowserDevice } from '../engine/gpu/browserDevice.ts';
import { CrateGpuEngine } from '../engine/gpu/engine.ts';
import { createGpuRunner, FIRST_RUN_TUNING_BUDGET_MS } from '../engine/gpu/gpuRunner.ts';
import { MemoryTuningStore } from '../kernels/autotune.ts';
import { modelFromOnnx } from '../engine/onnx/onnxModel.ts';
import { createOrtRunner, type OrtModule } from '../engine/ort/ortRunner.ts';
import type { ModelRunner } from '../engine/runner.ts';
import type { CrateModel } from '../engine/model.ts';
import asyncifyGlueUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import asyncifyWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import jsepGlueUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';
import jsepWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';

export type BenchEngine = 'wgsl' | 'ort-webgpu' | 'ort-jsep' | 'ort-wasm';
export type BenchMode = 'forward' | 'captured';

interface Loaded {
  bytes: Uint8Array;
  model: CrateModel;
  input: Float32Array;
  runners: Map<BenchEngine, ModelRunner>;
  gpuEngine?: CrateGpuEngine;
}

/** The analysis helpers, as the compute worker starts them (src/worker/computeWorker.ts). */
const analysisHelpers = startAnalysisPool(figuresHereEachImage, (message) => console.warn(message));

const threads = () => (globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1);

/** Both ORT builds, each told where its standalone glue lives (see src/runners/engines.ts for why). */
async function ortBuild(kind: 'native' | 'jsep'): Promise<OrtModule> {
  const ort = (kind === 'native' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web')) as unknown as OrtModule;
  const [mjs, wasm] = kind === 'native' ? [asyncifyGlueUrl, asyncifyWasmUrl] : [jsepGlueUrl, jsepWasmUrl];
  ort.env.wasm.wasmPaths = { mjs: new URL(mjs, location.href), wasm: new URL(wasm, location.href) };
  ort.env.wasm.numThreads = threads();
  return ort;
}

let device: Promise<GPUDevice> | undefined;
const models = new Map<string, Loaded>();

function seededInput(model: CrateModel): Float32Array {
  let state = 12345;
  const { imageHeight, imageWidth } = model.shape;
  return Float32Array.from({ length: model.config.channels * imageHeight * imageWidth }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

async function runner(name: string, engine: BenchEngine): Promise<ModelRunner> {
  const loaded = models.get(name);
  if (!loaded) throw new Error(`model ${name} is not loaded`);
  let r = loaded.runners.get(engine);
  if (!r) {
    if (engine === 'wgsl') {
      device ??= requestBrowserDevice();
      loaded.gpuEngine = CrateGpuEngine.create(await device, loaded.model);
      // As the app does on a first visit: tuned on this adapter within the first-run budget (nothing cached).
      await loaded.gpuEngine.tune({ store: new MemoryTuningStore(), budgetMs: FIRST_RUN_TUNING_BUDGET_MS });
      r = createGpuRunner(loaded.gpuEngine);
    } else {
      const ort = await ortBuild(engine === 'ort-jsep' ? 'jsep' : 'native');
      r = await createOrtRunner(ort, loaded.bytes, loaded.model.config, engine === 'ort-wasm' ? 'wasm' : 'webgpu');
    }
    loaded.runners.set(engine, r);
  }
  return r;
}

const api = {
  async adapter(): Promise<{ name: string; fallback: boolean; crossOriginIsolated: boolean; threads: number; userAgent: string }> {
    const adapter = await navigator.gpu?.requestAdapter();
    const info = adapter?.info;
    const name = info ? info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unnamed adapter' : 'no WebGPU adapter';
    return {
      name,
      fallback: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter),
      crossOriginIsolated: globalThis.crossOriginIsolated,
      threads: threads(),
      userAgent: navigator.userAgent,
    };
  },
  async load(name: string, url: string): Promise<{ tokens: number; dim: number; depth: number; heads: number; bytes: number; flops: number }> {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const { model } = modelFromOnnx(bytes);
    models.set(name, { bytes, model, input: seededInput(model), runners: new Map() });
    return { tokens: model.shape.tokens, dim: model.config.dim, depth: model.config.depth, heads: model.config.heads, bytes: bytes.byteLength, flops: forwardFlops(model) };
  },
  /** One timed run, in ms, results read back. */
  async time(name: string, engine: BenchEngine, mode: BenchMode): Promise<number> {
    const r = await runner(name, engine);
    const { input } = models.get(name)!;
    const start = performance.now();
    await r.run(input, { layers: mode === 'captured' });
    return performance.now() - start;
  },
  /**
   * What the app computes for one image on top of a captured run, in ms: every per-image
   * figure as the compute worker makes it (dataset.ts imageRunFigures, spread over the
   * analysis helpers, one per core: src/worker/analysisPool.ts), then what the views compute
   * for it (state/derived.ts viewFigures) with the last layer on screen in the PCA view, the
   * costliest detail view (the default, attention, costs under a millisecond).
   */
  async analysis(name: string): Promise<number> {
    const loaded = models.get(name)!;
    const out = await (await runner(name, 'wgsl')).run(loaded.input);
    const { model } = loaded;
    const view = { ...defaultUrlState(), layer: model.config.depth - 1, view: 'pca' as const };
    const start = performance.now();
    const { top, layers } = await imageRunFigures(model, out, undefined, view, analysisHelpers?.compute);
    // The fields the selectors read; the rest of a RunResult (image, engine, timings) is about the page.
    const run = { model: summarise({ key: name, name }, { model, bytes: loaded.bytes.byteLength }), outputs: out, top, layers } as unknown as RunResult;
    viewFigures(run, view);
    return performance.now() - start;
  },
  /** How many analysis helpers the model's figures are spread over (0: computed in the page). */
  analysisHelpers(name: string): number {
    return analysisHelpers?.helpersFor(models.get(name)!.model) ?? 0;
  },
  /** The kernel variants our engine ran, per kernel, and where the choice came from. */
  variants(name: string): { variants: Record<string, string>; tuning: string; note?: string } | undefined {
    const info = models.get(name)?.gpuEngine?.info;
    return info && { variants: { ...info.variants }, tuning: info.tuning, ...(info.tuningNote ? { note: info.tuningNote } : {}) };
  },
  /** GPU memory our engine holds for the model (buffer accounting). */
  gpuBytes(name: string): number {
    return models.get(name)?.gpuEngine?.gpuBytes ?? 0;
  },
};

declare global {
  interface Window {
    crateBench: typeof api;
  }
}
window.crateBench = api;
const status = document.getElementById('bench-status');
if (status) {
  status.textContent = 'Ready.';
  status.dataset.state = 'ready';
}
