import { defineConfig } from 'vitest/config';

// Tier 1: unit tests in Node, no GPU.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
