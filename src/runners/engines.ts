/**
 * Which engine runs the model, and the runners themselves. The app picks the
 * fastest engine for the adapter it finds unless the user chose one (the
 * `engine` link property), and always runs a second, independent engine on
 * the same image so the deviation between ours and onnxruntime-web is shown.
 */
import { isAlphaModel } from '../engine/alphaModel.ts';
import { createAlphaCpuRunner } from '../engine/cpu/alphaReference.ts';
import { createCpuRunner } from '../engine/cpu/cpuRunner.ts';
import { AlphaGpuEngine, checkAlphaSupported, createAlphaGpuRunner } from '../engine/gpu/alphaEngine.ts';
import { requestBrowserDevice } from '../engine/gpu/browserDevice.ts';
import { CrateGpuEngine, checkSupported } from '../engine/gpu/engine.ts';
import { createGpuRunner } from '../engine/gpu/gpuRunner.ts';
import { createOrtRunner, type OrtModule } from '../engine/ort/ortRunner.ts';
import { ENGINE_LABELS, type EngineKind, type ModelRunner } from '../engine/runner.ts';
import { isSoftwareAdapter, type AdapterStatus } from './adapter.ts';
import type { LoadedModel } from '../models/modelFile.ts';
import type { EngineChoice } from '../state/urlState.ts';
import ortGlueUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

export interface EnginePlan {
  primary: EngineKind;
  /** Why this engine, in one sentence for the engine panel. */
  reason: string;
  /** The engine the primary is compared with, or undefined when there is none to compare with. */
  reference?: EngineKind;
}

/**
 * Forward FLOPs above which a software adapter (SwiftShader) loses to ORT's
 * WASM EP. `npm run bench` on SwiftShader (BENCHMARKS.md): even the 6-layer
 * digit model (≈ 30 MFLOP) runs in 5–7 ms on ORT WASM against 52–61 ms on our
 * kernels, and at CRATE-T size the gap is 20×: SwiftShader runs our matmuls
 * at 1–1.8 GFLOP/s (`npm run bench:kernels`), ORT's SIMD WASM at ~34. So on a
 * software adapter ORT WASM wins at every size measured, and only a model too
 * small to matter stays on our kernels.
 */
export const SOFTWARE_ADAPTER_FLOP_LIMIT = 1e6;

export function forwardFlops(model: LoadedModel['model']): number {
  const { dim: d, depth, heads, dim_head: dh } = model.config;
  const { tokens: n, patchDim } = model.shape;
  const inner = heads * dh;
  // CRATE's ISTA step is two d×d products; CRATE-α's two-step block is four N×d×r·d products (a·D, z1·Dᵀ, ·D, z2·D1ᵀ), §1.1.
  const ista = isAlphaModel(model) ? 4 * 2 * n * d * model.config.ratio * d : 2 * 2 * n * d * d;
  const perLayer = 2 * n * d * inner * 2 + 2 * 2 * n * n * inner + ista;
  return depth * perLayer + 2 * (n - 1) * patchDim * d;
}

