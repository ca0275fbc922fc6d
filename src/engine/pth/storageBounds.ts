/**
 * How large a storage may be, given the tensors that view it. A storage is a
 * `data/<key>` record that is inflated (when deflated) and CRC-checked whole
 * before any tensor is decoded from it, so its declared size is the work and
 * memory a file can ask for. A deflated record can claim 1032 times its
 * compressed size: a 2 MB file can declare a 2 GiB storage and view a few
 * hundred elements of it, at its start or strided across all of it (issue 20,
 * defects 5 and 6: 4.2 GB and 21 s per such storage before this check).
 *
 * The rule, for deflated records only: a storage may be at most
 * STORAGE_SLACK_FACTOR times the bytes its state-dict tensors view, plus
 * STORAGE_SLACK_BYTES. torch.save of a state dict writes each parameter's own
 * storage (views cover it exactly), shared storages are covered by their
 * views, and a strided slice such as w[::2] views half of its storage. A
 * stored (uncompressed) record is exempt: it is read in place from the file,
 * and its size must equal the declared storage (torchPickle.ts), so it costs
 * no more than the file itself. That matters because torch.save writes stored
 * records and saves a view's whole storage: a checkpoint holding a small
 * slice of a large tensor (w[:10]) is valid and loads; deflated, it would be
 * refused, since loading it would inflate the whole tensor. That a view stays
 * inside its storage is checked where the view is built (torchPickle.ts
 * `rebuildTensor`, O(ndim) per tensor); both checks run before any storage
 * bytes are touched.
 */
import { PthError } from './errors.ts';
import { DTYPE_BYTES, type TensorRef } from './torchPickle.ts';

export const STORAGE_SLACK_FACTOR = 4;
export const STORAGE_SLACK_BYTES = 1 << 20;

interface StorageUse {
  declaredBytes: number;
  viewedBytes: number;
  views: number;
}

/** Throws a PthError naming the first deflated storage that is larger than its views justify. */
export function checkStorageBounds(tensors: Map<string, TensorRef>, isDeflated: (storageKey: string) => boolean): void {
  const uses = new Map<string, StorageUse>();
  for (const ref of tensors.values()) {
    if (!isDeflated(ref.storage.key)) continue;
    const size = DTYPE_BYTES[ref.dtype];
    const key = ref.storage.key;
    const use = uses.get(key) ?? { declaredBytes: ref.storage.elements * size, viewedBytes: 0, views: 0 };
    use.viewedBytes += ref.numel * size;
    use.views++;
    uses.set(key, use);
  }
  for (const [key, { declaredBytes, viewedBytes, views }] of uses) {
    const allowed = STORAGE_SLACK_FACTOR * viewedBytes + STORAGE_SLACK_BYTES;
    if (declaredBytes > allowed) {
      throw new PthError(
        `storage "${key}" declares ${declaredBytes} bytes, but ${views === 1 ? 'the tensor viewing it uses' : `the ${views} tensors viewing it use`} only ${viewedBytes}: ` +
          `a storage may be at most ${STORAGE_SLACK_FACTOR}× what its tensors use plus ${STORAGE_SLACK_BYTES} bytes (${allowed} here), so it is not inflated`,
      );
    }
  }
}
