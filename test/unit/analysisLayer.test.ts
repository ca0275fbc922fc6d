/**
 * analyseLayer wires every figure to the right tensor: checked on the grey17
 * PyTorch trace (W, A, Z^{ℓ+½}, Z^{ℓ+1} of each layer) against the figure
 * functions called directly, and against each other where docs/MEASUREMENTS.md §2 ties
 * them together.
 */
import { describe, expect, it } from 'vitest';
import { attentionMaps } from '../../src/analysis/attention.ts';
import { codingRate, officialCodingRate, paperCodingRate } from '../../src/analysis/codingRate.ts';
import { analyseLayer, type LayerTensors } from '../../src/analysis/layer.ts';
import { pcaImage } from '../../src/analysis/pca.ts';
import { DEFAULT_TOP_FRACTION, patchMaskIoU, topFractionCount, topFractionMask, massFractionMask } from '../../src/analysis/segmentation.ts';
import { logHistogram, sparsity } from '../../src/analysis/sparsity.ts';
import { goldenTensor, loadFixture } from '../helpers/fixtures.ts';

describe('analyseLayer on the grey17 trace', () => {
  const fixture = loadFixture('grey17');
  const { config, shape, weights } = fixture.model;
  const grid = { height: shape.gridHeight, width: shape.gridWidth };
  const dims = { tokens: shape.tokens, dim: config.dim, heads: config.heads, dimHead: config.dim_head, grid };
  const image = { height: shape.imageHeight, width: shape.imageWidth };
  // A ground-truth square in the image's top-left quarter.
  const truth = Uint8Array.from({ length: image.height * image.width }, (_, i) => (i % image.width < image.width / 2 && i < (image.height * image.width) / 2 ? 1 : 0));

  it.each(Array.from({ length: config.depth }, (_, l) => l))('layer %i', (l) => {
    const key = (name: string) => goldenTensor(fixture, `input.1.layers.${l}.${name}`);
    const tensors: LayerTensors = { w: key('w'), attention: key('attention'), zHalf: key('z_half'), zNext: key('z_next'), qkv: weights.layers[l].qkv };
    const options = { epsSquared: 0.2, query: 3, topFraction: 0.4, massFraction: 0.7, histogram: { bins: 8 }, pca: { threshold: 0.2 } };
    const figures = analyseLayer(tensors, dims, { ...options, groundTruth: { mask: truth, image } });

    expect(figures.rateOfficial).toBe(officialCodingRate(tensors.w, shape.tokens, config.heads, config.dim_head));
    expect(figures.rateCompressed).toBe(paperCodingRate(tensors.zHalf, shape.tokens, config.dim, tensors.qkv, config.heads, config.dim_head, 0.2));
    expect(figures.rate).toBe(codingRate(tensors.zHalf, shape.tokens, config.dim, 0.2));
    expect(figures.rateReduction).toBe(figures.rate - figures.rateCompressed);
    expect(figures.sparsity).toEqual(sparsity(tensors.zNext));
    expect(figures.sparsity.zeroFraction).toBeGreaterThan(0); // Z^{ℓ+1} is a ReLU output
    expect(figures.histogram).toEqual(logHistogram(tensors.zNext, { bins: 8 }));
    expect(figures.attention).toEqual(attentionMaps(tensors.attention, config.heads, shape.tokens, grid, 3));
    expect(figures.pca).toEqual(pcaImage(tensors.w, shape.tokens, config.heads * config.dim_head, grid, { threshold: 0.2 }));

    figures.segmentationTop.heads.forEach((mask, k) => expect(mask).toEqual(topFractionMask(figures.attention.heads[k], 0.4)));
    figures.segmentationMass.heads.forEach((mask, k) => expect(mask).toEqual(massFractionMask(figures.attention.heads[k], 0.7)));
    const iou = figures.iou!;
    for (const [method, segmentation] of [
      ['top', figures.segmentationTop],
      ['mass', figures.segmentationMass],
    ] as const) {
      const ious = segmentation.heads.map((mask) => patchMaskIoU(mask, grid, truth, image));
      expect(iou[method].ious).toEqual(ious);
      expect(iou[method].iou).toBe(Math.max(...ious));
      expect(iou[method].head).toBe(ious.indexOf(Math.max(...ious)));
      expect(iou[method].union).toBe(patchMaskIoU(segmentation.union, grid, truth, image));
    }
  });

  it('leaves out IoU without ground truth and uses the defaults (class token, P = DEFAULT_TOP_FRACTION, ε² = 0.01)', () => {
    const key = (name: string) => goldenTensor(fixture, `input.0.layers.0.${name}`);
    const figures = analyseLayer({ w: key('w'), attention: key('attention'), zHalf: key('z_half'), zNext: key('z_next'), qkv: weights.layers[0].qkv }, dims);
    expect(figures.iou).toBeUndefined();
    expect(figures.attention.heads[0]).toEqual(Float64Array.from(key('attention').subarray(1, shape.tokens)));
    expect(figures.segmentationTop.heads[0].reduce((a, b) => a + b, 0)).toBe(topFractionCount(DEFAULT_TOP_FRACTION, shape.tokens - 1));
    expect(figures.rate).toBe(codingRate(key('z_half'), shape.tokens, config.dim, 0.01));
  });
});
