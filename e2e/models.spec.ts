import { expect, test } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { shippedManifest } from '../test/helpers/shippedModels.ts';

/** Issue 4's loading experience: the picker, byte progress, the Cache API, and hosted models from links. */
const ARTIFACTS = 'e2e/artifacts';
mkdirSync(ARTIFACTS, { recursive: true });
const manifest = shippedManifest();
const digits = manifest.models.find((m) => m.id === 'digits')!;
const digitsBytes = readFileSync(`public/models/${digits.file}`);

async function waitForResults(page: import('@playwright/test').Page) {
  await expect(page.getByTestId('top5').locator('li')).toHaveCount(5);
}

test('the picker lists every shipped model with its size and held-out accuracy', async ({ page }) => {
  await page.goto('/');
  await waitForResults(page);
  const options = await page.getByTestId('model-select').locator('option').allTextContents();
  expect(options).toHaveLength(manifest.models.length);
  manifest.models.forEach((m, i) => {
    expect(options[i]).toContain(m.name);
    expect(options[i]).toMatch(/\d+(\.\d)? (KB|MB)/);
    expect(options[i]).toContain(`${(100 * m.accuracy!).toFixed(1)}% held-out`);
  });
});

test('a download shows its progress in bytes', async ({ page }) => {
  // Observable by construction: a local server sends the first half of the
  // model, then holds the rest until the partial "… of N KB" has been seen, so
  // a fast machine cannot finish the download before the assertion looks.
  // (route.fulfill sends a body whole, so the page is pointed at this server
  // with route.continue; the page still sees its own URL.)
  const half = Math.floor(digitsBytes.length / 2);
  let release: () => void = () => {};
  const rest = new Promise<void>((resolve) => (release = resolve));
  const server = createServer(async (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(digitsBytes.length) });
    response.write(digitsBytes.subarray(0, half));
    await rest;
    response.end(digitsBytes.subarray(half));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await page.route(`**/models/${digits.file}`, (route) => route.continue({ url: `http://127.0.0.1:${port}/${digits.file}` }));
    await page.goto('/');
    const totalKb = `${(digitsBytes.length / 1024).toFixed(0)} KB`;
    const progress = page.getByTestId('progress-bytes').first();
    await expect(progress).toContainText(` of ${totalKb}`);
    const received = Number((await progress.textContent())!.match(/^(\d+) KB/)?.[1]);
    expect(received).toBeGreaterThan(0);
    expect(received * 1024).toBeLessThan(digitsBytes.length);
    release();
    await waitForResults(page);
  } finally {
    release();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a second visit loads the model from the Cache API, without the network', async ({ page }) => {
  await page.goto('/');
  await waitForResults(page);
  const cached = await page.evaluate(async (file) => {
    const cache = await caches.open('crate-explorer-models-v1');
    return (await cache.keys()).some((r) => r.url.endsWith(file));
  }, digits.file);
  expect(cached).toBe(true);
  let modelRequests = 0;
  await page.route(`**/models/${digits.file}`, (route) => {
    modelRequests++;
    return route.abort('internetdisconnected');
  });
  await page.reload();
  await waitForResults(page);
  expect(modelRequests).toBe(0);
});

test('?model=<url> loads a hosted ONNX model, and a non-model URL is refused with a notice', async ({ page }) => {
  const hosted = 'https://models.example.org/crate/digits.onnx';
  await page.route('https://models.example.org/**', (route) =>
    route.fulfill({
      body: route.request().url() === hosted ? digitsBytes : '<html>not a model</html>',
      headers: { 'content-type': route.request().url() === hosted ? 'application/octet-stream' : 'text/plain', 'access-control-allow-origin': '*' },
    }),
  );
  await page.goto(`/?model=${encodeURIComponent(hosted)}`);
  await waitForResults(page);
  await expect(page.getByTestId('model-description')).toContainText('models.example.org');
  await page.screenshot({ path: `${ARTIFACTS}/app-hosted-model.png`, fullPage: true });

  // A URL that is not a model, and a host that cannot be reached: each names the problem.
  await page.goto(`/?model=${encodeURIComponent('https://models.example.org/readme.txt')}`);
  await expect(page.getByTestId('panel-prediction').getByRole('alert')).toContainText('is not a usable CRATE model');
  await page.route('https://unreachable.example.net/**', (route) => route.abort('namenotresolved'));
  await page.goto(`/?model=${encodeURIComponent('https://unreachable.example.net/m.onnx')}`);
  await expect(page.getByTestId('panel-prediction').getByRole('alert')).toContainText('could not fetch https://unreachable.example.net/m.onnx');
});