function wgslProblem(loaded: LoadedModel): string | undefined {
  try {
    // CRATE-α's kernels need d and dh multiples of 4 (alphaEngine.ts); other shapes run on the CPU reference.
    if (isAlphaModel(loaded.model)) checkAlphaSupported(loaded.model);
    else checkSupported(loaded.model);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Decides the engines for a model on this adapter; pure, so it is unit-tested. */
export function planEngines(choice: EngineChoice, adapter: AdapterStatus, loaded: LoadedModel): EnginePlan {
  const hasGpu = adapter.status === 'ready';
  const hasOnnx = loaded.onnx !== undefined;
  const wgslBlocked = !hasGpu ? `WebGPU is unavailable (${adapter.status === 'unavailable' ? adapter.reason : 'still probing'})` : wgslProblem(loaded);
  const ours: EngineKind = wgslBlocked ? 'cpu' : 'wgsl';
  const referenceFor = (primary: EngineKind): EngineKind | undefined => {
    if (primary === 'wgsl' || primary === 'cpu') return hasOnnx ? 'ort-wasm' : primary === 'wgsl' ? 'cpu' : undefined;
    return ours;
  };
  if (choice !== 'auto') {
    const problem =
      choice === 'wgsl' ? wgslBlocked : choice.startsWith('ort-') && !hasOnnx ? 'onnxruntime-web needs an ONNX model' : choice === 'ort-webgpu' && !hasGpu ? 'WebGPU is unavailable' : undefined;
    if (!problem) return { primary: choice, reason: `you chose ${ENGINE_LABELS[choice]}`, reference: referenceFor(choice) };
    const fallback = planEngines('auto', adapter, loaded);
    return { ...fallback, reason: `you chose ${ENGINE_LABELS[choice]}, but ${problem}; ${fallback.reason}` };
  }
  if (wgslBlocked) {
    if (hasOnnx) return { primary: 'ort-wasm', reason: `${wgslBlocked}, so onnxruntime-web's WASM engine runs the model`, reference: referenceFor('ort-wasm') };
    return { primary: 'cpu', reason: `${wgslBlocked}, and this model has no ONNX graph, so the CPU reference runs it` };
  }
  const flops = forwardFlops(loaded.model);
  if (isSoftwareAdapter(adapter) && hasOnnx && flops > SOFTWARE_ADAPTER_FLOP_LIMIT) {
    return {
      primary: 'ort-wasm',
      // Shown to users (issue 19): plain words; the measurements behind it are in BENCHMARKS.md.
      reason: `WebGPU here is your browser's software GPU (a software renderer), on which the onnxruntime-web WASM engine runs a model of this size faster (${(flops / 1e6).toFixed(0)} MFLOP per image); our WGSL engine checks its results on every image`,
      reference: 'wgsl',
    };
  }
  const softwareReason =
    flops > SOFTWARE_ADAPTER_FLOP_LIMIT
      ? `the adapter is a software renderer, where onnxruntime-web's WASM engine would be faster, but it needs an ONNX graph and this file has none, so our WGSL kernels run it (${(flops / 1e6).toFixed(0)} MFLOP per image)`
      : `the adapter is a software renderer, but this model is small (${(flops / 1e6).toFixed(0)} MFLOP per image), so our WGSL kernels are fast enough`;
  return {
    primary: 'wgsl',
    reason: isSoftwareAdapter(adapter) ? softwareReason : 'a GPU is available to WebGPU, so our WGSL kernels run the model (no real-GPU benchmark has been made yet; the engine panel lets you choose another)',
    reference: referenceFor('wgsl'),
  };
}

let ortModule: Promise<OrtModule> | undefined;
/** onnxruntime-web is loaded only when first needed; its native WebGPU build also has the WASM EP. */
function loadOrt(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-web/webgpu').then((ort) => {
    const module = ort as unknown as OrtModule;
    // ORT's worker threads import the script that holds its Emscripten glue. Bundled, that is
    // a chunk sharing the bundler's runtime with the app's entry chunk, so every worker would
    // start the whole app (and die on `document`). Pointing ORT at the standalone glue file,
    // emitted unbundled by `?url`, keeps the workers to ORT alone.
    module.env.wasm.wasmPaths = { mjs: new URL(ortGlueUrl, location.href), wasm: new URL(ortWasmUrl, location.href) };
    // Threads need SharedArrayBuffer, which only a cross-origin isolated page has (vite.config.ts sets COOP/COEP).
    module.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    return module;
  });
  return ortModule;
}

let device: Promise<GPUDevice> | undefined;
function browserDevice(): Promise<GPUDevice> {
  device ??= requestBrowserDevice();
  device.catch(() => (device = undefined));
  return device;
}

/**
 * Creates the runner for one engine; the caller owns it and disposes it.
 * Our WGSL engine (CRATE) tunes its kernel variants on its first run of a
 * shape on this adapter, within about 1 s, cached afterwards (issue 18),
 * unless `hooks.tune` is false; `hooks.onTuning` hears its progress.
 */
export async function createRunner(
  kind: EngineKind,
  loaded: LoadedModel,
  onDeviceLost?: (message: string) => void,
  hooks: { onTuning?: (note: string, fraction?: number) => void; tune?: boolean; deferTuning?: boolean } = {},
): Promise<ModelRunner> {
  switch (kind) {
    case 'cpu':
      return isAlphaModel(loaded.model) ? createAlphaCpuRunner(loaded.model) : createCpuRunner(loaded.model);
    case 'wgsl': {
      // CRATE-α's engine uploads everything at once; CRATE's streams its weights in slices (engine.ts).
      if (isAlphaModel(loaded.model)) return createAlphaGpuRunner(AlphaGpuEngine.create(await browserDevice(), loaded.model));
      const engine = await CrateGpuEngine.createInSlices(await browserDevice(), loaded.model, {
        recreateDevice: () => {
          device = undefined;
          return browserDevice();
        },
        onDeviceLost: (info) => onDeviceLost?.(`the GPU device was lost (${info.reason}: ${info.message}); it is recreated on the next run`),
      });
      return createGpuRunner(engine, { enabled: hooks.tune ?? true, deferred: hooks.deferTuning, onTuning: hooks.onTuning });
    }
    case 'ort-webgpu':
    case 'ort-wasm':
      if (!loaded.onnx) throw new Error('onnxruntime-web needs an ONNX model');
      return createOrtRunner(await loadOrt(), loaded.onnx, loaded.model.config, kind === 'ort-webgpu' ? 'webgpu' : 'wasm');
  }
}
