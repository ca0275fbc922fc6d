/**
 * Issue 19, "the lecture and the paper": the lecturer who projects the app at
 * 1280×720 and the researcher who brings a checkpoint and photos. One query
 * naming everywhere, the paper variant's own numbers, no borrowed IoU for a
 * model without samples, a copy-link warning for local models, presentation
 * and phone layouts, captioned figure exports with unique names, and dataset
 * mode over the user's own images.
 *
 * Pages open with ?engine=cpu where the engine does not matter (the views do
 * not depend on it, docs/ARCHITECTURE.md), as e2e/views.spec.ts does.
 */
import { expect, test, type Download, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGENET_1K_CLASSES } from '../src/models/classNames.ts';
import { formatRate } from '../src/ui/format.ts';
import { readTextChunks } from '../src/viz/pngText.ts';
import { sparsity } from '../src/analysis/sparsity.ts';
import { officialCodingRate } from '../src/analysis/codingRate.ts';
import { cpuForward } from '../src/engine/cpu/reference.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { PNG } from 'pngjs';
import { loadShippedModel } from '../test/helpers/shippedModels.ts';

const ARTIFACTS = 'e2e/artifacts';
mkdirSync(ARTIFACTS, { recursive: true });

const scenes = loadShippedModel('scenes');


async function waitForResults(page: Page) {
  await expect(page.getByTestId('top5').locator('li')).toHaveCount(5, { timeout: 90_000 });
  await expect(page.getByTestId('detail-figure')).toBeVisible();
}

async function savedText(download: Download): Promise<string> {
  return readFileSync((await download.path())!, 'utf8');
}

/** Files dropped on the page (not on the image zone), as a user drags them from the desktop. */
async function dropOnPage(page: Page, files: { name: string; bytes: Uint8Array; type?: string }[]) {
  await page.evaluate(
    (list) => {
      const transfer = new DataTransfer();
      for (const { b64, name, type } of list) transfer.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type }));
      document.querySelector('h1')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    },
    files.map((f) => ({ b64: Buffer.from(f.bytes).toString('base64'), name: f.name, type: f.type ?? '' })),
  );
}

/** An ImageNet-shaped checkpoint (224×224, 1,000 classes, 2 layers) written by tools/make_checkpoints.py, as the researcher brings one. */
function imagenetShapedPth(): string {
  const dir = mkdtempSync(join(tmpdir(), 'crate-lecture-'));
  execFileSync(process.env.CRATE_PYTHON || '/usr/bin/python3', ['tools/make_checkpoints.py', '--out', dir, '--size', 'crate-t-d2', '--no-golden'], { stdio: 'pipe', timeout: 120_000 });
  return join(dir, 'crate-t-d2.pth');
}

test('bug 1: one query token has one name in the URL, on the page, in the figure and in the file name', async ({ page }) => {
  const gridWidth = scenes.model.shape.gridWidth;
  const query = 38;
  const row = Math.floor((query - 1) / gridWidth);
  const col = (query - 1) % gridWidth;
  await page.goto(`/?model=scenes&view=attention&query=${query}&engine=cpu&head=0`);
  await waitForResults(page);
  const label = `token ${query} · patch (row ${row}, col ${col})`;
  await expect(page.getByTestId('attention-query')).toHaveText(label);
  await expect(page.getByTestId('attention-grid').locator('text.figure-label').first()).toHaveText(`head 0, query ${label}`);
  const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-svg').click()]);
  expect(svg.suggestedFilename()).toBe(`crate-scenes-s0-l0-attention-h0-q${query}.svg`);
  const markup = await savedText(svg);
  expect(markup).toContain(`query ${label}`);
  expect(markup).not.toMatch(new RegExp(`patch ${query - 1}\\b`));
  // A click on that grid cell names the same token, and the URL follows.
  await page.getByTestId('query-reset').click();
  await page.getByTestId(`attention-patch-${query - 1}`).click();
  await expect(page).toHaveURL(new RegExp(`query=${query}(&|$)`));
  await expect(page.getByTestId('attention-query')).toHaveText(label);

  // Two heads' exports get two different file names (they overwrote each other before).
  await page.getByTestId('attention-head-1').click();
  const [second] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-svg').click()]);
  expect(second.suggestedFilename()).toBe(`crate-scenes-s0-l0-attention-h1-q${query}.svg`);
  expect(second.suggestedFilename()).not.toBe(svg.suggestedFilename());
});

