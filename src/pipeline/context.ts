/**
 * What the pipeline's jobs share: the store, the compute worker's client,
 * the adapter probe, and the main thread's record of models (their
 * summaries, not their weights: those live in the worker). Every
 * dependency is injected, so the jobs run in Node tests against an
 * in-process compute service (test/unit/pipelineJobs.test.ts).
 */
import type { EngineKind } from '../engine/runner.ts';
import type { Manifest } from '../models/manifest.ts';
import type { AdapterStatus } from '../runners/adapter.ts';
import type { AppState, LocalModelInfo, ModelFileRequest, RunResult } from '../state/store.ts';
import type { ModelInfo } from '../worker/computeApi.ts';
import type { Client } from '../worker/rpc.ts';
import type { ComputeApi } from '../worker/computeApi.ts';
import type { LocalModel, ModelSource } from './modelSource.ts';

export interface StoreLike {
  getState(): AppState;
  setState(patch: Partial<AppState>): void;
  subscribe(listener: (state: AppState, previous: AppState) => void): () => void;
}

export interface PipelineDeps {
  store: StoreLike;
  compute: Client<ComputeApi>;
  probeAdapter(): Promise<AdapterStatus>;
  /** Fetches the manifest (the models themselves are fetched by the worker). */
  fetchBytes(url: string): Promise<Uint8Array>;
  /** Absolute URL of public/models/. */
  modelsUrl: string;
  now(): number;
}

/** The model in use and its last result, kept for dataset mode, the check engine and new segmentation settings. */
export interface Current {
  source: ModelSource;
  info: ModelInfo;
  engine: EngineKind;
  reference?: EngineKind;
  result: RunResult;
}

export interface PipelineContext extends PipelineDeps {
  adapter: Promise<AdapterStatus>;
  manifest?: Manifest;
  /** Model summaries by key; the worker holds the weights under the same key. */
  infos: Map<string, Promise<ModelInfo>>;
  /** The last model that loaded; a model that fails to load falls back to it. */
  lastGoodModel?: string;
  /** The model opened from a file (one at a time; a new file replaces it). */
  local?: LocalModel & { request: ModelFileRequest; localInfo: LocalModelInfo };
  current?: Current;
  notify(message: string): void;
}
