/**
 * Turns the selection into results (docs/ARCHITECTURE.md, "The flow"): the
 * thin wiring between the store and the jobs. Each kind of work (the image
 * run, its check, a model file, dataset mode, the sample tensors, new
 * segmentation settings) has one AbortController: a newer request of the
 * same kind aborts the older one, which cancels it in the compute worker
 * too. The jobs (runImageJob.ts, modelFileJob.ts, datasetJob.ts) do the
 * work; the compute worker (src/worker/) does everything heavy.
 */
import { LoadError, fetchBytes } from '../fetching/fetchBytes.ts';
import { parseManifest } from '../models/manifest.ts';
import { LOCAL_MODEL_ID } from '../models/modelFile.ts';
import { probeAdapter } from '../runners/adapter.ts';
import { needsSampleTensors } from '../dataset/sampleTensors.ts';
import { segmentationKey } from '../dataset/dataset.ts';
import { useApp, type AppState } from '../state/store.ts';
import { startComputeWorker } from '../worker/computeClient.ts';
import type { PipelineContext, PipelineDeps } from './context.ts';
import { datasetJob, datasetKeyOf, datasetSegmentationJob, sampleTensorsJob, sampleTensorsKeyOf } from './datasetJob.ts';
import { modelFileJob } from './modelFileJob.ts';
import { compareJob, runImageJob, segmentationOf } from './runImageJob.ts';

/** One controller per kind of job: `next` aborts the running one and hands out a fresh signal. */
class Latest {
  private controller?: AbortController;
  next(): AbortSignal {
    this.controller?.abort();
    this.controller = new AbortController();
    return this.controller.signal;
  }
  cancel(): void {
    this.controller?.abort();
    this.controller = undefined;
  }
}

/** The browser's dependencies: the real store, the compute worker, the adapter probe and fetch. */
export function browserPipelineDeps(): PipelineDeps {
  const store = useApp;
  return {
    store,
    compute: startComputeWorker((message) => store.getState().notify([message])),
    probeAdapter,
    fetchBytes: (url) => fetchBytes(url),
    modelsUrl: new URL(`${import.meta.env.BASE_URL}models/`, location.href).href,
    now: () => performance.now(),
  };
}

