import { defineConfig, devices } from '@playwright/test';

/**
 * E2E tier: the built app (`vite build`, done by scripts/test.mjs) served by
 * `vite preview` on 127.0.0.1:4173, in the system Chromium with WebGPU on
 * SwiftShader where there is no GPU (docs/PLATFORM.md). Playwright cannot
 * download its own browser here, so the binary comes from CRATE_CHROMIUM
 * (set by scripts/test.mjs), else CHROME_PATH, else Debian's /usr/bin/chromium.
 */
const executablePath = process.env.CRATE_CHROMIUM || process.env.CHROME_PATH || '/usr/bin/chromium';
// Two developers (or a developer and a bench) can run e2e side by side on one
// machine: each picks its own port and build folder (`vite build --outDir`).
const port = Number(process.env.CRATE_E2E_PORT || 4173);
const distDir = process.env.CRATE_E2E_DIST || 'dist';
const origin = `http://127.0.0.1:${port}`;

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
  outputDir: process.env.CRATE_E2E_OUTPUT || 'test-results/e2e',
  // SwiftShader uses every core; parallel pages only thrash on a small machine.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 30_000 },
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['json', { outputFile: process.env.CRATE_E2E_REPORT || 'test-results/e2e.json' }]],
  use: {
    baseURL: origin,
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
    command: `npx vite preview --host 127.0.0.1 --port ${port} --strictPort --bypass-lock --outDir ${distDir}`,
    url: `${origin}/`,
    // A server already on the port may serve another build; reuse it only when asked.
    reuseExistingServer: process.env.CRATE_REUSE_SERVER === '1',
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
