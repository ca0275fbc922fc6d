/**
 * The per-image float64 figures spread over helper workers, one layer per task
 * (docs/ARCHITECTURE.md, "Analysis helpers"). After the GPU forward, these figures
 * are CPU work of the same order as the forward itself (docs/MEASUREMENTS.md §4):
 * four float64 products of N×d by d×d per layer. Layers are independent, so
 * helper h takes layers h, h + H, h + 2H, … one at a time, and the calling thread
 * only joins the answers. One task at a time per helper keeps a superseded image
 * cheap: the pool stops handing out its layers, and each helper finishes at most one.
 *
 * A helper that cannot start or dies makes the pool compute in the calling thread
 * from then on (`fallback`), with the same functions, and say so once (`onNotice`).
 */
import {
  assembleImageFigures,
  keepWeightMeasures,
  knownWeightMeasures,
  layerModel,
  type AnalysedLayer,
  type ImageFigureComputer,
  type LayerImageFigures,
  type LayerModel,
  type ModelWeightMeasures,
} from '../analysis/analyseRun.ts';
import type { AnyCrateModel } from '../engine/alphaModel.ts';
import { ANALYSIS_HELPER_METHODS, MISSING_WEIGHTS, MODELS_HELD, type AnalysisHelperApi, type LayerTask } from './analysisHelper.ts';
import { connect, isAbortError, RemoteError, transferablesOf, type Client } from './rpc.ts';

/** More helpers than this add memory (each holds its layers' weights) for little: 12 layers are 3 rounds of 4. */
export const MAX_ANALYSIS_HELPERS = 4;

/**
 * Below this many float64 multiply-adds per image the figures stay in the calling thread:
 * at the shipped models' size (11–15 M, a few ms) posting the layers out and back, and each
 * helper compiling the code on its own, cost more than the second core gives
 * (docs/MEASUREMENTS.md §4). CRATE-T needs 1.4 G.
 */
export const MIN_SPREAD_MULTIPLY_ADDS = 1e8;

/** The multiply-adds of one image's row products: per layer Z^{ℓ+½}·Uᵀ twice (paper R^c, rate_mssa_out), X·Dᵀ and Z^{ℓ+1}·Dᵀ. */
export function imageMultiplyAdds(model: AnyCrateModel): number {
  const { depth, dim, heads, dim_head: dimHead } = model.config;
  return depth * model.shape.tokens * dim * (2 * heads * dimHead + 2 * dim);
}

/** One helper per core, up to MAX_ANALYSIS_HELPERS; none on one core, where a helper would only add copies. */
export function analysisHelperCount(cores = globalThis.navigator?.hardwareConcurrency ?? 1): number {
  const count = Math.min(Math.max(Math.floor(cores) || 1, 1), MAX_ANALYSIS_HELPERS);
  return count < 2 ? 0 : count;
}

/** A copy of the layer's tensors the figures read, in buffers of their own (a capture's views may share one read-back buffer). */
function tensorsOf(layer: AnalysedLayer): AnalysedLayer {
  return {
    w: layer.w.slice(),
    zHalf: layer.zHalf.slice(),
    zNext: layer.zNext.slice(),
    ...(layer.sparseCode ? { sparseCode: layer.sparseCode.slice() } : {}),
  };
}

/** A copy of a layer's weights to hand over: the model's own arrays stay with the model. */
function weightsOf(model: AnyCrateModel, l: number): LayerModel {
  const m = layerModel(model, l);
  const norm = (n: { weight: Float32Array; bias: Float32Array }) => ({ weight: n.weight.slice(), bias: n.bias.slice() });
  const { mssaNorm, qkv, istaNorm, dictionary } = m.weights;
  return {
    ...m,
    weights: { mssaNorm: norm(mssaNorm), qkv: qkv.slice(), ...(istaNorm ? { istaNorm: norm(istaNorm) } : {}), ...(dictionary ? { dictionary: dictionary.slice() } : {}) },
  };
}

/** The helpers' clients, or how to start them: started on the first image worth spreading, so a session of small models never starts one. */
export type HelperClients = readonly Client<AnalysisHelperApi>[] | { count: number; start(): readonly Client<AnalysisHelperApi>[] };

export class AnalysisPool {
  private started: readonly Client<AnalysisHelperApi>[] | undefined;
  private readonly modelIds = new WeakMap<object, number>();
  private nextModel = 1;
  /** Per helper, the layers it was last known to hold, per model number. */
  private readonly held: Map<number, Set<number>>[];
  private broken: string | undefined;
  private crashed: (reason: string) => void = () => {};
  private readonly crash = this.newCrash();

  constructor(
    private readonly clients: HelperClients,
    private readonly fallback: ImageFigureComputer,
    private readonly onNotice: (message: string) => void = () => {},
    private readonly minMultiplyAdds = MIN_SPREAD_MULTIPLY_ADDS,
  ) {
    this.held = Array.from({ length: this.count }, () => new Map());
  }

  /** How many helpers the pool spreads over (started or not); 0 once one has failed. */
  get size(): number {
    return this.broken ? 0 : this.count;
  }

  private get count(): number {
    return 'start' in this.clients ? this.clients.count : this.clients.length;
  }

  private get helpers(): readonly Client<AnalysisHelperApi>[] {
    this.started ??= 'start' in this.clients ? this.clients.start() : this.clients;
    return this.started;
  }

