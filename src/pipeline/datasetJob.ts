/**
 * Dataset mode and the sample tensors, as jobs over the worker: every image
 * of the set (or the user's own images) through the engine in use, then the
 * statistics. The worker keeps the measured images, so new segmentation
 * settings or toggling back need no forward pass.
 */
import { ENGINE_LABELS } from '../engine/runner.ts';
import { SAMPLE_TENSOR_IMAGES } from '../dataset/sampleTensors.ts';
import { quote } from '../state/urlState.ts';
import type { DatasetRequest } from '../worker/computeApi.ts';
import { isAbortError } from '../worker/rpc.ts';
import type { Current, PipelineContext } from './context.ts';
import { deferredLoading } from './deferredLoading.ts';
import { segmentationOf } from './runImageJob.ts';

/** The preprocessing is part of the key: another choice gives other inputs. */
export function datasetKeyOf(ctx: PipelineContext, c: Current): string {
  const s = ctx.store.getState();
  return `${c.result.modelId}|${c.engine}|${c.source.samplesFrom?.id ?? ''}|${s.datasetImages?.id ?? ''}|${c.result.preprocessing?.kind ?? ''}`;
}

export async function datasetJob(ctx: PipelineContext, c: Current, signal: AbortSignal): Promise<void> {
  const { store } = ctx;
  const loading = deferredLoading((state) => store.setState({ datasetStats: state }), signal);
  try {
    // The user's own images when they brought some, else the model's sample set.
    const s = store.getState();
    const own = s.datasetImages;
    const set = c.source.samplesFrom?.samples;
    if (!own && (!set || set.count === 0)) throw new Error(`model ${quote(c.source.name)} has no sample set to average over`);
    const ownNote = own && `your ${own.images.length} images${own.skipped.length ? ` (${own.skipped.length} file${own.skipped.length === 1 ? '' : 's'} skipped)` : ''}, with no labels or masks, so there is no accuracy and no IoU`;
    const standIn = c.source.ownSamples ? undefined : `no samples ship with this model: these are stand-in images from ${c.source.samplesFrom!.name}, with no labels or masks for it, so there is no accuracy and no IoU`;
    const images: DatasetRequest['images'] = own ? { kind: 'own', images: own.images } : { kind: 'samples', set: set!, own: c.source.ownSamples };
    loading.update({ message: `Dataset: running images on ${ENGINE_LABELS[c.engine]}…`, fraction: 0 });
    const stats = await ctx.compute.runDataset(
      { key: c.result.modelId, engine: c.engine, prep: s.prep, adapter: await ctx.adapter, images, seg: segmentationOf(s), note: own ? ownNote : standIn },
      { signal, onProgress: (p) => loading.update(p) },
    );
    if (signal.aborted) return;
    loading.done();
    store.setState({ datasetStats: { status: 'ready', value: stats } });
  } catch (error) {
    if (signal.aborted || isAbortError(error)) return;
    store.setState({ datasetStats: { status: 'error', message: `Dataset mode failed: ${error instanceof Error ? error.message : String(error)}` } });
  } finally {
    loading.done();
  }
}

/** New segmentation settings over the images the worker kept: no forward pass. */
export async function datasetSegmentationJob(ctx: PipelineContext, c: Current, signal: AbortSignal): Promise<boolean> {
  const stats = await ctx.compute.datasetForSegmentation({ key: c.result.modelId, seg: segmentationOf(ctx.store.getState()) }, { signal }).catch((error) => {
    if (!isAbortError(error)) throw error;
    return undefined;
  });
  if (!stats || signal.aborted) return false;
  ctx.store.setState({ datasetStats: { status: 'ready', value: stats } });
  return true;
}

export const sampleTensorsKeyOf = (ctx: PipelineContext, c: Current) => `${datasetKeyOf(ctx, c)}|${c.source.ownSamples}`;

/** A few samples' tensors for the views that compare images (dataset/sampleTensors.ts): only while one is shown. */
export async function sampleTensorsJob(ctx: PipelineContext, c: Current, key: string, signal: AbortSignal): Promise<void> {
  const { store } = ctx;
  const set = c.source.samplesFrom?.samples;
  const count = Math.min(SAMPLE_TENSOR_IMAGES, set?.count ?? 0);
  try {
    if (!set || count === 0) throw new Error(`model ${quote(c.source.name)} has no sample images to compare`);
    store.setState({ sampleTensors: { status: 'loading', message: `Running ${count} sample images…`, fraction: 0 } });
    const value = await ctx.compute.sampleTensors(
      { key: c.result.modelId, tensorsKey: key, engine: c.engine, prep: store.getState().prep, set, count },
      { signal, onProgress: (p) => store.setState({ sampleTensors: { status: 'loading', ...p } }) },
    );
    if (!signal.aborted) store.setState({ sampleTensors: { status: 'ready', value } });
  } catch (error) {
    if (signal.aborted || isAbortError(error)) return;
    store.setState({ sampleTensors: { status: 'error', message: `Could not run the sample images: ${error instanceof Error ? error.message : String(error)}` } });
  }
}