test('bug 2: with rate=paper the heading and the table print the paper values the chart marks', async ({ page }) => {
  await page.goto('/?model=scenes&engine=cpu&rate=paper&layer=0');
  await waitForResults(page);
  const chart = page.getByTestId('chart-coding-rate');
  await expect(chart).toHaveAttribute('data-series', 'paper');
  const marked = Number(await chart.locator('g.chart-point[data-layer="0"]').getAttribute('data-value'));
  await expect(page.getByTestId('layer-detail-rate')).toHaveText(formatRate(marked));
  await expect(page.getByTestId('layer-detail')).toContainText('paper');
  await expect(page.getByTestId('rate-column')).toHaveAttribute('data-variant', 'paper');
  const depth = scenes.model.config.depth;
  for (let l = 0; l < depth; l++) {
    const point = Number(await chart.locator(`g.chart-point[data-layer="${l}"]`).getAttribute('data-value'));
    expect(Number(await page.getByTestId(`rate-${l}`).getAttribute('data-value'))).toBe(point);
  }
  await expect(page.getByTestId('panel-layers')).not.toContainText('DESIGN');
  // Back to the official variant: the same cells now print the official Rᶜ, which differs.
  await page.getByTestId('rate-variant-official').check();
  await expect(page.getByTestId('rate-column')).toHaveAttribute('data-variant', 'official');
  expect(Number(await page.getByTestId('rate-0').getAttribute('data-value'))).not.toBe(marked);
});

test('bugs 3 and 5: a .pth without samples gets no borrowed IoU or gallery; copying its link warns', async ({ page, context }) => {
  test.setTimeout(300_000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const path = imagenetShapedPth();
  await page.goto('/?model=scenes&engine=cpu&view=segmentation');
  await waitForResults(page);
  // The scenes model's own samples do have IoU: the check below can fail.
  await expect(page.getByTestId('chart-iou')).not.toHaveAttribute('data-missing', 'true');
  // Every text the model note shows while the file loads is recorded (no transient state can slip by): none may name another model's samples.
  await page.evaluate(() => {
    const w = window as unknown as { notes: string[] };
    w.notes = [];
    const panel = document.querySelector('[data-testid="panel-input"]')!;
    // Only once the select names the file: before that the note rightly describes the shipped model.
    const record = () => {
      if ((panel.querySelector('[data-testid="model-select"]') as HTMLSelectElement | null)?.value === 'local-file') w.notes.push(panel.querySelector('[data-testid="model-description"]')?.textContent ?? '');
    };
    new MutationObserver(record).observe(panel, { subtree: true, childList: true, characterData: true });
  });
  await dropOnPage(page, [{ name: 'crate-t-d2.pth', bytes: readFileSync(path) }]);
  await expect(page.getByTestId('model-select')).toHaveValue('local-file', { timeout: 60_000 });
  await expect(page.getByTestId('local-model-summary')).toContainText('first result', { timeout: 120_000 });
  await expect(page.getByTestId('chart-iou')).toHaveAttribute('data-missing', 'true');
  await expect(page.getByTestId('chart-iou')).toContainText('no samples ship with this model');
  await expect(page.getByTestId('no-samples')).toHaveText('No samples ship with this model; drop your images.');
  await expect(page.getByTestId('panel-input')).not.toContainText('Held-out samples');
  await expect(page.getByTestId('model-description')).not.toContainText('samples are');
  const notes = await page.evaluate(() => (window as unknown as { notes: string[] }).notes);
  expect(notes.length, 'the observer saw the note change').toBeGreaterThan(0);
  for (const note of notes) expect(note).not.toMatch(/Digits \(MNIST\)|Digit scenes|samples are/);
  await expect(page.getByTestId('segmentation-best')).toHaveCount(0);
  await page.screenshot({ path: `${ARTIFACTS}/lecture-local-model.png`, fullPage: true });

  await page.getByTestId('copy-link').click();
  await expect(page.getByTestId('copy-link-status')).toHaveAttribute('data-state', 'copied-with-caveats');
  await expect(page.getByTestId('copy-link-caveat')).toContainText('the link cannot reopen your model file "crate-t-d2.pth"');

  // Class names: the checkpoint has none, so ImageNet-1k's are assumed (issue 16); a labels file names its 1,000 classes, and they stay with the model.
  const top = page.getByTestId('top5').locator('li .topk-label').first();
  const topClass = Number(await page.getByTestId('top5').locator('li').first().getAttribute('data-class'));
  await expect(top).toHaveText(IMAGENET_1K_CLASSES[topClass]);
  await expect(page.getByTestId('labels-file')).toHaveAttribute('data-named', 'imagenet-1k');
  await page.getByTestId('labels-input').setInputFiles({ name: 'short.txt', mimeType: 'text/plain', buffer: Buffer.from('cat\ndog') });
  await expect(page.getByTestId('labels-status')).toHaveText(/short\.txt: the file has 2 names, but the model has 1000 classes/);
  const names = Array.from({ length: 1000 }, (_, i) => `class ${i}`).join('\n');
  await page.getByTestId('labels-input').setInputFiles({ name: 'labels.txt', mimeType: 'text/plain', buffer: Buffer.from(names) });
  await expect(page.getByTestId('labels-status')).toHaveAttribute('data-ok', 'true');
  await expect(top).toHaveText(/^class \d+$/);
  await page.goto('/?model=scenes&engine=cpu');
  await waitForResults(page);
  await dropOnPage(page, [{ name: 'crate-t-d2.pth', bytes: readFileSync(path) }]);
  await expect(page.getByTestId('local-model-summary')).toContainText('first result', { timeout: 120_000 });
  await expect(top).toHaveText(/^class \d+$/);
  await expect(page.getByTestId('labels-file')).toHaveAttribute('data-named', 'true');
});

test('bug 5: copying the link of a shipped model and sample says plainly that it was copied', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto('/?model=digits&engine=cpu');
  await waitForResults(page);
  await page.getByTestId('copy-link').click();
  await expect(page.getByTestId('copy-link-status')).toHaveText('✓ Link copied');
});


