/**
 * Issue 20 ("Hostile inputs, round two") in the browser: a head index past the
 * URL codec's old limit of 64, the heads form's counts, ONNX graphs that lie
 * about their outputs or do far more work than their config implies, and a
 * model whose activations overflow to NaN. Every hostile file is built here,
 * at test time, from a shipped model or a generated state dict.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { parseConfig } from '../src/engine/config.ts';
import { officialTensorShapes } from '../src/engine/model.ts';
import { writeSafetensors } from '../src/engine/safetensors.ts';
import { MAX_HEADS } from '../src/state/urlState.ts';
import { stateDict, tensorsFor } from '../test/helpers/fuzzModels.ts';
import { constant, replaceOutput, withExtraProducts } from '../test/helpers/hostileOnnx.ts';
import { MODELS_DIR } from '../test/helpers/shippedModels.ts';

test.describe.configure({ mode: 'serial', timeout: 240_000 });

const digitsOnnx = new Uint8Array(readFileSync(join(MODELS_DIR, 'digits/model.onnx')));
const DIGITS = { image_size: 28, patch_size: 7, channels: 1, num_classes: 10 };

interface Watch {
  pageErrors: string[];
  consoleErrors: string[];
}

function watch(page: Page): Watch {
  const w: Watch = { pageErrors: [], consoleErrors: [] };
  page.on('pageerror', (e) => w.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') w.consoleErrors.push(m.text());
  });
  return w;
}

/** The page's top-5 once it shows a result, and which model and sample it is for. */
async function shown(page: Page) {
  const list = page.getByTestId('top5');
  await expect(list.locator('li')).toHaveCount(5, { timeout: 90_000 });
  return { model: await list.getAttribute('data-model'), sample: Number(await list.getAttribute('data-sample')) };
}

async function openFile(page: Page, name: string, bytes: Uint8Array) {
  await page.getByTestId('model-file').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
}

/** Waits for the result of a sample click: the prediction is then for that sample, and the link says so. */
async function pickSample(page: Page, index: number) {
  // A model without its own samples shows stand-in images, folded away.
  const standIns = page.getByTestId('stand-ins');
  if ((await standIns.count()) && !(await standIns.evaluate((d) => (d as HTMLDetailsElement).open))) await standIns.locator('summary').click();
  await page.getByTestId(`sample-${index}`).click();
  await expect(page.getByTestId(`sample-${index}`)).toHaveAttribute('aria-checked', 'true');
  await expect(page).toHaveURL(new RegExp(`[?&]sample=${index}(&|$)`));
  await expect(page.getByTestId('top5')).toHaveAttribute('data-sample', String(index), { timeout: 90_000 });
}

/** A head past the old limit of 64, then the controls every view depends on: each must still work. */
async function selectHeadAndUseThePage(page: Page, head: number) {
  const thumb = page.getByTestId(`attention-head-${head}`);
  await thumb.click();
  await expect(thumb).toHaveAttribute('data-selected', 'true');
  await expect(page).toHaveURL(new RegExp(`[?&]head=${head}(&|$)`));
  await pickSample(page, 3);
  await expect(page).toHaveURL(new RegExp(`[?&]head=${head}(&|$)`));
  await page.getByTestId('view-tab-histogram').click();
  await expect(page.getByTestId('detail-figure')).toHaveAttribute('data-view', 'histogram');
  await page.getByTestId('view-tab-attention').click();
  await expect(page.getByTestId(`attention-head-${head}`)).toHaveAttribute('data-selected', 'true');
  await pickSample(page, 1);
}

test('head 70 of a 96-head model: sample clicks, tabs and the link keep working (issue 20 #1)', async ({ page }) => {
  const w = watch(page);
  const config = parseConfig({ ...DIGITS, dim: 96, depth: 1, heads: 96, dim_head: 1 });
  const tensors = tensorsFor(config)!;
  await page.goto('/?model=digits');
  await shown(page);
  await openFile(page, 'heads96.safetensors', writeSafetensors(tensors, { config: JSON.stringify(config) }));
  await expect(page.getByTestId('local-model-summary')).toContainText('heads96.safetensors', { timeout: 60_000 });
  await expect(page.getByTestId('attention-head-95')).toBeVisible({ timeout: 90_000 });
  await selectHeadAndUseThePage(page, 70);
  expect(w.pageErrors).toEqual([]);
  expect(w.consoleErrors.filter((e) => /RangeError|URL state/.test(e))).toEqual([]);
});

