/**
 * Every problem with a PyTorch checkpoint (a malformed archive, a pickle that
 * is truncated or hostile, a storage shorter than its tensors) is reported as
 * a PthError with a one-line message; nothing else escapes the reader.
 */
export class PthError extends Error {
  override name = 'PthError';
}

/**
 * Anything but a PthError (or an abort) escaping the reader is a bug the file
 * provoked; it is still reported as a PthError, with the original as `cause`.
 * The original's text (a JavaScript engine message such as "Maximum call stack
 * size exceeded" or "Array buffer allocation failed") never reaches the user:
 * it says nothing about the file.
 */
export function asPthError(error: unknown): unknown {
  if (error instanceof PthError || (error as Error)?.name === 'AbortError') return error;
  return new PthError('malformed checkpoint: the reader could not make sense of it (damaged, or built to break readers)', { cause: error });
}
