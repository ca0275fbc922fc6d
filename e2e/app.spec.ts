import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { officialCodingRate } from '../src/analysis/codingRate.ts';
import { sparsity } from '../src/analysis/sparsity.ts';
import { cpuForward } from '../src/engine/cpu/reference.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { formatFraction, formatRate } from '../src/ui/format.ts';
import { loadShippedModel, shippedManifest } from '../test/helpers/shippedModels.ts';

const ARTIFACTS = 'e2e/artifacts';
mkdirSync(ARTIFACTS, { recursive: true });

const manifest = shippedManifest();
const entry = manifest.models.find((m) => m.id === manifest.defaultModel)!;
const shipped = loadShippedModel(entry.id);

/** What the page should show for a sample, computed in Node from the same files with the CPU reference and analysis code. */
function expected(sampleIndex: number) {
  const { model } = shipped;
  const image = shipped.samples[sampleIndex];
  const trace = cpuForward(model, imageToTensor(image, model.config));
  const { tokens } = model.shape;
  const logits = Array.from(trace.logits);
  const max = Math.max(...logits);
  const exp = logits.map((v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return {
    depth: model.config.depth,
    probabilities: exp.map((v) => v / sum),
    rates: trace.layers.map((l) => officialCodingRate(l.w, tokens, model.config.heads, model.config.dim_head)),
    sparsities: trace.layers.map((l) => sparsity(l.zNext).l0Fraction),
  };
}

/**
 * A cold start of the automatic engine (ORT WASM on a software adapter: a
 * 27 MB wasm compiled first) takes 20 s and more on this 2-core machine
 * under load; the default 30 s expect timeout is too tight for it.
 */
const FIRST_RESULT_MS = 90_000;

async function waitForResults(page: Page) {
  await expect(page.getByTestId('top5').locator('li')).toHaveCount(5, { timeout: FIRST_RESULT_MS });
  await expect(page.getByTestId('layer-table')).toBeVisible();
}

/** Numbers as shown: the text of each layer's cell and its full-precision data-value. */
async function shownColumn(page: Page, prefix: 'rate' | 'sparsity', depth: number) {
  const out: { text: string; value: number }[] = [];
  for (let l = 0; l < depth; l++) {
    const cell = page.getByTestId(`${prefix}-${l}`);
    out.push({ text: (await cell.textContent()) ?? '', value: Number(await cell.getAttribute('data-value')) });
  }
  return out;
}

async function chartPoints(page: Page, chart: string) {
  return page.getByTestId(chart).locator('g.chart-point').evaluateAll((nodes) =>
    nodes.map((n) => ({
      layer: Number(n.getAttribute('data-layer')),
      value: Number(n.getAttribute('data-value')),
      selected: n.classList.contains('selected'),
    })),
  );
}

/**
 * The page runs our WGSL engine (float32 on the GPU) and Node the float32 CPU
 * reference; the engines agree to ~1e-6 on every tensor (test/gpu), which moves
 * the measurements by far less than this.
 */
const PAGE_VS_NODE = 1e-4;

function expectClose(actual: number, wanted: number, what: string, tolerance = PAGE_VS_NODE) {
  expect(Number.isFinite(actual), `${what} is finite`).toBe(true);
  expect(Math.abs(actual - wanted), `${what}: page ${actual}, Node ${wanted}`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(wanted)));
}

test('loads the default model and shows top-5 and both charts with the right numbers', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto('/');
  await waitForResults(page);
  await expect(page.getByTestId('adapter-status')).toHaveAttribute('data-status', 'ready');
  await expect(page.getByTestId('model-description')).toContainText('Digits');
  // The automatic choice (runners/engines.ts): ORT WASM on a software adapter such as SwiftShader, else our WGSL engine.
  // ORT starts lazily in the worker, so on a software adapter the first image of a page runs on a stand-in: for this
  // small model the CPU reference, which needs no start-up (worker/computeService.ts).
  const software = (await page.getByTestId('adapter-status').getAttribute('data-software')) === 'true';
  await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', software ? 'cpu' : 'wgsl');
  if (software) await expect(page.getByTestId('engine-used')).toContainText('onnxruntime-web was still starting');
  await expect(page).toHaveURL(/\?model=digits&sample=0&layer=0&/);

  const want = expected(0);

  // Top 5: the five largest softmax probabilities, best first, as text and as data.
  const top = await page.getByTestId('top5').locator('li').evaluateAll((items) =>
    items.map((li) => ({
      index: Number(li.getAttribute('data-class')),
      probability: Number(li.getAttribute('data-probability')),
      text: li.querySelector('.topk-value')?.textContent ?? '',
    })),
  );
  const order = want.probabilities.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  expect(top.map((t) => t.index)).toEqual(order.slice(0, 5).map(([, i]) => i));
  for (const t of top) {
    expectClose(t.probability, want.probabilities[t.index], `probability of class ${t.index}`);
    expect(t.text).toMatch(/^\d+\.\d+%$/);
  }

  // Both charts: one point per layer, values equal to Node's.
  const ratePoints = await chartPoints(page, 'chart-coding-rate');
  const sparsityPoints = await chartPoints(page, 'chart-sparsity');
  expect(ratePoints).toHaveLength(want.depth);
  expect(sparsityPoints).toHaveLength(want.depth);
  const rates = await shownColumn(page, 'rate', want.depth);
  const sparsities = await shownColumn(page, 'sparsity', want.depth);
  for (let l = 0; l < want.depth; l++) {
    expectClose(ratePoints[l].value, want.rates[l], `chart Rᶜ of layer ${l}`);
    expectClose(rates[l].value, want.rates[l], `table Rᶜ of layer ${l}`);
    expect(rates[l].text).toBe(formatRate(want.rates[l]));
    expectClose(sparsityPoints[l].value, want.sparsities[l], `chart sparsity of layer ${l}`);
    expectClose(sparsities[l].value, want.sparsities[l], `table sparsity of layer ${l}`);
    expect(sparsities[l].text).toBe(formatFraction(want.sparsities[l]));
    expect(want.sparsities[l]).toBeGreaterThan(0);
    expect(want.sparsities[l]).toBeLessThan(1);
  }
  expect(ratePoints.filter((p) => p.selected).map((p) => p.layer)).toEqual([0]);
  await page.screenshot({ path: `${ARTIFACTS}/app-default.png`, fullPage: true });
  expect(pageErrors).toEqual([]);
});

