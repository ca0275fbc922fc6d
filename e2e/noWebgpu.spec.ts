import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { CHROMIUM_ARGS } from '../playwright.config.ts';

/**
 * The same Chromium with WebGPU switched off (no --enable-unsafe-webgpu, and
 * the feature disabled): the app must run the model on onnxruntime-web's
 * WASM engine by itself, say so, and still show every number.
 */
const WEBGPU_FLAGS = new Set(['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--enable-features=Vulkan']);
test.use({
  launchOptions: {
    executablePath: process.env.CRATE_CHROMIUM || process.env.CHROME_PATH || '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS.filter((a) => !WEBGPU_FLAGS.has(a)), '--disable-features=WebGPU'],
  },
});

mkdirSync('e2e/artifacts', { recursive: true });

test('without WebGPU the app runs on onnxruntime-web WASM, says so, and shows results', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto('/');
  expect(await page.evaluate(async () => !(navigator as Navigator & { gpu?: GPU }).gpu || !(await (navigator as Navigator & { gpu: GPU }).gpu.requestAdapter()))).toBe(true);
  await expect(page.getByTestId('top5').locator('li')).toHaveCount(5);
  await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', 'ort-wasm');
  await expect(page.getByTestId('engine-used')).toContainText('WebGPU is unavailable');
  await expect(page.getByTestId('adapter-status')).toContainText('WebGPU unavailable');
  // Checked against our CPU reference, since our GPU engine cannot run here.
  const agreement = page.getByTestId('agreement');
  await expect(agreement).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(agreement).toContainText('CPU reference');
  expect(Number(await agreement.getAttribute('data-logits'))).toBeLessThanOrEqual(1e-4);
  for (let l = 0; l < 3; l++) expect(Number(await page.getByTestId(`rate-${l}`).getAttribute('data-value'))).toBeGreaterThan(0);
  await page.screenshot({ path: 'e2e/artifacts/app-no-webgpu.png', fullPage: true });
  expect(pageErrors).toEqual([]);
});
