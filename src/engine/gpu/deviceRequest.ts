/**
 * The one description of the device our engine asks an adapter for, used by
 * the page, the compute worker, the test harness and Node: the adapter's own
 * buffer limits (the defaults are far below what CRATE-B's weights need), and
 * every optional feature a kernel variant can use where the adapter offers it
 * (timestamps for the profiler; f16 and subgroups for the variants that
 * require them, src/kernels/variants.ts).
 */
export const WANTED_FEATURES: readonly GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

export function deviceDescriptor(adapter: GPUAdapter, label: string): GPUDeviceDescriptor {
  return {
    label,
    requiredFeatures: WANTED_FEATURES.filter((feature) => adapter.features.has(feature)),
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(8, adapter.limits.maxStorageBuffersPerShaderStage),
    },
  };
}
