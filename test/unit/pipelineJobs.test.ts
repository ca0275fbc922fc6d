/**
 * The pipeline's jobs and the compute service, wired exactly as in the
 * browser (the RPC over a real MessageChannel) but with Node's files for
 * fetch, pngjs for the atlases and runners we control: a superseded request
 * is cancelled in the worker too, an engine failure falls back, a model
 * switch in the middle of a run ends on the new model, and the first image
 * does not wait for onnxruntime-web to start (docs/ARCHITECTURE.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createCpuRunner } from '../../src/engine/cpu/cpuRunner.ts';
import type { CrateModel } from '../../src/engine/model.ts';
import type { EngineKind, ModelRunner } from '../../src/engine/runner.ts';
import { openModelBytes } from '../../src/models/modelFile.ts';
import { startPipeline } from '../../src/pipeline/pipeline.ts';
import type { PipelineDeps, StoreLike } from '../../src/pipeline/context.ts';
import type { AdapterStatus } from '../../src/runners/adapter.ts';
import { useApp, type AppState, type RunResult } from '../../src/state/store.ts';
import { COMPUTE_METHODS, type ComputeApi } from '../../src/worker/computeApi.ts';
import { createComputeService } from '../../src/worker/computeService.ts';
import { connect, isAbortError, serve } from '../../src/worker/rpc.ts';
import { MODELS_DIR } from '../helpers/shippedModels.ts';

const MODELS_URL = 'file:///models/';
const SOFTWARE: AdapterStatus = { status: 'ready', name: 'SwiftShader Device', vendor: 'google', architecture: 'swiftshader', fallback: false, features: [] };

/** A runner we steer: it runs the CPU reference, after `gate` opens, or fails. */
interface Steer {
  created: EngineKind[];
  runs: EngineKind[];
  fail: Set<EngineKind>;
  /** Creating these runners waits for `release(kind)`. */
  slowStart: Map<EngineKind, () => void>;
  holdStart: Set<EngineKind>;
  /** While set, every run waits for it. */
  gate?: Promise<void>;
}

function steeredFactory(steer: Steer) {
  return async (kind: EngineKind, loaded: { model: unknown }): Promise<ModelRunner> => {
    steer.created.push(kind);
    if (steer.holdStart.has(kind)) await new Promise<void>((resolve) => steer.slowStart.set(kind, resolve));
    const cpu = createCpuRunner(loaded.model as CrateModel);
    return {
      kind,
      async run(input, options) {
        steer.runs.push(kind);
        if (steer.gate) await steer.gate;
        if (steer.fail.has(kind)) throw new Error(`${kind} lost its device`);
        return cpu.run(input, options);
      },
      dispose: async () => {},
    };
  };
}

function nodeFetch(url: string): Promise<Uint8Array> {
  return Promise.resolve(new Uint8Array(readFileSync(join(MODELS_DIR, url.slice(MODELS_URL.length)))));
}

async function decodePng(bytes: Uint8Array) {
  const png = PNG.sync.read(Buffer.from(bytes));
  return { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data) };
}

/** The service behind a real MessageChannel, as the worker serves it. */
function computeOverChannel(steer: Steer) {
  const channel = new MessageChannel();
  const service = createComputeService({
    fetchBytes: (url) => nodeFetch(url),
    createRunner: steeredFactory(steer),
    decodePng,
    openModelFile: async (name, file) => openModelBytes(name, new Uint8Array(await file.arrayBuffer())),
    modelsUrl: MODELS_URL,
    now: () => performance.now(),
  });
  serve<ComputeApi>(channel.port1 as never, service);
  const client = connect<ComputeApi>(channel.port2 as never, COMPUTE_METHODS);
  return { client, close: () => (channel.port1.close(), channel.port2.close()) };
}

