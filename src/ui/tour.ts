/**
 * The guided tour (`tour=N`, issue 15): ten steps through the default model,
 * each setting the view (model, sample, layer, tab) and stating ONE claim of
 * the paper with the number measured on the image on screen. A claim is a
 * function of the run, so a new sample gives new numbers; when the number
 * goes against the claim, the step says so plainly and still shows it.
 *
 * Pure: each claim reads the RunResult and the derived selectors
 * (src/state/derived.ts, docs/MEASUREMENTS.md §2 and §2.1); nothing here
 * touches the store or the engine.
 */
import { meanOffDiagonal } from '../analysis/coherence.ts';
import { DEFAULT_TOP_FRACTION, meanIoU, topFractionCount } from '../analysis/segmentation.ts';
import { attentionOf, pcaOf, segmentationOf } from '../state/derived.ts';
import type { RunResult } from '../state/store.ts';
import { defaultUrlState, type DetailView } from '../state/urlState.ts';
import { descendingCount, staircaseSteps } from '../viz/staircase.ts';

export interface ClaimResult {
  /** The claim with its number, in one sentence. */
  text: string;
  /** Whether the number on screen supports the claim; undefined when it cannot be measured here. */
  holds?: boolean;
  /** What the measurement shows when it contradicts the claim. */
  contradiction?: string;
  /** The number the claim rests on (for tests and data attributes). */
  value?: number;
}

export interface TourStep {
  title: string;
  model: string;
  sample: number;
  /** A layer index; negative counts from the last layer (−1 = last). */
  layer: number;
  view: DetailView;
  /** The claim reads the weights only, so it is the same on every image (said on screen). */
  weightsOnly?: true;
  claim(run: RunResult, layer: number): ClaimResult;
}

/** The layer a step shows on a model of `depth` layers. */
export function stepLayer(step: TourStep, depth: number): number {
  const layer = step.layer < 0 ? depth + step.layer : step.layer;
  return Math.min(Math.max(layer, 0), depth - 1);
}

const nats = (v: number) => `${Math.abs(v).toFixed(2)} nats`;
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

function objectiveStep(run: RunResult, layer: number, kind: 'mssa' | 'ista') {
  const staircase = staircaseSteps(run.layers);
  return staircase.steps.find((s) => s.kind === kind && s.layer === layer);
}

/** The claim's verdict: the number always shown, the contradiction said only when the number goes against the claim. */
function judged(text: string, value: number, holds: boolean, contradiction: string): ClaimResult {
  return holds ? { text, holds, value } : { text, holds, value, contradiction };
}

const unmeasured = (text: string): ClaimResult => ({ text: `${text} (not measured on this run)`, holds: undefined });

const DEFAULT_MODEL = defaultUrlState().model;
/** The shipped model with ground-truth masks (issue 4), for the one segmentation step. */
export const SCENE_MODEL = 'scenes';