/** Starts everything; returns a function that stops listening to the store. */
export function startPipeline(deps: PipelineDeps = browserPipelineDeps()): () => void {
  const { store } = deps;
  const adapter = deps.probeAdapter().then((status) => {
    store.setState({ adapter: status });
    return status;
  });
  const ctx: PipelineContext = { ...deps, adapter, infos: new Map(), notify: (message) => store.getState().notify([message]) };
  const runs = new Latest();
  const checks = new Latest();
  const files = new Latest();
  const datasets = new Latest();
  const tensors = new Latest();
  const segmentations = new Latest();
  /** What dataset mode and the sample tensors last ran (or are running) for, so a repeated store change starts nothing. */
  let datasetFor: { key: string; segKey: string } | undefined;
  let tensorsFor: string | undefined;

  const run = async () => {
    const signal = runs.next();
    checks.cancel();
    const before = ctx.current?.result;
    await runImageJob(ctx, signal);
    if (!signal.aborted && ctx.current && ctx.current.result !== before) void compareJob(ctx, checks.next());
  };

  const updateDataset = () => {
    const s = store.getState();
    if (!s.dataset) {
      if (datasetFor || s.datasetStats.status !== 'idle') {
        datasetFor = undefined;
        datasets.cancel();
        store.setState({ datasetStats: { status: 'idle' } });
      }
      return;
    }
    const c = ctx.current;
    if (!c || s.run.status !== 'ready' || s.run.value !== c.result) return; // waits for the model's first result
    const key = datasetKeyOf(ctx, c);
    const segKey = segmentationKey(segmentationOf(s));
    if (datasetFor?.key === key && datasetFor.segKey === segKey) return;
    const sameImages = datasetFor?.key === key && s.datasetStats.status === 'ready';
    datasetFor = { key, segKey };
    const signal = datasets.next();
    // The same images under new segmentation settings: the worker's kept maps, no forward pass.
    if (sameImages) {
      void datasetSegmentationJob(ctx, c, signal).then((done) => {
        if (!done && !signal.aborted) void datasetJob(ctx, c, signal);
      });
    } else void datasetJob(ctx, c, signal);
  };

  /** New seg/P/τ: the current image's IoUs (one image, cheap) and the dataset's, from kept maps. */
  const updateSegmentation = () => {
    const s = store.getState();
    const c = ctx.current;
    if (c && s.run.status === 'ready' && s.run.value === c.result && c.result.mask) {
      const signal = segmentations.next();
      void ctx.compute
        .imageIoUs({ key: c.result.modelId, seg: segmentationOf(s) }, { signal })
        .then((ious) => {
          if (signal.aborted || !ious || ctx.current !== c) return;
          // A new RunResult around the same outputs: the views' figures are cached per outputs
          // (state/derived.ts), so a new P or τ recomputes no attention map or PCA.
          const result = { ...c.result, layers: c.result.layers.map((l, i) => ({ ...l, iou: ious[i] })) };
          ctx.current = { ...c, result };
          store.setState({ run: { status: 'ready', value: result } });
        })
        .catch(() => {});
    }
    updateDataset();
  };

  const updateSampleTensors = () => {
    const s = store.getState();
    const c = ctx.current;
    if (!needsSampleTensors(s) || !c || s.run.status !== 'ready' || s.run.value !== c.result) return;
    const key = sampleTensorsKeyOf(ctx, c);
    if (tensorsFor === key || (s.sampleTensors.status === 'ready' && s.sampleTensors.value.key === key)) return;
    tensorsFor = key;
    const signal = tensors.next();
    void sampleTensorsJob(ctx, c, key, signal).finally(() => {
      if (tensorsFor === key && !signal.aborted) tensorsFor = undefined;
    });
  };

  const loadManifest = async () => {
    store.setState({ manifest: { status: 'loading', message: 'Loading the list of models…' } });
    try {
      const bytes = await deps.fetchBytes(`${deps.modelsUrl}manifest.json`);
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch (error) {
        throw new LoadError(`models/manifest.json is not valid JSON: ${(error as Error).message}`);
      }
      ctx.manifest = parseManifest(json);
      store.setState({ manifest: { status: 'ready', value: ctx.manifest } });
      void run();
    } catch (error) {
      const message = `Could not load the model list: ${error instanceof Error ? error.message : String(error)}`;
      store.setState({ manifest: { status: 'error', message }, run: { status: 'error', message } });
    }
  };

  const needsRun = (s: AppState, previous: AppState) =>
    s.model !== previous.model ||
    s.sample !== previous.sample ||
    s.engine !== previous.engine ||
    s.source !== previous.source ||
    s.prep !== previous.prep ||
    s.size !== previous.size ||
    (s.source !== 'sample' && s.localImage !== previous.localImage) ||
    (s.model === LOCAL_MODEL_ID && s.localModel?.key !== previous.localModel?.key);

  const unsubscribe = store.subscribe((s, previous) => {
    if (s.modelFileRequest && s.modelFileRequest !== previous.modelFileRequest) void modelFileJob(ctx, s.modelFileRequest, files.next());
    if (s.manifest.status !== 'ready') return;
    if (s.retuneRequest !== previous.retuneRequest && ctx.current) {
      // The engine panel's "retune": time the kernel variants again, then show the image on the new choice.
      const key = ctx.current.result.modelId;
      store.setState({ retuning: { status: 'loading', message: 'Timing the kernel variants on this adapter…', fraction: 0 } });
      void ctx.compute
        .retune({ key }, { onProgress: (p) => store.setState({ retuning: { status: 'loading', ...p } }) })
        .then(async () => {
          await run();
          store.setState({ retuning: { status: 'ready', value: true } });
        })
        .catch((error) => store.setState({ retuning: { status: 'error', message: `Retuning failed: ${(error as Error).message}` } }));
    }
    if (needsRun(s, previous)) void run();
    if (s.seg !== previous.seg || s.p !== previous.p || s.tau !== previous.tau) updateSegmentation();
    else if (s.dataset !== previous.dataset || s.run !== previous.run || s.datasetImages !== previous.datasetImages) updateDataset();
    if (s.view !== previous.view || s.pca !== previous.pca || s.run !== previous.run) updateSampleTensors();
  });
  void loadManifest();
  return () => {
    unsubscribe();
    for (const latest of [runs, checks, files, datasets, tensors, segmentations]) latest.cancel();
  };
}
