/**
 * Every problem with a PyTorch checkpoint (a malformed archive, a pickle that
 * is truncated or hostile, a storage shorter than its tensors) is reported as
 * a PthError with a one-line message; nothing else escapes the reader.
 */
export class PthError extends Error {
  override name = 'PthError';
}
