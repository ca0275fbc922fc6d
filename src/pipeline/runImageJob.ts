/**
 * One image through the model the selection names: the model's summary
 * (downloaded and parsed in the worker the first time), the image (a shipped
 * sample, decoded in the worker, or the user's upload or drawing), the run
 * and its measures (in the worker), then one store update. A newer selection
 * aborts this job's signal; nothing is applied after that.
 */
import { ENGINE_LABELS } from '../engine/runner.ts';
import { resolveInputSize, type InputSizeConfig } from '../image/inputSize.ts';
import { applyStoredLabels } from '../models/labels.ts';
import { samplesFor } from '../models/sampleSet.ts';
import type { AppState, RunResult } from '../state/store.ts';
import { quote } from '../state/urlState.ts';
import type { ImageRequest, ModelInfo } from '../worker/computeApi.ts';
import { isAbortError } from '../worker/rpc.ts';
import type { PipelineContext } from './context.ts';
import { deferredLoading } from './deferredLoading.ts';
import { resolveSource, type ModelSource } from './modelSource.ts';

export const segmentationOf = (s: Pick<AppState, 'seg' | 'p' | 'tau'>) => ({ seg: s.seg, p: s.p, tau: s.tau });

function loadInfo(ctx: PipelineContext, source: ModelSource, onProgress: Parameters<PipelineContext['compute']['loadModel']>[1]): Promise<ModelInfo> {
  let promise = ctx.infos.get(source.key);
  if (!promise) {
    promise = ctx.compute.loadModel({ key: source.key, name: source.name, url: source.url, expectedBytes: source.expectedBytes }, onProgress);
    promise.catch(() => ctx.infos.delete(source.key));
    ctx.infos.set(source.key, promise);
  }
  return promise;
}