test('clicking a layer point selects that layer in both charts, the table and the URL', async ({ page }) => {
  await page.goto('/');
  await waitForResults(page);
  const last = (await chartPoints(page, 'chart-coding-rate')).length - 1;
  expect(last).toBeGreaterThan(0);

  await page.getByTestId('chart-coding-rate').locator(`g.chart-point[data-layer="${last}"]`).click();
  await expect(page.getByTestId('layer-detail')).toHaveAttribute('data-layer', String(last));
  for (const chart of ['chart-coding-rate', 'chart-sparsity']) {
    expect((await chartPoints(page, chart)).filter((p) => p.selected).map((p) => p.layer)).toEqual([last]);
  }
  await expect(page.getByTestId('layer-table').locator('tbody tr.selected')).toHaveAttribute('data-layer', String(last));
  await expect(page).toHaveURL(new RegExp(`layer=${last}&`));
  await page.screenshot({ path: `${ARTIFACTS}/app-layer-${last}.png`, fullPage: true });

  // The other chart selects too.
  await page.getByTestId('chart-sparsity').locator('g.chart-point[data-layer="1"]').click();
  await expect(page.getByTestId('layer-detail')).toHaveAttribute('data-layer', '1');
  expect((await chartPoints(page, 'chart-coding-rate')).filter((p) => p.selected).map((p) => p.layer)).toEqual([1]);

  // The link restores the selection.
  await page.reload();
  await waitForResults(page);
  await expect(page.getByTestId('layer-detail')).toHaveAttribute('data-layer', '1');
});

