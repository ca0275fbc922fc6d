/**
 * A model file the user opened: the File goes to the worker, which reads and
 * parses it with byte progress; on success the model is selected, on
 * failure one line says why and the current model and view stay.
 */
import { LOCAL_MODEL_ID } from '../models/modelFile.ts';
import type { LocalModelInfo, ModelFileRequest } from '../state/store.ts';
import { quote } from '../state/urlState.ts';
import { isAbortError } from '../worker/rpc.ts';
import type { PipelineContext } from './context.ts';
import { deferredLoading } from './deferredLoading.ts';

let localCount = 0;

export async function modelFileJob(ctx: PipelineContext, request: ModelFileRequest, signal: AbortSignal): Promise<void> {
  const { store } = ctx;
  const label = request.name.split(/[\\/]/).pop()!.slice(0, 80) || 'the file';
  const loading = deferredLoading((state) => store.setState({ modelFile: state }), signal);
  try {
    loading.update({ message: `Reading ${label}…`, fraction: 0, bytes: { received: 0, total: request.file.size } });
    const key = `${LOCAL_MODEL_ID}#${++localCount}`;
    const info = await ctx.compute.openModelFile({ key, name: label, file: request.file, heads: request.heads, replaces: ctx.local?.key }, { signal, onProgress: (p) => loading.update(p) });
    if (signal.aborted) return;
    if (ctx.local) ctx.infos.delete(ctx.local.key);
    ctx.infos.set(key, Promise.resolve(info));
    const localInfo: LocalModelInfo = {
      key,
      name: label,
      bytes: info.summary.bytes,
      format: info.format!,
      configFrom: info.configFrom!,
      notes: info.notes,
      heads: info.summary.heads,
      headChoices: info.headChoices,
      innerDim: info.shape.innerDim,
      readMillis: info.readMillis ?? 0,
      parseMillis: info.parseMillis ?? 0,
    };
    ctx.local = { key, name: label, info, request, localInfo };
    loading.done();
    // model → LOCAL_MODEL_ID (or a new key behind it) triggers the run through the subscription.
    store.setState({ modelFile: { status: 'ready', value: localInfo }, localModel: localInfo, model: LOCAL_MODEL_ID });
  } catch (error) {
    if (signal.aborted || isAbortError(error)) return;
    loading.done();
    const message = error instanceof Error ? error.message : String(error);
    const s = store.getState();
    const keeping = s.run.status === 'ready' ? `; keeping ${quote(s.model === LOCAL_MODEL_ID ? (ctx.local?.name ?? '') : s.model)}` : '';
    // One line, and the current model and view stay as they are.
    ctx.notify(`${message}${keeping}`);
    store.setState({ modelFile: { status: 'error', message } });
  } finally {
    loading.done();
  }
}
