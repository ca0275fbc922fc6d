/**
 * The runners of the model in use, one per engine, created on first use and
 * disposed together when the model changes (a CRATE-B's GPU buffers and ORT
 * session are hundreds of MB). Knows whether a runner is ready yet, which is
 * what lets the first image run on whichever engine is ready first while
 * onnxruntime-web still starts (docs/ARCHITECTURE.md, "The worker boundary").
 */
import type { EngineKind, ModelRunner } from '../engine/runner.ts';
import type { LoadedModel } from '../models/modelFile.ts';

/** `onNote`: a line for the progress bar while the runner is being made (timing the WGSL kernel variants, say). */
export type RunnerFactory = (kind: EngineKind, loaded: LoadedModel, onNote: (message: string, fraction?: number) => void) => Promise<ModelRunner>;

/**
 * The runner with its calls taking turns. The worker answers requests concurrently (a new
 * sample arrives while the check of the last one runs), and a runner owns one set of buffers:
 * CRATE-α's GPU engine maps one read-back buffer ("Buffer already has an outstanding map
 * pending" when two runs overlap), and an ORT session runs one call at a time. One queue here
 * serves every engine, rather than one lock per engine.
 */
export function takingTurns(runner: ModelRunner): ModelRunner {
  let queue: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task, task);
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    kind: runner.kind,
    run: (image, options) => inTurn(() => runner.run(image, options)),
    ...(runner.tune ? { tune: (onProgress) => inTurn(() => runner.tune!(onProgress)) } : {}),
    ...(runner.retune ? { retune: (onProgress) => inTurn(() => runner.retune!(onProgress)) } : {}),
    dispose: () => inTurn(() => runner.dispose()),
  };
}

interface Slot {
  promise: Promise<ModelRunner>;
  ready: boolean;
}

export class RunnerPool {
  private key = '';
  private slots = new Map<EngineKind, Slot>();

  constructor(
    private readonly create: RunnerFactory,
    private readonly onNote: (message: string, fraction?: number) => void = () => {},
  ) {}

  /** The runner for `kind` on model `key`; another key first disposes the previous model's runners. */
  get(key: string, kind: EngineKind, loaded: LoadedModel): Promise<ModelRunner> {
    if (key !== this.key) this.release();
    this.key = key;
    let slot = this.slots.get(kind);
    if (!slot) {
      const created: Slot = { promise: this.create(kind, loaded, this.onNote).then(takingTurns), ready: false };
      created.promise.then(
        () => (created.ready = true),
        () => {
          if (this.slots.get(kind) === created) this.slots.delete(kind);
        },
      );
      this.slots.set(kind, created);
      slot = created;
    }
    return slot.promise;
  }

  /** True once `kind`'s runner for `key` exists (its session created, its weights uploaded). */
  isReady(key: string, kind: EngineKind): boolean {
    return key === this.key && this.slots.get(kind)?.ready === true;
  }

  /** Disposes every runner (of `key` only, when given). */
  release(key?: string): void {
    if (key !== undefined && key !== this.key) return;
    const old = [...this.slots.values()];
    this.slots = new Map();
    this.key = '';
    for (const slot of old) void slot.promise.then((runner) => runner.dispose()).catch(() => {});
  }
}
