/** Class probabilities from logits: what every prediction view and the CLI print. */
export interface ClassScore {
  index: number;
  label: string;
  probability: number;
  logit: number;
}

/** Softmax in float64, largest logit subtracted first so no exp overflows. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** The k most probable classes, best first; ties keep class order. */
export function topClasses(logits: ArrayLike<number>, labels: readonly string[], k = 5): ClassScore[] {
  const probabilities = softmax(logits);
  return Array.from(probabilities, (probability, index) => ({ index, label: labels[index] ?? String(index), probability, logit: logits[index] }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, k);
}