/** Every box of `locators` lies inside the viewport. */
async function expectInViewport(page: Page, testIds: string[]) {
  const { width, height } = page.viewportSize()!;
  for (const id of testIds) {
    const box = await page.getByTestId(id).first().boundingBox();
    expect(box, `${id} is laid out`).not.toBeNull();
    expect(box!.x, `${id} left`).toBeGreaterThanOrEqual(0);
    expect(box!.y, `${id} top`).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width, `${id} right edge within ${width}`).toBeLessThanOrEqual(width + 0.5);
    expect(box!.y + box!.height, `${id} bottom edge within ${height}`).toBeLessThanOrEqual(height + 0.5);
  }
}

/** The smallest on-screen size of the text in `selector`: CSS font size × the SVG's scale (viewBox → pixels). */
async function smallestTextPx(page: Page, selector: string): Promise<{ px: number; text: string; count: number }> {
  return page.evaluate((sel) => {
    let px = Infinity;
    let text = '';
    const nodes = [...document.querySelectorAll<SVGTextElement | HTMLElement>(sel)].filter((n) => (n.textContent ?? '').trim() !== '');
    for (const node of nodes) {
      const size = parseFloat(getComputedStyle(node).fontSize);
      const svg = node instanceof SVGElement ? node.ownerSVGElement : null;
      const scale = svg ? (svg.getScreenCTM()?.a ?? 1) : 1;
      if (size * scale < px) (px = size * scale), (text = node.textContent ?? '');
    }
    return { px, text, count: nodes.length };
  }, selector);
}

test('presentation layout at 1280×720: curves, detail figure and numbers on one screen, chart text ≥ 14 px, keys as before', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/?model=scenes&engine=cpu&present=1&layer=2&view=attention');
  await waitForResults(page);
  await expect(page.getByTestId('app')).toHaveAttribute('data-present', 'true');
  await expect(page.getByTestId('present-toggle')).toBeChecked();
  await expectInViewport(page, ['chart-coding-rate', 'chart-sparsity', 'chart-iou', 'attention-grid', 'layer-detail', 'layer-detail-iou']);
  // Chart tick labels, axis titles and readouts, as rendered (font size × SVG scale), and the captions.
  for (const chart of ['chart-coding-rate', 'chart-sparsity', 'chart-iou']) {
    const smallest = await smallestTextPx(page, `[data-testid="${chart}"] svg text`);
    expect(smallest.count, `${chart} has text`).toBeGreaterThan(5);
    expect(smallest.px, `${chart}: "${smallest.text}"`).toBeGreaterThanOrEqual(14);
    const caption = await smallestTextPx(page, `[data-testid="${chart}"] figcaption > span`);
    expect(caption.px, `${chart} caption`).toBeGreaterThanOrEqual(14);
  }
  // The Engine panel and the gallery are out of the way until asked for.
  await expect(page.getByTestId('panel-engine')).toBeHidden();
  await expect(page.getByTestId('gallery')).toBeHidden();
  await page.screenshot({ path: `${ARTIFACTS}/lecture-present.png` });
  // ← → and ↑ ↓ work as in the normal layout.
  await page.keyboard.press('ArrowRight');
  await expect(page).toHaveURL(/layer=3(&|$)/);
  await page.keyboard.press('ArrowDown');
  await expect(page).toHaveURL(/head=0(&|$)/);
  await expectInViewport(page, ['chart-coding-rate', 'attention-grid', 'layer-detail']);
  // Every detail view's figure fits too.
  for (const view of ['segmentation', 'histogram', 'pca']) {
    await page.getByTestId(`view-tab-${view}`).click();
    await expect(page.getByTestId('detail-figure')).toHaveAttribute('data-view', view);
    const figure = page.getByTestId('detail-figure').locator('svg[data-figure]').first();
    await expect(figure).toBeVisible();
    const box = (await figure.boundingBox())!;
    expect(box.y + box.height, `${view} figure bottom`).toBeLessThanOrEqual(720.5);
    // Not squeezed to a thumbnail: the segmentation strip is wide rather than tall, so compare areas.
    expect(box.width * box.height, `${view} figure area`).toBeGreaterThan(60_000);
    await page.screenshot({ path: `${ARTIFACTS}/lecture-present-${view}.png` });
  }
  await page.getByTestId('view-tab-attention').click();
  // The drawer brings the inputs back; the toggle leaves the layout and the link follows.
  await page.getByTestId('present-drawer').click();
  await expect(page.getByTestId('panel-engine')).toBeVisible();
  await page.screenshot({ path: `${ARTIFACTS}/lecture-present-drawer.png` });
  await page.getByTestId('present-toggle').uncheck();
  await expect(page).not.toHaveURL(/present=/);
  await expect(page.getByTestId('panel-engine')).toBeVisible();
});

