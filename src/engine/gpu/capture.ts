/** Which per-layer tensors a run keeps on the GPU for later reading. */
export type CaptureTensor =
  /** Z^ℓ, the layer input, [N, d]. */
  | 'z'
  /** W = LN1(Z^ℓ)·Uᵀ, the head projections, [N, heads·dh]. */
  | 'w'
  /** A_k per head, [heads, N, N]. */
  | 'attention'
  /** Z^{ℓ+½}, [N, d]. */
  | 'zHalf'
  /** Z^{ℓ+1}, [N, d]. */
  | 'zNext';

export const CAPTURE_TENSORS: readonly CaptureTensor[] = ['z', 'w', 'attention', 'zHalf', 'zNext'];

export interface CaptureRequest {
  /** Layer indices, or every layer. */
  layers: readonly number[] | 'all';
  tensors: readonly CaptureTensor[];
}

export const CAPTURE_NOTHING: CaptureRequest = { layers: [], tensors: [] };
export const CAPTURE_ALL: CaptureRequest = { layers: 'all', tensors: CAPTURE_TENSORS };

/** The normalised form: per layer, the set of tensors to keep. */
export function captureSets(request: CaptureRequest, depth: number): Set<CaptureTensor>[] {
  const sets = Array.from({ length: depth }, () => new Set<CaptureTensor>());
  const layers = request.layers === 'all' ? sets.map((_, i) => i) : request.layers;
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= depth) throw new RangeError(`capture layer ${layer} is outside 0..${depth - 1}`);
    for (const name of request.tensors) sets[layer].add(name);
  }
  return sets;
}

export function captureKey(sets: Set<CaptureTensor>[]): string {
  return sets.map((set) => CAPTURE_TENSORS.filter((t) => set.has(t)).join('+')).join('|');
}
