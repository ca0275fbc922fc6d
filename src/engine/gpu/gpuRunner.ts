import { selectTuningStore, type TuningStore } from '../../kernels/autotune.ts';
import { DEFAULT_VARIANTS, type TunableKernel } from '../../kernels/variants.ts';
import type { ForwardOutputs, KernelsUsed, LayerOutputs, ModelRunner } from '../runner.ts';
import { CAPTURE_NOTHING, type CaptureRequest } from './capture.ts';
import type { CrateGpuEngine, EngineInfo } from './engine.ts';

/** Exactly what the views need: no Z^ℓ (it is the previous layer's Z^{ℓ+1}) and nothing else read back. */
const CAPTURE_VIEWS: CaptureRequest = { layers: 'all', tensors: ['w', 'attention', 'zHalf', 'zNext'] };

/** Tuning on the first run of a shape delays that run's result by about this much (BENCHMARKS.md, "Kernel variants and autotuning"). */
export const FIRST_RUN_TUNING_BUDGET_MS = 1000;
/**
 * A retune is asked for by the user, who sees its progress, so it may take
 * longer and time more candidates and repeats than the silent first-run
 * tuning: on SwiftShader at CRATE-T shape a single matmul timing takes a few
 * hundred ms, so 1 s measures barely one candidate per kernel.
 */
export const RETUNE_BUDGET_MS = 8000;

export interface GpuRunnerTuning {
  /** Tune on the first run (cached per adapter and shape afterwards); false keeps the variants the engine has. */
  enabled?: boolean;
  /**
   * Run the first image on the variants the engine has and tune only when `tune()` is called: the app
   * calls it once the first result is on screen, so a cold first render does not wait for the timings
   * (docs/ARCHITECTURE.md, "The worker boundary"; BENCHMARKS.md, "Responsiveness").
   */
  deferred?: boolean;
  /** Where choices are cached; default IndexedDB, else localStorage, else memory (selectTuningStore), so a module worker keeps its cache too. */
  store?: TuningStore;
  budgetMs?: number;
  retuneBudgetMs?: number;
  /** Progress of a tuning, `fraction` of its budget spent (0–1); for the progress bar. */
  onTuning?: (note: string, fraction?: number) => void;
}

function kernelsUsed(info: EngineInfo, tuneMillis: number | undefined, note: string | undefined): KernelsUsed {
  const deviations = Object.fromEntries(
    Object.entries(info.variants).flatMap(([kernel, variant]) => {
      const deviation = info.tuningDeviations[kernel as TunableKernel]?.[variant];
      return deviation === undefined ? [] : [[kernel, { deviation, from: DEFAULT_VARIANTS[kernel as TunableKernel] }]];
    }),
  );
  return {
    variants: { ...info.variants },
    descriptions: { ...info.variantDescriptions },
    source: info.tuning,
    adapter: info.adapter,
    ...(Object.keys(deviations).length ? { deviations } : {}),
    ...(tuneMillis !== undefined ? { tuneMillis } : {}),
    ...(note ? { note } : {}),
  };
}

/** The tuner's own note (what the budget cut, what it dropped), or why tuning failed. */
function tuningNote(info: EngineInfo): string | undefined {
  if (info.tuning === 'fallback') return `tuning failed (${info.tuningError ?? 'unknown error'}), so the safe default runs`;
  return info.tuning === 'tuned' ? info.tuningNote : undefined;
}

/**
 * Our WGSL engine behind the runner interface; the captures are read back in
 * one GPU round trip per run. With `tuning`, the first run chooses the kernel
 * variants for this shape on this adapter (src/kernels/autotune.ts), and
 * every run reports the variants it used.
 */
export function createGpuRunner(engine: CrateGpuEngine, tuning: GpuRunnerTuning = {}): ModelRunner {
  let tuned: Promise<void> | undefined;
  let tuneMillis: number | undefined;
  let note: string | undefined;

  const tuneNow = async (force: boolean, budgetMs: number, onProgress?: (note: string, fraction?: number) => void) => {
    const start = performance.now();
    try {
      const options = { store: tuning.store ?? selectTuningStore().store, budgetMs, onProgress };
      const info = await (force ? engine.retune(options) : engine.tune(options));
      note = tuningNote(info);
    } catch (error) {
      // The engine keeps the variants it had (the safe default unless given others): a failed tuning never fails a run.
      note = `tuning failed (${(error as Error)?.message ?? String(error)}), so the safe default runs`;
    }
    tuneMillis = performance.now() - start;
  };

  let cached: Promise<void> | undefined;
  const useCachedChoice = async () => {
    try {
      const info = await engine.tune({ store: tuning.store ?? selectTuningStore().store, cacheOnly: true });
      note = tuningNote(info);
    } catch {
      // No cache to read: the default runs, and `tune()` times later.
    }
  };

  return {
    kind: 'wgsl',
    async run(image, options = {}): Promise<ForwardOutputs> {
      if (tuning.enabled && !tuning.deferred) await (tuned ??= tuneNow(false, tuning.budgetMs ?? FIRST_RUN_TUNING_BUDGET_MS, tuning.onTuning));
      else if (tuning.enabled) await (tuned ?? (cached ??= useCachedChoice())); // a choice cached for this adapter and shape costs no timing
      const wantLayers = options.layers !== false;
      const result = await engine.run(image, wantLayers ? CAPTURE_VIEWS : CAPTURE_NOTHING, { profile: options.profile });
      const kernels = kernelsUsed(engine.info, tuneMillis, note);
      if (!wantLayers) return { logits: result.logits, layers: [], profile: result.profile, kernels };
      const { tensors } = CAPTURE_VIEWS;
      const depth = engine.model.config.depth;
      const read = await result.captures.readMany(Array.from({ length: depth }, (_, layer) => tensors.map((tensor) => ({ layer, tensor }))).flat());
      const layers = Array.from({ length: depth }, (_, l): LayerOutputs => {
        const [w, attention, zHalf, zNext] = read.slice(l * tensors.length, (l + 1) * tensors.length);
        return { w, attention, zHalf, zNext };
      });
      return { logits: result.logits, layers, profile: result.profile, kernels };
    },
    async tune(onProgress) {
      if (tuning.enabled) await (tuned ??= tuneNow(false, tuning.budgetMs ?? FIRST_RUN_TUNING_BUDGET_MS, onProgress ?? tuning.onTuning));
    },
    async retune(onProgress) {
      const run = tuneNow(true, tuning.retuneBudgetMs ?? RETUNE_BUDGET_MS, onProgress ?? tuning.onTuning);
      tuned = run; // a run waiting for the first tuning now waits for this one
      await run;
    },
    async dispose() {
      engine.destroy();
    },
  };
}
