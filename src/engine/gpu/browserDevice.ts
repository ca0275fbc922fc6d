/**
 * The page's one GPUDevice for our engine, asked for with the adapter's own
 * buffer limits (the defaults are far below what CRATE-B's weights need).
 */
export class NoWebGpuError extends Error {
  override name = 'NoWebGpuError';
}

const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query'];

export async function requestBrowserDevice(): Promise<GPUDevice> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) throw new NoWebGpuError('this browser has no navigator.gpu');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new NoWebGpuError('requestAdapter() found no adapter');
  return adapter.requestDevice({
    label: 'crate explorer',
    requiredFeatures: WANTED_FEATURES.filter((f) => adapter.features.has(f)),
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(8, adapter.limits.maxStorageBuffersPerShaderStage),
    },
  });
}
