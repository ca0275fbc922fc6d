/**
 * A small synthetic RunResult for the view selectors and exporters: 2 layers,
 * a 2×3 patch grid (N = 7), d = 4, 2 heads of 2, with random but fixed
 * tensors and softmax attention rows.
 */
import type { RunResult } from '../../src/state/store.ts';

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export const GRID = { height: 2, width: 3 };
export const TOKENS = 1 + GRID.height * GRID.width;
export const DIM = 4;
export const HEADS = 2;
export const DIM_HEAD = 2;
export const PATCH = 2;

export function fakeRun(options: { mask?: boolean; paperRate?: boolean; seed?: number; depth?: number } = {}): RunResult {
  const next = random(options.seed ?? 7);
  const depth = options.depth ?? 2;
  const image = { width: GRID.width * PATCH, height: GRID.height * PATCH, data: new Uint8ClampedArray(GRID.width * PATCH * GRID.height * PATCH * 4).map(() => Math.floor(256 * next())) };
  const layers = Array.from({ length: depth }, () => {
    const attention = new Float32Array(HEADS * TOKENS * TOKENS);
    for (let row = 0; row < HEADS * TOKENS; row++) {
      let sum = 0;
      for (let c = 0; c < TOKENS; c++) sum += attention[row * TOKENS + c] = Math.exp(3 * next());
      for (let c = 0; c < TOKENS; c++) attention[row * TOKENS + c] /= sum;
    }
    return {
      w: Float32Array.from({ length: TOKENS * HEADS * DIM_HEAD }, () => next() - 0.5),
      attention,
      zHalf: Float32Array.from({ length: TOKENS * DIM }, () => next() - 0.5),
      // ReLU output: about half exact zeros.
      zNext: Float32Array.from({ length: TOKENS * DIM }, () => Math.max(next() - 0.5, 0)),
    };
  });
  return {
    modelId: 'fake',
    sampleIndex: 3,
    model: {
      id: 'fake',
      name: 'Fake',
      bytes: 1,
      labels: ['a', 'b'],
      imageSize: [image.height, image.width],
      patchSize: PATCH,
      channels: 3,
      tokens: TOKENS,
      dim: DIM,
      depth,
      heads: HEADS,
      dimHead: DIM_HEAD,
      numClasses: 2,
    },
    image,
    label: 1,
    // Object: the left half of the image.
    mask: options.mask ? Uint8Array.from({ length: image.width * image.height }, (_, p) => (p % image.width < image.width / 2 ? 1 : 0)) : undefined,
    top: [],
    layers: layers.map((_, l) => ({ layer: l, codingRate: 10 - l + next(), sparsity: 0.5 - 0.1 * l, ...(options.paperRate ? { paperRate: 20 - l } : {}) })),
    outputs: { logits: new Float32Array([0, 1]), layers },
    forwardMillis: 1,
    analysisMillis: 1,
    engine: 'cpu',
    engineReason: 'test',
  };
}
