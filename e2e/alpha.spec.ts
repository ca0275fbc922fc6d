import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyseImage } from '../src/state/analyse.ts';
import { openModelBytes } from '../src/state/modelFile.ts';
import { samplesFor } from '../src/state/sampleSet.ts';
import { loadShippedModel, shippedManifest } from '../test/helpers/shippedModels.ts';

/**
 * Issue 16 in the browser: a CRATE-α checkpoint (the port's plain state dict, fixtures/alpha/,
 * written by tools/make_alpha_fixtures.py) opened through the file input gets the whole explorer:
 * prediction, layer charts, attention, the histogram of its sparse code z2, and a clear note where a
 * CRATE figure is not defined for it (docs/MEASUREMENTS.md §1.1).
 */

const ARTIFACTS = 'e2e/artifacts';
mkdirSync(ARTIFACTS, { recursive: true });
const manifest = shippedManifest();

/** The page's top-5 as (class, probability) pairs. */
async function top5(page: Page): Promise<{ cls: number; p: number }[]> {
  const items = page.getByTestId('top5').locator('li');
  await expect(items).toHaveCount(5, { timeout: 90_000 });
  return items.evaluateAll((nodes) => nodes.map((n) => ({ cls: Number(n.getAttribute('data-class')), p: Number(n.getAttribute('data-probability')) })));
}

/** What the page must show on sample 0: the file read by the app's own loader in Node, on the sample set the app picks, through the CRATE-α CPU reference. */
async function expectedTop5(name: string, bytes: Uint8Array, heads: number) {
  const { model } = await openModelBytes(name, bytes, { heads });
  expect(model.config.arch).toBe('crate-alpha');
  const set = samplesFor(manifest, model)!;
  const image = loadShippedModel(set.id).samples[0];
  return analyseImage(model, image);
}

async function expectTop5(page: Page, expected: Awaited<ReturnType<typeof expectedTop5>>) {
  const classes = expected.top.map((c) => c.index);
  await expect.poll(async () => (await top5(page)).map((t) => t.cls), { message: 'top-5 classes as Node computes them', timeout: 90_000 }).toEqual(classes);
  for (const [i, shown] of (await top5(page)).entries()) expect(Math.abs(shown.p - expected.top[i].probability), `class ${shown.cls}`).toBeLessThan(1e-4);
}

test('a CRATE-α .pth opened through the file input shows prediction, charts and attention, as the α CPU reference computes them', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/?model=digits');
  await top5(page);

  const name = 'alpha_r4.pth';
  const bytes = new Uint8Array(readFileSync(join('fixtures/alpha', name)));
  await page.getByTestId('model-file').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  const summary = page.getByTestId('local-model-summary');
  await expect(summary).toContainText(`${name} · PyTorch checkpoint`, { timeout: 60_000 });
  await expect(page.getByTestId('model-select')).toHaveValue('local-file');

  // Heads are not stored: the app proposes one (1 head of 24 here), and the form re-opens the file with the generator's 2.
  await expect(page.getByTestId('heads-select')).toHaveValue('1');
  await expectTop5(page, await expectedTop5(name, bytes, 1));
  await page.getByTestId('heads-select').selectOption('2');
  await page.getByTestId('heads-apply').click();
  await expect(page.getByTestId('heads-select')).toHaveValue('2', { timeout: 60_000 });
  const expected = await expectedTop5(name, bytes, 2);
  await expectTop5(page, expected);

  // Charts: one point per layer, the sparsity chart drawn from z2 (sparse; Z^{ℓ+1} would be dense).
  const depth = expected.layers.length;
  for (const chart of ['chart-coding-rate', 'chart-sparsity']) await expect(page.getByTestId(chart)).toBeVisible();
  // Attention: one map per head.
  await page.getByTestId('view-tab-attention').click();
  await expect(page.getByTestId('attention-grid')).toBeVisible();
  // The histogram counts z2's N·r·d entries: 17 tokens × 4 × 24.
  await page.getByTestId('view-tab-histogram').click();
  const histogram = page.getByTestId('histogram');
  await expect(histogram).toHaveAttribute('data-total', String(17 * 4 * 24));
  await expect(histogram).toContainText('sparse code z2');
  // The LASSO staircase is not defined for CRATE-α, and says why.
  await page.getByTestId('view-tab-objective').click();
  await expect(page.getByTestId('staircase-not-defined')).toContainText('not defined for CRATE-α');
  await page.getByTestId('view-tab-coherence').click();
  await expect(page.getByTestId('coherence-view')).toBeVisible();
  await expect(page.getByTestId('dictionary-not-defined')).toContainText('not defined for CRATE-α');
  await page.getByTestId('view-tab-attention').click();
  await expect(page.getByTestId('attention-grid')).toBeVisible();
  expect(depth).toBe(2);
  await page.screenshot({ path: `${ARTIFACTS}/alpha.png`, fullPage: true });
  expect(errors).toEqual([]);
});
