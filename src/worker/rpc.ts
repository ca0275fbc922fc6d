/**
 * A typed request/response channel over a MessagePort-like endpoint (a
 * dedicated worker, or a MessageChannel port in the tests), with the three
 * things the compute worker needs and plain postMessage lacks
 * (docs/ARCHITECTURE.md, "The worker boundary"):
 * - cancellation: aborting the caller's AbortSignal posts a cancel, which
 *   aborts the handler's own signal on the other side;
 * - progress: a handler reports progress any number of times before its
 *   answer;
 * - transferables: an answer or a request names the buffers it hands over,
 *   so tensors cross without a copy.
 *
 * Why not Comlink: its calls are proxies with no notion of cancelling a call
 * or of progress events, and both would be hand-built on top of it anyway.
 */

export interface Progress {
  message: string;
  /** 0..1 where known. */
  fraction?: number;
  bytes?: { received: number; total?: number };
}

/** What a handler gets besides its argument. */
export interface CallContext {
  signal: AbortSignal;
  progress(update: Progress): void;
}

/** What a caller may pass besides the argument. */
export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (update: Progress) => void;
  /** Buffers handed over with the argument (the caller must not use them afterwards). */
  transfer?: Transferable[];
}

/** An API: methods of one argument, answering a promise. */
export type Api = { [method: string]: (arg: never) => Promise<unknown> };

export type Handlers<A extends Api> = { [M in keyof A]: (arg: Parameters<A[M]>[0], context: CallContext) => ReturnType<A[M]> };

export type Client<A extends Api> = { [M in keyof A]: (arg: Parameters<A[M]>[0], options?: CallOptions) => ReturnType<A[M]> };

interface Endpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

type Request = { kind: 'call'; id: number; method: string; arg: unknown } | { kind: 'cancel'; id: number };
type Response =
  | { kind: 'progress'; id: number; progress: Progress }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; name: string; message: string }
  | { kind: 'notice'; message: string };

/** An error that crossed the boundary keeps its name, so `AbortError` and the loaders' `LoadError` stay recognisable. */
export class RemoteError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

export function abortError(): Error {
  return new RemoteError('AbortError', 'superseded');
}

/**
 * Every distinct ArrayBuffer under `value` (typed arrays in objects and arrays), once each:
 * postMessage refuses a transfer list that names one buffer twice, which views into one
 * read-back buffer would.
 */
export function transferablesOf(value: unknown, found = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) found.add(value.buffer);
  } else if (Array.isArray(value)) {
    for (const item of value) transferablesOf(item, found);
  } else if (value && typeof value === 'object' && !(value instanceof Blob)) {
    for (const item of Object.values(value)) transferablesOf(item, found);
  }
  return [...found];
}

/** Answers calls on `endpoint`; returns a function that posts an unsolicited notice (a lost device, say). */
export function serve<A extends Api>(endpoint: Endpoint, handlers: Handlers<A>, transferOf: (method: string, value: unknown) => Transferable[] = () => []): (message: string) => void {
  const running = new Map<number, AbortController>();
  endpoint.addEventListener('message', (event) => {
    const request = event.data as Request;
    if (request.kind === 'cancel') {
      running.get(request.id)?.abort();
      return;
    }
    const controller = new AbortController();
    running.set(request.id, controller);
    const post = (response: Response, transfer: Transferable[] = []) => endpoint.postMessage(response, transfer);
    const handler = handlers[request.method as keyof A] as ((arg: unknown, context: CallContext) => Promise<unknown>) | undefined;
    void (async () => {
      try {
        if (!handler) throw new Error(`no method ${request.method}`);
        const value = await handler(request.arg, {
          signal: controller.signal,
          progress: (progress) => {
            if (!controller.signal.aborted) post({ kind: 'progress', id: request.id, progress });
          },
        });
        post({ kind: 'result', id: request.id, value }, transferOf(request.method, value));
      } catch (error) {
        const name = controller.signal.aborted ? 'AbortError' : error instanceof Error ? error.name : 'Error';
        post({ kind: 'error', id: request.id, name, message: error instanceof Error ? error.message : String(error) });
      } finally {
        running.delete(request.id);
      }
    })();
  });
  return (message) => endpoint.postMessage({ kind: 'notice', message } satisfies Response);
}

/** The caller's side: every method of A, returning what the handler answered. */
export function connect<A extends Api>(endpoint: Endpoint, methods: readonly (keyof A & string)[], onNotice: (message: string) => void = () => {}): Client<A> {
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; onProgress?: (p: Progress) => void }>();
  endpoint.addEventListener('message', (event) => {
    const response = event.data as Response;
    if (response.kind === 'notice') {
      onNotice(response.message);
      return;
    }
    const call = pending.get(response.id);
    if (!call) return; // cancelled on this side already
    if (response.kind === 'progress') call.onProgress?.(response.progress);
    else {
      pending.delete(response.id);
      if (response.kind === 'result') call.resolve(response.value);
      else call.reject(new RemoteError(response.name, response.message));
    }
  });
  const client = {} as Record<string, (arg: unknown, options?: CallOptions) => Promise<unknown>>;
  for (const method of methods) {
    client[method] = (arg, options = {}) =>
      new Promise((resolve, reject) => {
        const { signal } = options;
        if (signal?.aborted) {
          reject(abortError());
          return;
        }
        const id = nextId++;
        const onAbort = () => {
          if (!pending.delete(id)) return;
          endpoint.postMessage({ kind: 'cancel', id } satisfies Request);
          reject(abortError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const settle = <T>(fn: (v: T) => void) => (v: T) => {
          signal?.removeEventListener('abort', onAbort);
          fn(v);
        };
        pending.set(id, { resolve: settle(resolve), reject: settle(reject), onProgress: options.onProgress });
        endpoint.postMessage({ kind: 'call', id, method, arg } satisfies Request, options.transfer ?? []);
      });
  }
  return client as Client<A>;
}