  /** A helper failed (an error event of its worker): every call from now on runs in the calling thread. */
  fail(reason: string): void {
    if (this.broken) return;
    this.broken = reason;
    this.crashed(reason);
    this.onNotice(`${reason}; the figures are computed without helpers from now on`);
  }

  /** How many helpers an image of `model` is spread over: 0 where it stays in the calling thread. */
  helpersFor(model: AnyCrateModel): number {
    return imageMultiplyAdds(model) < this.minMultiplyAdds ? 0 : this.size;
  }

  /** Every figure of one image (an ImageFigureComputer), the layers spread over the helpers. */
  readonly compute: ImageFigureComputer = async (model, outputs, options, signal) => {
    if (this.helpersFor(model) === 0) return this.fallback(model, outputs, options, signal);
    let helpers: readonly Client<AnalysisHelperApi>[];
    try {
      helpers = this.helpers;
    } catch (error) {
      this.fail(`the analysis helpers could not start (${(error as Error).message})`);
      return this.fallback(model, outputs, options, signal);
    }
    try {
      return await Promise.race([this.spread(helpers, model, outputs, options, signal), this.crash]);
    } catch (error) {
      if (!this.broken || isAbortError(error)) throw error;
      return this.fallback(model, outputs, options, signal);
    }
  };

  private async spread(helpers: readonly Client<AnalysisHelperApi>[], ...[model, outputs, options, signal]: Parameters<ImageFigureComputer>) {
    const id = this.idOf(model);
    const known = knownWeightMeasures(model);
    const depth = outputs.layers.length;
    const perLayer: LayerImageFigures[] = new Array(depth);
    const weights: ModelWeightMeasures[] = new Array(depth);
    const { epsSquared, paperRate, expansionRate } = options;
    const layerOptions = { epsSquared, paperRate, expansionRate };
    await Promise.all(
      helpers.map(async (helper, h) => {
        for (let l = h; l < depth; l += helpers.length) {
          signal?.throwIfAborted();
          const answer = await this.send(helper, this.heldBy(h, id), model, l, (task) => ({ ...task, tensors: tensorsOf(outputs.layers[l]), options: layerOptions, weightMeasures: !known }), signal);
          perLayer[l] = answer.figures;
          if (answer.weights) weights[l] = answer.weights;
        }
      }),
    );
    return assembleImageFigures(model, outputs, perLayer, known ?? keepWeightMeasures(model, weights), options);
  }

  /**
   * Layer `l`'s task, its weights with it the first time and again if the helper no longer
   * holds them (`task` makes a fresh one each time: a sent task's buffers are handed over).
   */
  private async send(
    helper: Client<AnalysisHelperApi>,
    held: Set<number>,
    model: AnyCrateModel,
    l: number,
    task: (base: Pick<LayerTask, 'model' | 'layer' | 'layerModel'>) => LayerTask,
    signal: AbortSignal | undefined,
  ) {
    const post = (withWeights: boolean) => {
      const t = task({ model: this.idOf(model), layer: l, ...(withWeights ? { layerModel: weightsOf(model, l) } : {}) });
      return helper.layer(t, { signal, transfer: transferablesOf([t.tensors, t.layerModel?.weights]) });
    };
    let answer;
    try {
      answer = await post(!held.has(l));
    } catch (error) {
      if (!(error instanceof RemoteError && error.name === MISSING_WEIGHTS)) throw error;
      answer = await post(true);
    }
    held.add(l);
    return answer;
  }

  private heldBy(helper: number, model: number): Set<number> {
    const byModel = this.held[helper];
    let layers = byModel.get(model);
    if (!layers) {
      byModel.set(model, (layers = new Set()));
      if (byModel.size > MODELS_HELD) byModel.delete(byModel.keys().next().value!);
    }
    return layers;
  }

  private idOf(model: AnyCrateModel): number {
    let id = this.modelIds.get(model.weights);
    if (id === undefined) this.modelIds.set(model.weights, (id = this.nextModel++));
    return id;
  }

  private newCrash(): Promise<never> {
    const crash = new Promise<never>((_, reject) => {
      this.crashed = (reason) => reject(new Error(reason));
    });
    crash.catch(() => {}); // a crash with no image in flight is no unhandled rejection
    return crash;
  }
}

/**
 * Helper workers for the page or a worker (analysisHelperWorker.ts), one per core unless
 * `count` says, started with the first image worth spreading; no pool (undefined) where
 * there are no workers or fewer than two cores. A worker that cannot be made (a thrown
 * constructor) or fails to start (its error event) makes the pool compute in the calling thread.
 */
export function startAnalysisPool(
  fallback: ImageFigureComputer,
  onNotice: (message: string) => void,
  { count = analysisHelperCount(), minMultiplyAdds = MIN_SPREAD_MULTIPLY_ADDS }: { count?: number; minMultiplyAdds?: number } = {},
): AnalysisPool | undefined {
  if (typeof Worker === 'undefined' || count < 1) return undefined;
  const pool: AnalysisPool = new AnalysisPool(
    {
      count,
      start: () =>
        Array.from({ length: count }, (_, i) => {
          const worker = new Worker(new URL('./analysisHelperWorker.ts', import.meta.url), { type: 'module', name: `crate-analysis-${i + 1}` });
          worker.addEventListener('error', (event) => pool.fail(`an analysis helper failed: ${event.message || 'it could not start'}`));
          return connect<AnalysisHelperApi>(worker, ANALYSIS_HELPER_METHODS);
        }),
    },
    fallback,
    onNotice,
    minMultiplyAdds,
  );
  return pool;
}
