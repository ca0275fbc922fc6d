/**
 * The analysis helpers (src/worker/analysisPool.ts, analysisHelper.ts) over real MessageChannels,
 * as the workers talk: the same figures as the calling thread, to the last bit, for CRATE and
 * CRATE-α; each layer's weights sent once per model; a helper that lost them gets them again; a
 * superseded image stops handing out layers; a helper that dies leaves the work to the calling
 * thread, said once.
 */
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { analyseImageOutputs, type ImageFigureComputer, type ImageFigureOptions } from '../../src/analysis/analyseRun.ts';
import type { AnyCrateModel } from '../../src/engine/alphaModel.ts';
import { alphaCpuForward } from '../../src/engine/cpu/alphaReference.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { ANALYSIS_HELPER_METHODS, createAnalysisHelper, type AnalysisHelperApi, type LayerTask } from '../../src/worker/analysisHelper.ts';
import { AnalysisPool, MIN_SPREAD_MULTIPLY_ADDS, analysisHelperCount, imageMultiplyAdds } from '../../src/worker/analysisPool.ts';
import { connect, serve, type Handlers } from '../../src/worker/rpc.ts';
import { alphaFixtureModel, alphaFixtureNames, loadAlphaFixture } from '../helpers/alphaFixtures.ts';
import { randomImage, randomModel } from '../helpers/randomModel.ts';

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

/** Helpers behind MessageChannels; `tasks` records what each one was sent. */
function helpers(count: number, wrap: (h: Handlers<AnalysisHelperApi>, index: number) => Handlers<AnalysisHelperApi> = (h) => h) {
  const tasks: LayerTask[][] = [];
  const clients = Array.from({ length: count }, (_, i) => {
    const channel = new MessageChannel();
    channels.push(channel);
    const inner = wrap(createAnalysisHelper(), i);
    tasks.push([]);
    serve<AnalysisHelperApi>(channel.port1 as never, { layer: (task, context) => (tasks[i].push(task), inner.layer(task, context)) });
    return connect<AnalysisHelperApi>(channel.port2 as never, ANALYSIS_HELPER_METHODS);
  });
  return { clients, tasks };
}

const noFallback: ImageFigureComputer = () => Promise.reject(new Error('the fallback ran'));

const crate = randomModel({ image_size: 16, patch_size: 4, channels: 3, dim: 16, depth: 5, heads: 2, dim_head: 8, num_classes: 4 }, 21);
const crateOutputs = (seed: number) => {
  const trace = cpuForward(crate, randomImage(crate, seed));
  return { logits: trace.logits, layers: trace.layers };
};
const truth = { mask: new Uint8Array(16 * 16).map((_, i) => (i % 16 < 9 ? 1 : 0)), image: { height: 16, width: 16 }, settings: { seg: 'top' as const, p: 0.4, tau: 0.6 } };

