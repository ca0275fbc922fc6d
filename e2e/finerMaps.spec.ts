/**
 * Finer maps (issue 16, docs/MEASUREMENTS.md §1.2): the "Input size" control offers multiples of
 * the model's side with the token count and the cost that Node's runCost gives, before anything
 * runs; a link's `size` runs the model at that side, and the attention maps get the finer grid
 * (checked against Node's CPU reference on the model resized with atImageSize).
 *
 * The default model (28 px digits, patch 4) is used: at 56 px its grid goes from 7×7 to 14×14.
 */
import { expect, test, type Page } from '@playwright/test';
import { attentionMaps } from '../src/analysis/attention.ts';
import { cpuForward } from '../src/engine/cpu/reference.ts';
import { atImageSize, runCost } from '../src/engine/posEmbedding.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { loadShippedModel, shippedManifest } from '../test/helpers/shippedModels.ts';

const manifest = shippedManifest();
const shipped = loadShippedModel(manifest.defaultModel);
const { config, shape } = shipped.model;
const side = shape.imageHeight;
const double = 2 * side;
const own = runCost(shipped.model, side, side);
const fine = runCost(shipped.model, double, double);

async function waitForResults(page: Page) {
  await expect(page.getByTestId('top5').locator('li')).toHaveCount(5);
  await expect(page.getByTestId('detail-figure')).toBeVisible();
}

async function largeMap(page: Page): Promise<number[]> {
  const raw = (await page.getByTestId('attention-large').getAttribute('data-values')) ?? '';
  return raw.split(',').map(Number);
}

test('the input size control shows Node\'s token count and cost before running, and sets the link', async ({ page }) => {
  await page.goto(`/?engine=cpu&size=${double}`);
  const control = page.getByTestId('input-size');
  await expect(control).toBeVisible();
  await expect(control).toHaveAttribute('data-side', String(double));
  await expect(control).toHaveAttribute('data-tokens', String(fine.tokens));
  const relative = (fine.multiplyAdds / own.multiplyAdds).toFixed(1);
  const option = page.getByTestId('input-size-select').locator(`option[value="${double}"]`);
  await expect(option).toHaveText(`${double} × ${double} · ${fine.tokens} tokens · ${relative}× the cost`);
  await expect(page.getByTestId('input-size-select').locator('option[value="0"]')).toHaveText(`${side} × ${side} · ${own.tokens} tokens · the model’s own size`);
  await expect(page.getByTestId('input-size-cost')).toContainText(`${fine.tokens} tokens (the model’s own ${side} × ${side}: ${own.tokens})`);
  // The choice is the link's `size`: back to the model's own size leaves it out of the link.
  await page.getByTestId('input-size-select').selectOption('0');
  await expect(page).not.toHaveURL(/[?&]size=/);
  await expect(control).toHaveAttribute('data-tokens', String(own.tokens));
  await page.getByTestId('input-size-select').selectOption(String(double));
  await expect(page).toHaveURL(new RegExp(`[?&]size=${double}(&|$)`));
});

test('a size the model cannot take goes back to its own, with a notice', async ({ page }) => {
  await page.goto(`/?engine=cpu&size=${double + 1}`);
  await expect(page.getByTestId('input-size')).toHaveAttribute('data-side', String(side));
  await expect(page.getByText(new RegExp(`input size ${double + 1}: ${double + 1} is not a multiple of the patch size ${config.patch_size}`)).first()).toBeVisible();
  await expect(page).not.toHaveURL(/[?&]size=/);
});

test('at twice the side, the attention map grid doubles and matches Node on the resized model', async ({ page }) => {
  await page.goto('/?engine=cpu');
  await waitForResults(page);
  const cells = shape.gridHeight * shape.gridWidth;
  expect(await largeMap(page)).toHaveLength(cells);

  await page.goto(`/?engine=cpu&size=${double}`);
  await waitForResults(page);
  await expect(page.getByTestId('input-size')).toHaveAttribute('data-side', String(double));
  // Node: the sample squashed to double × double, the model with its positional embedding interpolated.
  const resized = atImageSize(shipped.model, double, double);
  const trace = cpuForward(resized, imageToTensor(shipped.samples[0], resized.config));
  const grid = { height: resized.shape.gridHeight, width: resized.shape.gridWidth };
  const wanted = attentionMaps(trace.layers[0].attention, config.heads, resized.shape.tokens, grid, 0).mean;
  await expect.poll(async () => (await largeMap(page)).length, { message: 'attention cells at twice the side' }).toBe(4 * cells);
  const actual = await largeMap(page);
  let worst = 0;
  for (let i = 0; i < wanted.length; i++) worst = Math.max(worst, Math.abs(actual[i] - wanted[i]));
  expect(worst, 'worst |page − Node| of the layer-0 mean map').toBeLessThanOrEqual(1e-4);
});