test('a bare d = 384 safetensors: the heads form offers no count above the limit, and head 100 of 128 works (issue 20 #1, #16)', async ({ page }) => {
  const w = watch(page);
  const config = parseConfig({ image_size: 32, patch_size: 16, channels: 3, num_classes: 10, dim: 384, depth: 1, heads: 6, dim_head: 64 });
  const bare = writeSafetensors(stateDict(officialTensorShapes(config)));
  await page.goto('/?model=digits');
  await shown(page);
  await openFile(page, 'bare384.safetensors', bare);
  const select = page.getByTestId('heads-select');
  await expect(select).toBeVisible({ timeout: 90_000 });
  const offered = (await select.locator('option').evaluateAll((options) => options.map((o) => Number((o as HTMLOptionElement).value)))).sort((a, b) => a - b);
  expect(offered).toContain(128);
  expect(Math.max(...offered)).toBeLessThanOrEqual(MAX_HEADS);
  expect(offered).toEqual([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192]);
  await select.selectOption('128');
  await page.getByTestId('heads-apply').click();
  await expect(page.getByTestId('attention-head-127')).toBeVisible({ timeout: 90_000 });
  await selectHeadAndUseThePage(page, 100);
  expect(w.pageErrors).toEqual([]);
});

/** Opens the digits model, then `bytes` as a local ONNX file. */
async function openHostile(page: Page, name: string, bytes: Uint8Array) {
  await page.goto('/?model=digits');
  await shown(page);
  await openFile(page, name, bytes);
}