test('the layer curves export as SVG and PNG with a caption and provenance naming the model', async ({ page }) => {
  await page.goto('/?model=scenes&engine=cpu&layer=1');
  await waitForResults(page);
  const name = scenes.entry.name;
  const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('chart-coding-rate-export-svg').click()]);
  expect(svg.suggestedFilename()).toBe('crate-scenes-s0-layers-rate-official.svg');
  const markup = await savedText(svg);
  expect(markup).toContain(`model ${name}`);
  expect(markup).toMatch(/<title>Coding rate per layer; model /);
  expect(markup).toMatch(/<metadata>\{"format":"crate-explorer\/figure@1"/);
  expect(markup).toContain('ε² = 0.01');
  expect(markup).toContain('engine: CPU');
  expect((markup.match(/class="chart-point/g) ?? []).length).toBe(scenes.model.config.depth);
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('chart-sparsity-export-png').click()]);
  expect(png.suggestedFilename()).toBe('crate-scenes-s0-layers-sparsity.png');
  const bytes = new Uint8Array(readFileSync((await png.path())!));
  const text = readTextChunks(bytes);
  expect(text.Title).toContain(`model ${name}`);
  expect(text.Description).toContain('resize: ');
  expect(JSON.parse(text.Comment).model.id).toBe('scenes');
});

test('the normal layout at 1280×720: the model select shows its whole option, the figures start higher', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/?model=digits&engine=cpu');
  await waitForResults(page);
  const select = page.getByTestId('model-select');
  const fits = await select.evaluate((el: HTMLSelectElement) => {
    // The selected option's text, measured in the select's font, against the select's inner width.
    const context = document.createElement('canvas').getContext('2d')!;
    context.font = getComputedStyle(el).font;
    return { text: context.measureText(el.selectedOptions[0].text).width, box: el.clientWidth - 24 };
  });
  expect(fits.text, 'option text width vs the select').toBeLessThanOrEqual(fits.box);
  await page.screenshot({ path: `${ARTIFACTS}/lecture-normal-1280.png`, fullPage: true });
  const top = (await page.getByTestId('attention-grid').boundingBox())!.y;
  console.log(`normal layout 1280×720: attention maps start ${top.toFixed(0)} px down`);
  // 1,190 px before issue 19; the presentation layout (present=1) is the one-screen answer.
  expect(top).toBeLessThan(1100);
});

