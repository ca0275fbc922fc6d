/** Asks the browser for a WebGPU adapter and describes what it got, for the status line. */
export type AdapterStatus =
  | { status: 'probing' }
  | { status: 'ready'; name: string; vendor: string; architecture: string; fallback: boolean; features: string[] }
  | { status: 'unavailable'; reason: string };

/** A software renderer (SwiftShader, llvmpipe, lavapipe) or a fallback adapter: slow, so engines and dataset sizes are chosen for it. */
export function isSoftwareAdapter(adapter: AdapterStatus): boolean {
  return adapter.status === 'ready' && (adapter.fallback || /swiftshader|llvmpipe|lavapipe|software/i.test(`${adapter.name} ${adapter.architecture}`));
}

const TIMEOUT_MS = 15_000;

export async function probeAdapter(): Promise<AdapterStatus> {
  if (!window.isSecureContext) {
    return { status: 'unavailable', reason: 'the page is not a secure context (serve it from https:// or http://localhost)' };
  }
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { status: 'unavailable', reason: 'this browser has no navigator.gpu (WebGPU is not supported or is disabled)' };
  let adapter: GPUAdapter | null;
  try {
    adapter = await Promise.race([
      gpu.requestAdapter(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)),
    ]);
  } catch (error) {
    return { status: 'unavailable', reason: `requestAdapter() failed: ${(error as Error).message}` };
  }
  if (!adapter) return { status: 'unavailable', reason: 'requestAdapter() found no adapter (no usable GPU, or WebGPU is blocked)' };
  const info = adapter.info;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const name = info?.description || [vendor, architecture, info?.device].filter(Boolean).join(' ') || 'unnamed adapter';
  const fallback = Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter);
  return { status: 'ready', name, vendor, architecture, fallback, features: [...adapter.features].sort() };
}