test('graphs whose outputs have the wrong shape or are NaN: the page stays whole and shows the weights\' result, saying why (issue 20 #2)', async ({ page }) => {
  const w = watch(page);
  const cases: [string, Uint8Array, RegExp][] = [
    ['attention10.onnx', replaceOutput(digitsOnnx, 'layers.0.attention', [constant('layers.0.attention', [10], new Float32Array(10).fill(0.1))]), /"layers\.0\.attention" is float32\[10\], but the model's config implies float32\[1, 4, 50, 50\]/],
    ['logits3.onnx', replaceOutput(digitsOnnx, 'logits', [constant('logits', [1, 3], [5, 1, 0])]), /"logits" is float32\[1, 3\], but the model's config implies float32\[1, 10\]/],
    ['nan.onnx', replaceOutput(digitsOnnx, 'logits', [constant('logits', [1, 10], new Float32Array(10).fill(Number.NaN))]), /the classifier produced NaN logits/],
  ];
  for (const [name, bytes, message] of cases) {
    await openHostile(page, name, bytes);
    await expect(page.getByTestId('local-model-summary')).toContainText(name, { timeout: 60_000 });
    // Whatever engine was chosen, the result shown is one computed from the weights, with ten finite probabilities.
    await expect(page.getByTestId('top5')).toHaveAttribute('data-model', /^local-file/, { timeout: 90_000 });
    const probabilities = await page.getByTestId('top5').locator('li').evaluateAll((items) => items.map((i) => Number(i.getAttribute('data-probability'))));
    expect(probabilities, name).toHaveLength(5);
    for (const p of probabilities) expect(Number.isFinite(p) && p >= 0 && p <= 1, `${name}: ${p}`).toBe(true);
    await expect(page.getByTestId('engine-used')).not.toHaveAttribute('data-engine', /^ort-/);
    // Said where the graph's fault surfaced: a main run on ORT that fails falls back with a notice; while ORT is still
    // starting our engine runs the image and ORT is the check, whose failure the engine panel states.
    const said = async () => [...(await page.getByTestId('notices').allTextContents()), ...(await page.getByTestId('agreement').allTextContents())].join(' ');
    await expect.poll(said, { timeout: 90_000 }).toMatch(message);
    await expect(page.getByTestId('panel-layers')).toBeVisible();
    await expect(page.getByTestId('panel-detail')).toBeVisible();
    await pickSample(page, 2);
  }
  expect(w.pageErrors).toEqual([]);
});

test('a graph that returns constant logits: the prediction itself says the engines disagree (issue 20 #2)', async ({ page }) => {
  const w = watch(page);
  const fake = new Float32Array(10);
  fake[7] = 20;
  await openHostile(page, 'constant7.onnx', replaceOutput(digitsOnnx, 'logits', [constant('logits', [1, 10], fake)]));
  await expect(page.getByTestId('top5')).toHaveAttribute('data-model', /^local-file/, { timeout: 90_000 });
  // On a software adapter ORT is the main engine and shows the graph's lie; on a GPU it is the check. Either way the two disagree.
  const engine = await page.getByTestId('engine-used').getAttribute('data-engine');
  if (engine?.startsWith('ort-')) await expect(page.getByTestId('top5').locator('li').first()).toHaveAttribute('data-class', '7');
  await expect(page.getByTestId('agreement')).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
  expect(Number(await page.getByTestId('agreement').getAttribute('data-logits'))).toBeGreaterThan(0.1);
  const warning = page.getByTestId('panel-prediction').getByTestId('prediction-disagreement');
  await expect(warning).toBeVisible();
  await expect(warning).toContainText('The engines disagree');
  await expect(warning).toContainText('This prediction may be wrong');
  expect(w.pageErrors).toEqual([]);
});

test('the probe\'s slow graph (100 extra 2048² products) is refused when opened, and the current model stays (issue 20 #3)', async ({ page }) => {
  const w = watch(page);
  const before = await (async () => {
    await page.goto('/?model=digits');
    return shown(page);
  })();
  const slow = withExtraProducts(digitsOnnx, 100);
  const start = Date.now();
  await openFile(page, 'slow.onnx', slow);
  await expect(page.getByTestId('model-file-status')).toHaveAttribute('data-status', 'error', { timeout: 30_000 });
  const seconds = (Date.now() - start) / 1000;
  console.log(`slow.onnx (${slow.length} bytes) refused after ${seconds.toFixed(2)} s`);
  await expect(page.getByTestId('notices')).toContainText(/the graph has 144 matrix products, but a CRATE model of depth 6 needs 44.*keeping "digits"/);
  expect(await shown(page)).toEqual(before);
  await pickSample(page, 4);
  expect(w.pageErrors).toEqual([]);
});

test('a model whose activations overflow to NaN: a result on the prediction, the previous view kept and usable (issue 20 #15)', async ({ page }) => {
  const w = watch(page);
  const config = parseConfig({ ...DIGITS, dim: 32, depth: 2, heads: 2, dim_head: 16 });
  const tensors = tensorsFor(config)!;
  tensors.get('to_patch_embedding.2.weight')!.data.fill(3e38); // finite weights whose products overflow
  await page.goto('/?model=digits&sample=5');
  const before = await shown(page);
  await openFile(page, 'overflow.safetensors', writeSafetensors(tensors, { config: JSON.stringify(config) }));
  const problem = page.getByTestId('prediction-problem');
  await expect(problem).toBeVisible({ timeout: 90_000 });
  await expect(problem).toContainText(/No result for sample \d+ on overflow\.safetensors: layer 0 produced NaN/);
  // The previous result is still on the page, whole.
  expect(await shown(page)).toEqual(before);
  await expect(page.getByTestId('layer-table')).toBeVisible();
  await expect(page.getByTestId('panel-prediction').getByRole('alert').filter({ hasText: 'Error' })).toHaveCount(0);
  // And the page still works: back to a model that gives results.
  await page.getByTestId('model-select').selectOption('digits');
  await expect(page.getByTestId('top5')).toHaveAttribute('data-model', 'digits', { timeout: 90_000 });
  await expect(problem).toHaveCount(0);
  await pickSample(page, 6);
  expect(w.pageErrors).toEqual([]);
});
