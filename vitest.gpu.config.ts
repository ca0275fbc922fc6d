import { defineConfig } from 'vitest/config';

// Tier 2: WGSL kernels in Node through Dawn (npm `webgpu`) on a Vulkan driver,
// SwiftShader where there is no GPU. One file at a time: SwiftShader already
// uses every core, and parallel files only thrash.
export default defineConfig({
  test: {
    include: ['test/gpu/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