export async function runImageJob(ctx: PipelineContext, signal: AbortSignal): Promise<void> {
  const { store } = ctx;
  const manifest = ctx.manifest!;
  const s = store.getState();
  // A link cannot carry an upload or a drawing: fall back to the sample the link names.
  if (s.source !== 'sample' && s.localImage?.source !== s.source) {
    ctx.notify(`the image was local to the sender's browser; showing sample ${s.sample} instead`);
    store.setState({ source: 'sample' });
    return; // the correction triggers another run
  }
  const choice = resolveSource(manifest, ctx.modelsUrl, s, ctx.local, ctx.lastGoodModel);
  if ('correction' in choice) {
    ctx.notify(choice.notice);
    store.setState(choice.correction);
    return;
  }
  const { source } = choice;
  const { sample: sampleIndex, source: imageSource, localImage } = s;
  const loading = deferredLoading((state) => store.setState({ run: state }), signal);
  try {
    loading.update({ message: `Downloading ${source.name}…`, fraction: 0 });
    let info: ModelInfo;
    try {
      info = await loadInfo(ctx, source, { onProgress: (p) => loading.update(p) });
    } catch (error) {
      if (signal.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      if (ctx.lastGoodModel && ctx.lastGoodModel !== source.key) {
        // Keep the current view: report the problem and go back to the model that works.
        ctx.notify(`${message}; keeping ${quote(ctx.lastGoodModel)}`);
        store.setState({ model: ctx.lastGoodModel });
        return;
      }
      store.setState({ run: { status: 'error', message } });
      return;
    }
    if (signal.aborted) return;
    // A side this model cannot take (from a link, or kept from another model): its own, said once (image/inputSize.ts).
    const size = resolveInputSize(info.config as InputSizeConfig, s.size);
    if (size.notice) {
      ctx.notify(size.notice);
      store.setState({ size: 0 });
      return; // the correction triggers another run
    }
    const samplesFrom = source.ownSamples ? source.samplesFrom : samplesFor(manifest, info);
    // A local model is not a link target: falling back to it would put "local-file" in a link.
    if (source.key !== ctx.local?.key) ctx.lastGoodModel = source.key;
    let image: ImageRequest;
    if (imageSource === 'sample') {
      const set = samplesFrom?.samples;
      if (!set || set.count === 0) {
        store.setState({ run: { status: 'error', message: `model ${quote(source.name)} has no sample images` } });
        return;
      }
      if (sampleIndex >= set.count) {
        ctx.notify(`model ${quote(source.name)} has ${set.count} samples, so sample ${sampleIndex} does not exist; showing sample 0`);
        store.setState({ sample: 0 });
        return;
      }
      image = { kind: 'sample', set, index: sampleIndex, own: source.ownSamples };
    } else {
      image = { kind: 'pixels', image: localImage!.image };
    }
    const adapter = await ctx.adapter;
    if (signal.aborted) return;
    const run = await ctx.compute.runImage(
      { key: source.key, image, prep: s.prep, size: size.native ? undefined : size.side, choice: s.engine, adapter, seg: segmentationOf(store.getState()) },
      { signal, onProgress: (p) => loading.update(p) },
    );
    if (signal.aborted) return;
    for (const notice of run.notices) ctx.notify(notice);
    const result: RunResult = {
      modelId: source.key,
      sampleIndex,
      model: run.resized ? { ...info.summary, ...run.resized, ownImageSize: info.summary.imageSize } : info.summary,
      image: run.image,
      preprocessing: run.preprocessing,
      sourceImage: run.sourceImage,
      label: run.label,
      mask: run.mask,
      top: run.top,
      layers: run.layers,
      outputs: run.outputs,
      forwardMillis: run.forwardMillis,
      analysisMillis: run.analysisMillis,
      engine: run.engine,
      engineReason: run.reason,
      source: imageSource,
      inputName: imageSource === 'sample' ? undefined : localImage?.name,
      samplesFrom: samplesFrom?.id,
    };
    // The user's class names for a model without its own (models/labels.ts).
    applyStoredLabels(result);
    const { layer } = store.getState();
    const depth = info.summary.depth;
    if (layer >= depth) ctx.notify(`model ${quote(source.name)} has ${depth} layers, so layer ${layer} does not exist; showing layer 0`);
    ctx.current = { source: { ...source, samplesFrom }, info, engine: run.engine, reference: run.reference, result };
    const patch: Partial<AppState> = { run: { status: 'ready', value: result }, runProblem: undefined, layer: layer >= depth ? 0 : layer };
    const local = ctx.local;
    if (local && source.key === local.key && local.localInfo.firstResultMillis === undefined) {
      local.localInfo = { ...local.localInfo, firstResultMillis: ctx.now() - local.request.startedAt };
      patch.localModel = local.localInfo;
    }
    loading.done();
    store.setState(patch);
  } catch (error) {
    if (signal.aborted || isAbortError(error)) return;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Error && error.name === 'NonFiniteOutputsError') {
      // A result, not a crash: the view of the last image that had one stays.
      const what = imageSource === 'sample' ? `sample ${sampleIndex} on ${source.name}` : `${localImage?.name ?? `your ${imageSource}`} on ${source.name}`;
      if (ctx.current) {
        ctx.notify(`no result for ${what}: ${message}`);
        store.setState({ run: { status: 'ready', value: ctx.current.result }, runProblem: { what, message } });
        return;
      }
      store.setState({ run: { status: 'error', message: `No result for ${what}: ${message}` } });
      return;
    }
    store.setState({ run: { status: 'error', message } });
  } finally {
    loading.done();
  }
}


/** The check: the same image on an independent engine, after the result is on screen. */
export async function compareJob(ctx: PipelineContext, signal: AbortSignal): Promise<void> {
  const { store } = ctx;
  const c = ctx.current;
  if (!c) return;
  const reference = c.reference;
  if (!reference) {
    store.setState({ agreement: { status: 'error', message: 'no second engine can run this model, so there is nothing to compare with' } });
    return;
  }
  store.setState({ agreement: { status: 'loading', message: `Checking against ${ENGINE_LABELS[reference]}…` } });
  try {
    const value = await ctx.compute.compare({ key: c.result.modelId, reference }, { signal });
    if (!signal.aborted) store.setState({ agreement: { status: 'ready', value } });
  } catch (error) {
    if (signal.aborted || isAbortError(error)) return;
    const message = (error as Error).message;
    store.setState({ agreement: { status: 'error', message: message.startsWith('the only second engine') ? message : `${ENGINE_LABELS[reference]} failed: ${message}` } });
  }
}

