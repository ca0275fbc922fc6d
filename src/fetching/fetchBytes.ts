/**
 * Downloads with byte progress, through the Cache API where the page has it,
 * so a second visit loads the models without the network.
 */
export class LoadError extends Error {
  override name = 'LoadError';
}

export interface ByteProgress {
  received: number;
  /** From Content-Length, or the manifest's size; undefined when unknown. */
  total?: number;
  fromCache?: boolean;
}

const CACHE_NAME = 'crate-explorer-models-v1';
/** Anything bigger is refused before it fills the tab's memory. */
export const MAX_DOWNLOAD_BYTES = 1 << 30;

async function openCache(): Promise<Cache | undefined> {
  try {
    return typeof caches === 'undefined' ? undefined : await caches.open(CACHE_NAME);
  } catch {
    return undefined; // opaque origins and some private modes refuse the Cache API
  }
}

async function readBody(response: Response, url: string, total: number | undefined, onProgress: (p: ByteProgress) => void): Promise<Uint8Array> {
  if (total !== undefined && total > MAX_DOWNLOAD_BYTES) throw new LoadError(`${url} is ${total} bytes, over the ${MAX_DOWNLOAD_BYTES}-byte limit`);
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > MAX_DOWNLOAD_BYTES) {
      await reader.cancel();
      throw new LoadError(`${url} is over the ${MAX_DOWNLOAD_BYTES}-byte limit`);
    }
    chunks.push(value);
    onProgress({ received, total });
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Fetches `url`. With `cache: true` a cached copy is used when its size is the
 * expected one (a changed model has a different size in the manifest), and a
 * fresh download is stored for next time.
 */
export async function fetchBytes(
  url: string,
  options: { cache?: boolean; expectedBytes?: number; onProgress?: (p: ByteProgress) => void } = {},
): Promise<Uint8Array> {
  const onProgress = options.onProgress ?? (() => {});
  const cache = options.cache ? await openCache() : undefined;
  if (cache) {
    const hit = await cache.match(url).catch(() => undefined);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (options.expectedBytes === undefined || bytes.byteLength === options.expectedBytes) {
        onProgress({ received: bytes.byteLength, total: bytes.byteLength, fromCache: true });
        return bytes;
      }
    }
  }
  let response: Response;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
  } catch (error) {
    throw new LoadError(`could not fetch ${url}: ${(error as Error).message} (is the host reachable, and does it allow cross-origin requests?)`);
  }
  if (!response.ok) throw new LoadError(`could not fetch ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  // A dev server answers a missing file with its index page; say so instead of failing to parse HTML.
  if ((response.headers.get('content-type') ?? '').includes('text/html')) {
    throw new LoadError(`${url} is not a model or data file (the server sent an HTML page)`);
  }
  const length = Number(response.headers.get('content-length'));
  const total = length > 0 ? length : options.expectedBytes;
  onProgress({ received: 0, total });
  const bytes = await readBody(response, url, total, onProgress);
  if (cache) {
    const copy = new Response(bytes.slice().buffer, { headers: { 'content-type': 'application/octet-stream' } });
    await cache.put(url, copy).catch(() => undefined); // a full quota must not break loading
  }
  return bytes;
}