test('another sample gives its own numbers', async ({ page }) => {
  await page.goto('/');
  await waitForResults(page);
  await page.getByTestId('sample-1').click();
  await expect(page).toHaveURL(/sample=1/);
  const want = expected(1);
  await expect(page.getByTestId('rate-0')).toHaveText(formatRate(want.rates[0]));
  const rates = await shownColumn(page, 'rate', want.depth);
  rates.forEach((r, l) => expectClose(r.value, want.rates[l], `Rᶜ of layer ${l}, sample 1`));
});

test('a garbled link falls back to defaults and says why', async ({ page }) => {
  await page.goto(`/?model=no-such-model&sample=abc&layer=2&layer=7&evil=${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
  await waitForResults(page);
  const notices = page.getByTestId('notices');
  await expect(notices).toContainText('unknown parameter "evil"');
  await expect(notices).toContainText('"sample" = "abc" is not a whole number');
  await expect(notices).toContainText('"layer" appears 2 times');
  await expect(notices).toContainText('there is no model "no-such-model"');
  // Shown as text, never as markup.
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  await expect(page).toHaveURL(/\?model=digits&sample=0&layer=2&/);
  await page.screenshot({ path: `${ARTIFACTS}/app-notices.png`, fullPage: true });
});

test('a model that cannot be loaded shows an error, not a blank panel', async ({ page }) => {
  await page.route(`**/models/${entry.file}`, (route) => route.fulfill({ status: 404, body: 'not here' }));
  await page.goto('/');
  await expect(page.getByTestId('panel-prediction').getByRole('alert')).toContainText(`could not fetch`);
  await expect(page.getByTestId('panel-layers').getByRole('alert')).toContainText('404');
  await page.screenshot({ path: `${ARTIFACTS}/app-error.png`, fullPage: true });
});

test('loading shows progress', async ({ page }) => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  await page.route(`**/models/${entry.file}`, async (route) => {
    await gate;
    await route.continue();
  });
  await page.goto('/');
  await expect(page.getByTestId('panel-prediction').getByRole('status')).toContainText('Downloading');
  await page.screenshot({ path: `${ARTIFACTS}/app-loading.png`, fullPage: true });
  release();
  await waitForResults(page);
});

test('on the CPU reference engine the page shows exactly what Node computes', async ({ page }) => {
  await page.goto('/?engine=cpu');
  await waitForResults(page);
  await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', 'cpu');
  const want = expected(0);
  const rates = await shownColumn(page, 'rate', want.depth);
  rates.forEach((r, l) => expectClose(r.value, want.rates[l], `Rᶜ of layer ${l} on the CPU engine`, 1e-9));
  await expect(page).toHaveURL(/engine=cpu/);
});

test('shows the deviation between our engine and onnxruntime-web, within 1e-4 on the logits', async ({ page }) => {
  await page.goto('/');
  await waitForResults(page);
  const agreement = page.getByTestId('agreement');
  await expect(agreement).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  // Whichever of the two runs the page (see the first test), the other one checks it.
  const engine = await page.getByTestId('engine-used').getAttribute('data-engine');
  expect(['wgsl', 'cpu', 'ort-wasm']).toContain(engine);
  await expect(agreement).toContainText(engine === 'ort-wasm' ? 'our WGSL engine (WebGPU)' : 'onnxruntime-web, WASM EP');
  expect(Number(await agreement.getAttribute('data-logits'))).toBeLessThanOrEqual(1e-4);
  expect(Number(await agreement.getAttribute('data-layers'))).toBeLessThanOrEqual(1e-4);
  await page.screenshot({ path: `${ARTIFACTS}/app-engine.png`, fullPage: true });
  // The check ran on ORT, so its session exists now: on a software adapter the next image runs on ORT, the faster
  // engine there, and the roles swap (worker/computeService.ts: the first image waits for no engine's start-up).
  if ((await page.getByTestId('adapter-status').getAttribute('data-software')) === 'true') {
    await page.getByTestId('sample-1').click();
    await expect(page).toHaveURL(/sample=1/);
    await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', 'ort-wasm');
    await expect(agreement).toContainText('our WGSL engine (WebGPU)', { timeout: 60_000 });
  }
});