test('phone 390×844: charts before the engine details, tables fit, figure labels ≥ 11 px', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/?model=scenes&engine=cpu&view=attention');
  await waitForResults(page);
  const chartTop = (await page.getByTestId('chart-coding-rate').boundingBox())!.y;
  const engineTop = (await page.getByTestId('panel-engine').boundingBox())!.y;
  console.log(`phone: charts start ${chartTop.toFixed(0)} px down, the engine panel ${engineTop.toFixed(0)} px`);
  expect(chartTop).toBeLessThan(engineTop);
  expect(chartTop, 'the charts start on the first screen').toBeLessThan(844);
  // Nothing is wider than the screen: tables fit (or scroll inside their own box).
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  for (const table of await page.locator('table:visible').all()) {
    const box = (await table.boundingBox())!;
    const scrolls = await table.evaluate((t) => {
      const parent = t.parentElement!;
      return ['auto', 'scroll'].includes(getComputedStyle(parent).overflowX) && parent.getBoundingClientRect().right <= 390;
    });
    expect(box.x + box.width <= 390 || scrolls, 'a table fits or scrolls in its own box').toBe(true);
  }
  for (const selector of ['[data-testid="attention-grid"] text', '[data-testid="chart-coding-rate"] svg text', '[data-testid="chart-sparsity"] svg text']) {
    const smallest = await smallestTextPx(page, selector);
    expect(smallest.px, `${selector}: "${smallest.text}"`).toBeGreaterThanOrEqual(11);
  }
  await page.screenshot({ path: `${ARTIFACTS}/lecture-phone.png`, fullPage: true });
});

test('your own images: a multi-file drop runs dataset mode on those files, with the numbers Node computes', async ({ page }) => {
  test.setTimeout(180_000);
  const digits = loadShippedModel('digits');
  const { model } = digits;
  const picked = [3, 8, 11];
  const files = picked.map((i) => {
    const png = new PNG({ width: digits.samples[i].width, height: digits.samples[i].height });
    png.data.set(digits.samples[i].data);
    return { name: `photo-${i}.png`, bytes: new Uint8Array(PNG.sync.write(png)), type: 'image/png' };
  });
  // A labels file among them is not an image: skipped, and said so.
  files.push({ name: 'notes.txt', bytes: new TextEncoder().encode('not an image'), type: 'text/plain' });
  await page.goto('/?model=digits&engine=cpu');
  await waitForResults(page);
  await dropOnPage(page, files);
  await expect(page.getByTestId('dataset-toggle')).toBeChecked();
  const status = page.getByTestId('dataset-run');
  await expect(status).toHaveAttribute('data-status', 'ready', { timeout: 120_000 });
  await expect(status).toHaveAttribute('data-count', String(picked.length));
  await expect(status).toContainText(`your ${picked.length} images`);
  await expect(status).not.toContainText(/accuracy \d/);
  await expect(page.getByTestId('notices')).toContainText('notes.txt');
  const { tokens } = model.shape;
  const traces = picked.map((i) => cpuForward(model, imageToTensor(digits.samples[i], model.config)));
  for (let l = 0; l < model.config.depth; l++) {
    const rates = traces.map((t) => officialCodingRate(t.layers[l].w, tokens, model.config.heads, model.config.dim_head));
    const sparsities = traces.map((t) => sparsity(t.layers[l].zNext).l0Fraction);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(Math.abs(Number(await page.getByTestId(`dataset-rate-${l}`).getAttribute('data-mean')) - mean(rates))).toBeLessThan(1e-3 * mean(rates));
    expect(Math.abs(Number(await page.getByTestId(`dataset-sparsity-${l}`).getAttribute('data-mean')) - mean(sparsities))).toBeLessThan(1e-3);
  }
  // The table has the layer panel's width to itself.
  const table = (await page.getByTestId('dataset-table').boundingBox())!;
  expect(table.width).toBeGreaterThan(400);
  await page.screenshot({ path: `${ARTIFACTS}/lecture-own-images.png`, fullPage: true });
  // Back to the sample set: a new run over the shipped samples.
  await page.getByTestId('dataset-use-samples').click();
  await expect(status).not.toContainText('your 3 images', { timeout: 120_000 });
});

test('a long dataset run shows images done, time per image and time left, and Cancel stops it', async ({ page }) => {
  // 100+ digit images on the CPU reference take many seconds here: the run is observably in progress.
  await page.goto('/?model=digits&engine=cpu');
  await waitForResults(page);
  await page.getByTestId('dataset-toggle').check();
  const line = page.getByTestId('dataset-status');
  await expect(line).toContainText(/Dataset: \d+ of \d+ images · [\d.]+ (ms|s) per image · about .+ left/, { timeout: 60_000 });
  const done = Number(/Dataset: (\d+) of/.exec((await line.textContent()) ?? '')![1]);
  await page.getByTestId('panel-layers').getByTestId('dataset-cancel').click();
  await expect(page.getByTestId('dataset-toggle')).not.toBeChecked();
  await expect(page).not.toHaveURL(/dataset=1/);
  await expect(line).toHaveCount(0);
  expect(done).toBeGreaterThan(0);
});
