/**
 * The model summary the store holds for the views. A module of its own, free
 * of the engines and their bundler-only imports, so Node tests (vitest and
 * Playwright) build the same summary the pipeline does.
 */
import type { LoadedModel } from './modelFile.ts';
import type { ModelSummary } from '../state/store.ts';

/** What the views show about a loaded model: its name, size and shape. */
export function summarise(source: { key: string; name: string }, loaded: Pick<LoadedModel, 'model' | 'bytes' | 'card'>): ModelSummary {
  const { config, shape } = loaded.model;
  return {
    id: source.key,
    name: source.name,
    bytes: loaded.bytes,
    card: loaded.card,
    labels: config.labels,
    imageSize: [shape.imageHeight, shape.imageWidth],
    patchSize: config.patch_size,
    channels: config.channels,
    tokens: shape.tokens,
    dim: config.dim,
    depth: config.depth,
    heads: config.heads,
    dimHead: config.dim_head,
    numClasses: config.num_classes,
    arch: config.arch,
    mean: config.mean,
    std: config.std,
  };
}
