import { defineConfig, devices } from '@playwright/test';

/**
 * E2E tier: the built app (`vite build`, done by scripts/test.mjs) served by
 * `vite preview` on 127.0.0.1:4173, in the system Chromium with WebGPU on
 * SwiftShader where there is no GPU (docs/PLATFORM.md). Playwright cannot
 * download its own browser here, so the binary comes from CRATE_CHROMIUM
 * (set by scripts/test.mjs), else CHROME_PATH, else Debian's /usr/bin/chromium.
 */
const executablePath = process.env.CRATE_CHROMIUM || process.env.CHROME_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
  '--enable-features=Vulkan',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results/e2e',
  // SwiftShader uses every core; parallel pages only thrash on a small machine.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 30_000 },
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['json', { outputFile: 'test-results/e2e.json' }]],
  use: {
    baseURL: 'http://127.0.0.1:4173',
    viewport: { width: 1280, height: 900 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'chromium-webgpu',
      use: {
        ...devices['Desktop Chrome'],
        viewport: { width: 1280, height: 900 },
        headless: true,
        launchOptions: { executablePath, args: CHROMIUM_ARGS },
      },
    },
  ],
  webServer: {
    command: 'npx vite preview --host 127.0.0.1 --port 4173 --strictPort --bypass-lock',
    url: 'http://127.0.0.1:4173/',
    // A server already on :4173 may serve another build; reuse it only when asked.
    reuseExistingServer: process.env.CRATE_REUSE_SERVER === '1',
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
