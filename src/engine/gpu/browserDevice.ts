import { deviceDescriptor } from './deviceRequest.ts';

/**
 * The page's one GPUDevice for our engine, asked for with the adapter's own
 * buffer limits (the defaults are far below what CRATE-B's weights need).
 */
export class NoWebGpuError extends Error {
  override name = 'NoWebGpuError';
}

export async function requestBrowserDevice(): Promise<GPUDevice> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) throw new NoWebGpuError('this browser has no navigator.gpu');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new NoWebGpuError('requestAdapter() found no adapter');
  return adapter.requestDevice(deviceDescriptor(adapter, 'crate explorer'));
}