export const TOUR_STEPS: readonly TourStep[] = [
  {
    title: 'Every layer is one optimisation step',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: 0,
    view: 'objective',
    claim(run) {
      const { steps, missing } = staircaseSteps(run.layers);
      if (missing) return unmeasured('Each MSSA step lowers Rᶜ and each ISTA step lowers the LASSO objective');
      const mssa = descendingCount(steps, 'mssa');
      const ista = descendingCount(steps, 'ista');
      const total = (kind: 'mssa' | 'ista') => steps.filter((s) => s.kind === kind).reduce((sum, s) => sum + s.delta, 0);
      const text = `CRATE is built so that each MSSA step compresses (lowers Rᶜ under its own codebook) and each ISTA step sparsifies (lowers the LASSO objective). On this image MSSA did so in ${mssa.down} of ${mssa.total} layers (summed Δ ${total('mssa').toFixed(2).replace('-', '−')} nats) and ISTA in ${ista.down} of ${ista.total} (summed Δ ${total('ista').toFixed(3).replace('-', '−')}).`;
      const holds = mssa.down === mssa.total && ista.down === ista.total;
      return { text, holds, value: mssa.down + ista.down, contradiction: holds ? undefined : `${mssa.total - mssa.down} MSSA and ${ista.total - ista.down} ISTA steps went up instead of down.` };
    },
  },
  {
    title: 'MSSA compresses: the first layer',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: 0,
    view: 'objective',
    claim: (run, layer) => mssaClaim(run, layer),
  },
  {
    title: 'MSSA compresses: a middle layer',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: 3,
    view: 'objective',
    claim: (run, layer) => mssaClaim(run, layer),
  },
  {
    title: 'ISTA sparsifies: the LASSO objective',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: 2,
    view: 'objective',
    claim(run, layer) {
      const step = objectiveStep(run, layer, 'ista');
      if (!step) return unmeasured(`At layer ${layer}, ISTA lowers the LASSO objective`);
      const text = `At layer ${layer}, one ISTA step took the LASSO objective (1/N)(½‖ZDᵀ − X‖² + λ‖Z‖₁) from ${step.before.toFixed(3)} at Z = X to ${step.after.toFixed(3)} at Z = Z^(ℓ+1).`;
      return judged(text, step.delta, step.delta < 0, `The objective rose by ${step.delta.toFixed(3)}: this ISTA step did not descend on this image.`);
    },
  },
  {
    title: 'Sparse codes: exact zeros',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: -1,
    view: 'histogram',
    claim(run, layer) {
      const nonZero = run.layers[layer].sparsity;
      const text = `ISTA's ReLU sets entries exactly to zero: after the last layer ${pct(1 - nonZero)} of the entries of Z are 0 (‖Z‖₀/(dN) = ${nonZero.toFixed(3)}).`;
      return judged(text, nonZero, nonZero < 0.5, 'Most entries are not zero: the code is not sparse on this image.');
    },
  },
  {
    title: 'Sparsity over depth',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: -1,
    view: 'histogram',
    claim(run) {
      const first = run.layers[0].sparsity;
      const last = run.layers[run.layers.length - 1].sparsity;
      const least = Math.min(...run.layers.map((l) => l.sparsity));
      const text = `The paper's plots show the codes getting sparser with depth. Here ‖Z‖₀/(dN) goes from ${first.toFixed(3)} after layer 0 to ${last.toFixed(3)} after the last layer.`;
      if (last >= first) return { text, holds: false, value: last - first, contradiction: 'The last layer is no sparser than the first on this image.' };
      if (last > least) return { text, holds: false, value: last - first, contradiction: `Sparsity does not fall all the way: it is lowest (${least.toFixed(3)}) before the last layer and rises again after it.` };
      return { text, holds: true, value: last - first };
    },
  },
  {
    title: 'The class token looks at the object',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: -1,
    view: 'attention',
    claim(run, layer) {
      const maps = attentionOf(run, layer, 0);
      if (typeof maps === 'string') return unmeasured('The class token attends to a few patches');
      const map = maps.mean;
      const keep = topFractionCount(DEFAULT_TOP_FRACTION, map.length);
      const sorted = Array.from(map).sort((a, b) => b - a);
      const total = sorted.reduce((a, b) => a + b, 0);
      const share = total > 0 ? sorted.slice(0, keep).reduce((a, b) => a + b, 0) / total : 0;
      const text = `At layer ${layer}, the class token's attention (mean over heads) puts ${pct(share)} of its mass on the top ${pct(keep / map.length)} of the patches.`;
      return judged(text, share, share > 2 * (keep / map.length), 'That is less than twice an even spread: the attention is not concentrated on this image.');
    },
  },
  {
    title: 'Incoherent heads',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: 2,
    view: 'coherence',
    weightsOnly: true,
    claim(run, layer) {
      const coherence = run.layers[layer].headCoherence;
      if (!coherence) return unmeasured('The heads span nearly incoherent subspaces');
      const mean = meanOffDiagonal(coherence.matrix, coherence.heads);
      const text = `The theory assumes the heads' subspaces U_k are incoherent. At layer ${layer} their mean overlap is ${mean.toFixed(3)}, against ${coherence.randomReference.toFixed(3)} for random subspaces of the same size.`;
      return judged(text, mean, mean <= coherence.randomReference, `The heads overlap ${(mean / coherence.randomReference).toFixed(1)}× more than random subspaces: the assumption holds only loosely here.`);
    },
  },
  {
    title: 'Low-dimensional tokens',
    model: DEFAULT_MODEL,
    sample: 0,
    layer: -1,
    view: 'pca',
    claim(run, layer) {
      const pca = pcaOf(run, layer);
      if (typeof pca === 'string') return unmeasured('A few directions explain the tokens');
      const three = Array.from(pca.explained).reduce((a, b) => a + b, 0);
      const text = `Compression should leave the tokens near a few subspaces: at layer ${layer}, three principal components explain ${pct(three)} of the patch tokens' variance.`;
      return judged(text, three, three > 0.5, 'Less than half: on this image the tokens are not close to a 3-dimensional subspace.');
    },
  },
  {
    title: 'Segmentation from attention',
    model: SCENE_MODEL,
    sample: 0,
    layer: -1,
    view: 'segmentation',
    claim(run, layer) {
      const figure = segmentationOf(run, layer, 'top', DEFAULT_TOP_FRACTION);
      if (typeof figure === 'string' || !figure.iou || !run.mask) return unmeasured('The attention maps segment the object');
      const mean = meanIoU(figure.iou.ious);
      // The trivial mask (every patch) has IoU = the object's share of the image.
      const trivial = run.mask.reduce((a, b) => a + b, 0) / run.mask.length;
      const text = `Without any segmentation training, the class token's attention segments the digit: at layer ${layer} the heads' top-${Math.round(100 * DEFAULT_TOP_FRACTION)}% masks reach a mean IoU of ${mean.toFixed(3)} (union ${figure.iou.union.toFixed(3)}), against ${trivial.toFixed(3)} for the trivial all-patches mask.`;
      return judged(text, mean, mean > trivial, 'That is no better than marking every patch: the attention does not segment this image.');
    },
  },
];

function mssaClaim(run: RunResult, layer: number): ClaimResult {
  const step = objectiveStep(run, layer, 'mssa');
  if (!step) return unmeasured(`At layer ${layer}, MSSA lowers Rᶜ under its own codebook`);
  if (step.delta < 0) return { text: `At layer ${layer}, MSSA lowered Rᶜ by ${nats(step.delta)} under its own codebook U^${layer} (${step.before.toFixed(2)} → ${step.after.toFixed(2)}).`, holds: true, value: step.delta };
  return {
    text: `At layer ${layer}, MSSA should lower Rᶜ under its own codebook U^${layer}; it went from ${step.before.toFixed(2)} to ${step.after.toFixed(2)}.`,
    holds: false,
    value: step.delta,
    contradiction: `Rᶜ rose by ${nats(step.delta)}: this MSSA step did not compress this image.`,
  };
}

/** A step number from the URL (1-based) clamped to the tour; 0 stays 0 (no tour). */
export function clampStep(step: number): number {
  if (!(step > 0)) return 0;
  return Math.min(Math.round(step), TOUR_STEPS.length);
}
