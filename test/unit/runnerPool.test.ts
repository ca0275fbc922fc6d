/** The runner pool's runners take turns: two runs never overlap on one runner (worker/runnerPool.ts). */
import { describe, expect, it } from 'vitest';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { takingTurns } from '../../src/worker/runnerPool.ts';

/** A runner that records overlapping calls, as a shared read-back buffer would fail on them. */
function exclusiveRunner() {
  let busy = false;
  const overlaps: number[] = [];
  const order: number[] = [];
  const runner: ModelRunner = {
    kind: 'wgsl',
    async run(image) {
      if (busy) overlaps.push(image[0]);
      busy = true;
      await new Promise((resolve) => setTimeout(resolve, 5));
      busy = false;
      order.push(image[0]);
      if (image[0] === 2) throw new Error('this run fails');
      return { logits: Float32Array.from(image), layers: [] };
    },
    dispose: async () => {},
  };
  return { runner, overlaps, order };
}

describe('takingTurns', () => {
  it('runs one call at a time, in order, and a failure does not stop the queue', async () => {
    const { runner, overlaps, order } = exclusiveRunner();
    const queued = takingTurns(runner);
    const results = await Promise.allSettled([1, 2, 3].map((i) => queued.run(new Float32Array([i]))));
    expect(overlaps).toEqual([]);
    expect(order).toEqual([1, 2, 3]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('without it the same calls overlap (the test can tell)', async () => {
    const { runner, overlaps } = exclusiveRunner();
    await Promise.allSettled([1, 3].map((i) => runner.run(new Float32Array([i]))));
    expect(overlaps.length).toBeGreaterThan(0);
  });
});
