/**
 * Non-finite activations are a result, not a crash: an image whose forward
 * pass produces a NaN or an infinity is reported as "layer 3 produced NaN in
 * Z^{l+1/2}", and the command goes on with the other images. The check runs
 * on the captured tensors before any analysis sees them (a coding rate of a
 * NaN matrix fails deep inside a Cholesky factorisation otherwise).
 */
import type { CaptureTensor } from '../engine/gpu/capture.ts';
import { firstNonFinite } from '../engine/outputCheck.ts';
import { CliError } from './errors.ts';

/** One image's forward pass produced a NaN or an infinity. */
export class NonFiniteError extends CliError {
  override name = 'NonFiniteError';
}

/** The captured tensors as docs/MEASUREMENTS.md names them. */
const TENSOR_NAMES: Record<CaptureTensor, string> = {
  z: 'its input Z^l',
  w: 'W = LN(Z^l)·Uᵀ',
  attention: 'the attention A',
  zHalf: 'the MSSA output Z^{l+1/2}',
  zNext: 'the ISTA output Z^{l+1}',
};


/** Throws NonFiniteError naming the layer and tensor of the first NaN or infinity among a layer's captures, in forward order. */
export function checkFiniteLayer(layer: number, tensors: Iterable<[CaptureTensor, Float32Array]>): void {
  const order: CaptureTensor[] = ['z', 'w', 'attention', 'zHalf', 'zNext'];
  const sorted = [...tensors].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  for (const [name, values] of sorted) {
    const bad = firstNonFinite(values);
    if (bad !== undefined) throw new NonFiniteError(`layer ${layer} produced ${bad} in ${TENSOR_NAMES[name]}`);
  }
}

export function checkFiniteLogits(logits: Float32Array): void {
  const bad = firstNonFinite(logits);
  if (bad !== undefined) throw new NonFiniteError(`the classifier produced ${bad} logits`);
}