/** A store with the app's state and actions, recording every result it is given. */
function fakeStore(initial: Partial<AppState>) {
  // The app's own initial state (its actions act on the app's store; `notify`, the one the pipeline calls, is replaced below).
  let state = { ...useApp.getInitialState(), ...initial } as AppState;
  const listeners = new Set<(s: AppState, p: AppState) => void>();
  const results: RunResult[] = [];
  const store: StoreLike = {
    getState: () => state,
    setState(patch) {
      const previous = state;
      state = { ...state, ...patch };
      if (patch.run?.status === 'ready') results.push(patch.run.value);
      for (const listener of listeners) listener(state, previous);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  state.notify = (lines) => store.setState({ notices: [...state.notices, ...lines] });
  return { store, results };
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function pipelineWith(steer: Steer, initial: Partial<AppState>, adapter: AdapterStatus = SOFTWARE) {
  const { client, close } = computeOverChannel(steer);
  const { store, results } = fakeStore(initial);
  const deps: PipelineDeps = { store, compute: client, probeAdapter: async () => adapter, fetchBytes: nodeFetch, modelsUrl: MODELS_URL, now: () => performance.now() };
  const stop = startPipeline(deps);
  cleanups.push(() => (stop(), close()));
  return { store, results };
}

/** After the first result and its check: holds the runner, makes `change`, and returns once its run is in the runner. */
async function holdARun(store: StoreLike, steer: Steer, change: Partial<AppState>): Promise<() => void> {
  await until(() => store.getState().run.status === 'ready', 'the first result');
  await until(() => store.getState().agreement.status === 'ready', 'the check, which also runs');
  let open!: () => void;
  steer.gate = new Promise((resolve) => (open = resolve));
  const runsBefore = steer.runs.length;
  store.setState(change);
  await until(() => steer.runs.length > runsBefore, 'the held run to reach the runner');
  return () => {
    steer.gate = undefined;
    open();
  };
}

const newSteer = (): Steer => ({ created: [], runs: [], fail: new Set(), slowStart: new Map(), holdStart: new Set() });
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

describe('pipeline jobs over the compute service', () => {
  it('shows the default model on the chosen engine, measured in the worker', async () => {
    const steer = newSteer();
    const { store } = pipelineWith(steer, { engine: 'cpu' });
    await until(() => store.getState().run.status === 'ready', 'the first result');
    const result = (store.getState().run as { value: RunResult }).value;
    expect(result.engine).toBe('cpu');
    expect(result.modelId).toBe('digits');
    expect(result.layers).toHaveLength(result.model.depth);
    expect(result.top).toHaveLength(5);
    expect(result.outputs.layers).toHaveLength(result.model.depth);
  });

  it('cancels a superseded sample in the worker and never shows it', async () => {
    const steer = newSteer();
    const { store, results } = pipelineWith(steer, { engine: 'cpu' });
    const release = await holdARun(store, steer, { sample: 1 });
    store.setState({ sample: 2 });
    release();
    await until(() => results.some((r) => r.sampleIndex === 2), 'sample 2');
    expect(results.map((r) => r.sampleIndex)).not.toContain(1);
    expect(results.at(-1)!.sampleIndex).toBe(2);
  });

  it('falls back to another engine when the chosen one fails, and says so', async () => {
    const steer = newSteer();
    steer.fail.add('wgsl');
    const { store } = pipelineWith(steer, { engine: 'wgsl' });
    await until(() => store.getState().run.status === 'ready', 'a result');
    const result = (store.getState().run as { value: RunResult }).value;
    expect(result.engine).toBe('ort-wasm');
    expect(result.engineReason).toContain('failed');
    expect(store.getState().notices.join(' ')).toContain('wgsl lost its device');
  });

  it('ends on the new model when the model changes in the middle of a run', async () => {
    const steer = newSteer();
    const { store, results } = pipelineWith(steer, { engine: 'cpu' });
    const release = await holdARun(store, steer, { sample: 3 });
    store.setState({ model: 'fashion', sample: 0 });
    release();
    await until(() => results.at(-1)?.modelId === 'fashion', 'the fashion result');
    expect(results.filter((r) => r.sampleIndex === 3)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(store.getState().run.status === 'ready' && (store.getState().run as { value: RunResult }).value.modelId).toBe('fashion');
  });

  it('runs the first image on our engine while onnxruntime-web starts, then switches to it', async () => {
    const steer = newSteer();
    steer.holdStart.add('ort-wasm');
    const { store, results } = pipelineWith(steer, {});
    await until(() => results.length === 1, 'the first result');
    // The digits model is small, so the CPU reference answers sooner than any engine that must start.
    expect(results[0].engine).toBe('cpu');
    expect(results[0].engineReason).toContain('was still starting');
    // ORT starts as the first image's check, after the result; once it is up, the next image runs on it.
    await until(() => steer.slowStart.has('ort-wasm'), 'ORT to be asked for');
    steer.slowStart.get('ort-wasm')!();
    await until(() => store.getState().agreement.status === 'ready', 'the check');
    store.setState({ sample: 1 });
    await until(() => results.length === 2, 'the second result');
    expect(results[1].engine).toBe('ort-wasm');
  });
});

describe('the RPC', () => {
  it('rejects an aborted call with AbortError and aborts the handler', async () => {
    const channel = new MessageChannel();
    let handlerSignal: AbortSignal | undefined;
    serve<{ slow(arg: number): Promise<number> }>(channel.port1 as never, {
      slow: (arg, { signal }) =>
        new Promise((resolve, reject) => {
          handlerSignal = signal;
          signal.addEventListener('abort', () => reject(new Error('stopped')));
          setTimeout(() => resolve(arg), 5_000);
        }),
    });
    const client = connect<{ slow(arg: number): Promise<number> }>(channel.port2 as never, ['slow']);
    const controller = new AbortController();
    const call = client.slow(1, { signal: controller.signal });
    await until(() => handlerSignal !== undefined, 'the handler');
    controller.abort();
    const error = await call.catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    await until(() => handlerSignal!.aborted, 'the handler to see the abort');
    channel.port1.close();
    channel.port2.close();
  });

  it('hands tensors over without a copy and keeps error names', async () => {
    const channel = new MessageChannel();
    serve<{ make(n: number): Promise<Float32Array>; fail(n: number): Promise<void> }>(
      channel.port1 as never,
      {
        make: async (n) => new Float32Array(n).fill(2),
        fail: async () => {
          const error = new Error('NaN in layer 2');
          error.name = 'NonFiniteOutputsError';
          throw error;
        },
      },
      (method, value) => (method === 'make' ? [(value as Float32Array).buffer] : []),
    );
    const client = connect<{ make(n: number): Promise<Float32Array>; fail(n: number): Promise<void> }>(channel.port2 as never, ['make', 'fail']);
    const made = await client.make(8);
    expect(Array.from(made)).toEqual(new Array(8).fill(2));
    const error = (await client.fail(0).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('NonFiniteOutputsError');
    expect(error.message).toBe('NaN in layer 2');
    channel.port1.close();
    channel.port2.close();
  });
});