describe('AnalysisPool', () => {
  it.each([1, 2, 3])('with %i helper(s) gives exactly the figures of the calling thread', async (count) => {
    const { clients, tasks } = helpers(count);
    const pool = new AnalysisPool(clients, noFallback, () => {}, 0);
    const outputs = crateOutputs(count);
    const options: ImageFigureOptions = { truth, expansionRate: true, epsSquared: 0.05 };
    expect(await pool.compute(crate, outputs, options)).toEqual(analyseImageOutputs(crate, outputs, options));
    // Layer ℓ goes to helper ℓ mod H, one task each.
    tasks.forEach((sent, h) => expect(sent.map((t) => t.layer)).toEqual([0, 1, 2, 3, 4].filter((l) => l % count === h)));
  });

  it.each(alphaFixtureNames().slice(0, 1))('gives exactly the figures of the calling thread for CRATE-α (%s)', async (name) => {
    const model: AnyCrateModel = await alphaFixtureModel(loadAlphaFixture(name));
    const trace = alphaCpuForward(model, new Float32Array(model.config.channels * model.shape.imageHeight * model.shape.imageWidth).map((_, i) => Math.sin(i)));
    const outputs = { logits: trace.logits, layers: trace.layers };
    const pool = new AnalysisPool(helpers(2).clients, noFallback, () => {}, 0);
    const figures = await pool.compute(model, outputs, {});
    expect(figures).toEqual(analyseImageOutputs(model, outputs, {}));
    expect(figures.layers[0].lassoBefore).toBeUndefined(); // not defined for CRATE-α (docs/MEASUREMENTS.md §1.1)
  });

  it('sends each layer\'s weights and asks for the weight-only measures with the model\'s first image only', async () => {
    const model = randomModel({ image_size: 16, patch_size: 4, channels: 3, dim: 16, depth: 4, heads: 2, dim_head: 8, num_classes: 4 }, 22);
    const { clients, tasks } = helpers(2);
    const pool = new AnalysisPool(clients, noFallback, () => {}, 0);
    const run = (seed: number) => {
      const trace = cpuForward(model, randomImage(model, seed));
      return pool.compute(model, { logits: trace.logits, layers: trace.layers }, {});
    };
    const first = await run(1);
    const second = await run(2);
    const all = tasks.flat();
    expect(all).toHaveLength(8);
    expect(all.filter((t) => t.layerModel).map((t) => t.layer).sort()).toEqual([0, 1, 2, 3]);
    expect(all.filter((t) => t.weightMeasures).map((t) => t.layer).sort()).toEqual([0, 1, 2, 3]);
    expect(second.layers[3].headCoherence).toBe(first.layers[3].headCoherence); // kept from the first image, not sent again
  });

  it('sends the weights again to a helper that no longer holds them', async () => {
    // A helper with a new state for every task, as if it had been replaced between tasks.
    const { clients, tasks } = helpers(1, () => ({ layer: (task, context) => createAnalysisHelper().layer(task, context) }));
    const pool = new AnalysisPool(clients, noFallback, () => {}, 0);
    const outputs = crateOutputs(3);
    await pool.compute(crate, outputs, {});
    expect(await pool.compute(crate, outputs, {})).toEqual(analyseImageOutputs(crate, outputs, {}));
    // Second image: every layer first without its weights (refused), then with them.
    expect(tasks[0].slice(5).map((t) => [t.layer, Boolean(t.layerModel)])).toEqual([0, 1, 2, 3, 4].flatMap((l) => [[l, false], [l, true]]));
  });

  it('stops handing out the layers of a superseded image', async () => {
    const controller = new AbortController();
    const { clients, tasks } = helpers(1, (h) => ({
      layer: async (task, context) => {
        const answer = await h.layer(task, context);
        if (task.layer === 1) controller.abort();
        return answer;
      },
    }));
    const pool = new AnalysisPool(clients, noFallback, () => {}, 0);
    await expect(pool.compute(crate, crateOutputs(4), {}, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(tasks[0].map((t) => t.layer)).toEqual([0, 1]);
  });

  it('computes in the calling thread once a helper has died, and says so once', async () => {
    const notices: string[] = [];
    let pool!: AnalysisPool;
    const { clients } = helpers(2, (h, index) => ({
      layer: (task, context) => {
        if (index === 1) {
          pool.fail('an analysis helper failed: out of memory');
          return new Promise(() => {}); // a dead worker never answers
        }
        return h.layer(task, context);
      },
    }));
    let fallbacks = 0;
    const here: ImageFigureComputer = async (model, outputs, options) => (fallbacks++, analyseImageOutputs(model, outputs, options));
    pool = new AnalysisPool(clients, here, (m) => notices.push(m), 0);
    const outputs = crateOutputs(5);
    expect(await pool.compute(crate, outputs, {})).toEqual(analyseImageOutputs(crate, outputs, {}));
    expect(await pool.compute(crate, outputs, {})).toEqual(analyseImageOutputs(crate, outputs, {}));
    expect(fallbacks).toBe(2);
    expect(pool.size).toBe(0);
    expect(notices).toEqual(['an analysis helper failed: out of memory; the figures are computed without helpers from now on']);
  });

  it('keeps an image of the shipped models\' size in the calling thread, and spreads one of CRATE-T\'s', async () => {
    const small = randomModel({ image_size: 28, patch_size: 4, channels: 1, dim: 96, depth: 6, heads: 4, dim_head: 24, num_classes: 10 }, 23);
    const crateT = randomModel({ image_size: 224, patch_size: 16, channels: 3, dim: 384, depth: 12, heads: 6, dim_head: 64, num_classes: 10 }, 24);
    expect(imageMultiplyAdds(small)).toBeLessThan(MIN_SPREAD_MULTIPLY_ADDS);
    expect(imageMultiplyAdds(crateT)).toBeGreaterThan(10 * MIN_SPREAD_MULTIPLY_ADDS);
    let fallbacks = 0;
    const { clients, tasks } = helpers(2);
    const pool = new AnalysisPool(clients, async (model, outputs, options) => (fallbacks++, analyseImageOutputs(model, outputs, options)));
    const trace = cpuForward(small, randomImage(small, 1));
    await pool.compute(small, { logits: trace.logits, layers: trace.layers }, {});
    expect([fallbacks, tasks.flat().length]).toEqual([1, 0]);
  });
});

describe('starting the helpers', () => {
  const small = randomModel({ image_size: 28, patch_size: 4, channels: 1, dim: 96, depth: 6, heads: 4, dim_head: 24, num_classes: 10 }, 25);
  const smallOutputs = () => {
    const trace = cpuForward(small, randomImage(small, 2));
    return { logits: trace.logits, layers: trace.layers };
  };
  const here: ImageFigureComputer = async (model, outputs, options) => analyseImageOutputs(model, outputs, options);

  it('starts them with the first image worth spreading, once', async () => {
    let starts = 0;
    const { clients } = helpers(2);
    const pool = new AnalysisPool({ count: 2, start: () => (starts++, clients) }, here);
    await pool.compute(small, smallOutputs(), {});
    expect(starts).toBe(0); // a small model's image stays here: no worker started for it
    const spreading = new AnalysisPool({ count: 2, start: () => (starts++, clients) }, noFallback, () => {}, 0);
    await spreading.compute(crate, crateOutputs(6), {});
    await spreading.compute(crate, crateOutputs(7), {});
    expect(starts).toBe(1);
  });

  it('computes here, and says why once, when they cannot be started', async () => {
    const notices: string[] = [];
    const pool = new AnalysisPool({ count: 2, start: () => { throw new Error('Worker is not defined'); } }, here, (m) => notices.push(m), 0);
    const outputs = crateOutputs(8);
    expect(await pool.compute(crate, outputs, {})).toEqual(analyseImageOutputs(crate, outputs, {}));
    await pool.compute(crate, outputs, {});
    expect(notices).toEqual(['the analysis helpers could not start (Worker is not defined); the figures are computed without helpers from now on']);
  });
});

describe('analysisHelperCount', () => {
  it('is one per core up to 4, and none on one core', () => {
    expect([1, 2, 3, 8, 64].map((cores) => analysisHelperCount(cores))).toEqual([0, 2, 3, 4, 4]);
  });
});
