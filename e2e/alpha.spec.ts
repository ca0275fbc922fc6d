import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { alphaTensorShapes } from '../src/engine/alphaModel.ts';
import { parseAnyConfig, type CrateAlphaConfig } from '../src/engine/config.ts';
import type { Preprocessing, RgbaImage } from '../src/engine/preprocess.ts';
import { writeSafetensors } from '../src/engine/safetensors.ts';
import type { Tensor } from '../src/engine/tensor.ts';
import { analyseImage } from '../src/analysis/analyseRun.ts';
import { IMAGENET_1K_CLASSES } from '../src/models/classNames.ts';
import { defaultCrop } from '../src/image/crop.ts';
import { cropAndResize } from '../src/image/resample.ts';
import { evalCropBox } from '../src/image/inputPreprocessing.ts';
import { openModelBytes } from '../src/models/modelFile.ts';
import { seededRandom, gaussian } from '../test/helpers/randomModel.ts';
import { samplesFor } from '../src/models/sampleSet.ts';
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

async function expectTop5(page: Page, expected: Pick<ReturnType<typeof analyseImage>, 'top'>) {
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
  await expect(page.getByTestId('chart-sparsity')).toContainText('Sparsity of the sparse code');
  await expect(page.getByTestId('chart-sparsity').locator('g.chart-point')).toHaveCount(depth);
  for (const [l, layer] of expected.layers.entries()) {
    // ‖z2‖₀/(r·d·N) as the α reference gives it; Z^{ℓ+1} (with its residual) would be ≈ 1.
    const shown = Number(await page.getByTestId('chart-sparsity').locator(`g.chart-point[data-layer="${l}"]`).getAttribute('data-value'));
    expect(Math.abs(shown - layer.sparsity), `layer ${l} sparsity`).toBeLessThan(2e-3);
  }
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

  // Dataset mode over the stand-in set: per-layer mean sparsity of z2, as the α reference gives it in Node.
  await page.getByTestId('dataset-toggle').check();
  const status = page.getByTestId('dataset-run');
  await expect(status).toHaveAttribute('data-status', 'ready', { timeout: 200_000 });
  const count = Number(await status.getAttribute('data-count'));
  expect(count).toBeGreaterThan(1);
  const { model } = await openModelBytes(name, bytes, { heads: 2 });
  const samples = loadShippedModel(samplesFor(manifest, model)!.id).samples.slice(0, count);
  const perImage = samples.map((image) => analyseImage(model, image).layers.map((l) => l.sparsity));
  for (let l = 0; l < depth; l++) {
    const mean = perImage.reduce((a, row) => a + row[l], 0) / count;
    expect(Math.abs(Number(await page.getByTestId(`dataset-sparsity-${l}`).getAttribute('data-mean')) - mean), `dataset layer ${l}`).toBeLessThan(1e-3);
  }
  await page.getByTestId('view-tab-objective').click();
  await expect(page.getByTestId('staircase-not-defined')).toBeVisible();
  expect(errors).toEqual([]);
});

/**
 * A CRATE-α checkpoint in the ImageNet layout (3 × 224 × 224, patch 16, 1000 classes, no names),
 * written at test time as a config-less safetensors state dict under the port's names (small width,
 * so it runs in seconds on SwiftShader). The head weights are scaled up so the 1000 logits spread
 * and the top five are far apart.
 */
function imagenetAlphaFile(): Uint8Array {
  const config = parseAnyConfig({ arch: 'crate-alpha', ratio: 2, image_size: 224, patch_size: 16, channels: 3, dim: 16, depth: 1, heads: 1, dim_head: 16, num_classes: 1000 }) as CrateAlphaConfig;
  const random = seededRandom(16);
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of alphaTensorShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? size / shape[0] : 1;
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const g = gaussian(random);
      data[i] = /norm\.weight$|mlp_head\.0\.weight$/.test(name) ? 1 + 0.1 * g : /bias$/.test(name) ? 0.1 * g : name === 'mlp_head.1.weight' ? (4 * g) / Math.sqrt(fanIn) : g / Math.sqrt(fanIn);
    }
    tensors.set(name, { shape, data });
  }
  return writeSafetensors(tensors);
}

/** A 320×200 RGB photo stand-in (smooth gradients and a bright disc off centre), as PNG bytes and as the pixels Node analyses. */
function photo(): { png: Buffer; image: RgbaImage } {
  const [width, height] = [320, 200];
  const png = new PNG({ width, height, colorType: 2 });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const disc = (x - 200) ** 2 + (y - 90) ** 2 < 50 ** 2;
      png.data[i] = disc ? 250 : (x * 255) / width;
      png.data[i + 1] = disc ? 220 : (y * 255) / height;
      png.data[i + 2] = disc ? 40 : 128 + 100 * Math.sin(x / 17);
      png.data[i + 3] = 255;
    }
  }
  const bytes = PNG.sync.write(png, { colorType: 2 });
  const decoded = PNG.sync.read(bytes);
  return { png: bytes, image: { width, height, data: new Uint8ClampedArray(decoded.data) } };
}

test('an ImageNet-layout CRATE-α file: the evaluation transform by default, its crop outlined, squash and a placed crop on request, ImageNet class names', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/?model=digits');
  await top5(page);
  const name = 'imagenet_alpha.safetensors';
  const bytes = imagenetAlphaFile();
  await page.getByTestId('model-file').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  await expect(page.getByTestId('local-model-summary')).toContainText(`${name} · safetensors`, { timeout: 60_000 });
  const { model } = await openModelBytes(name, bytes);
  expect(model.config.arch).toBe('crate-alpha');
  const expectOn = async (image: RgbaImage, kind?: Preprocessing) => expectTop5(page, analyseImage(model, image, kind));

  // A stand-in sample, through the evaluation transform (the default for this layout).
  const sample = loadShippedModel(samplesFor(manifest, model)!.id).samples[0];
  await expectOn(sample);
  const panel = page.getByTestId('preprocessing-panel');
  await expect(panel).toHaveAttribute('data-kind', 'imagenet-eval');
  await expect(page.getByTestId('preprocessing')).toContainText('shorter side resized to 256');
  // 1000 classes and no names: ImageNet-1k's, and the model's notes say so.
  const first = (await top5(page))[0].cls;
  await expect(page.getByTestId('top5').locator('li').first()).toContainText(IMAGENET_1K_CLASSES[first].split(',')[0]);
  await expect(page.locator('details', { hasText: /^What was assumed/ })).toContainText('ImageNet-1k names');

  // A photo: the centre crop of the shorter-side-256 resize, outlined on the photo.
  const { png, image } = photo();
  await page.getByTestId('image-file').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png });
  await expect(page).toHaveURL(/source=upload/);
  await expectOn(image);
  const outline = page.getByTestId('preprocessing-outline');
  await expect.poll(async () => JSON.parse((await outline.getAttribute('data-outline')) ?? 'null')).toEqual(evalCropBox(320, 200));
  await expect(page.getByTestId('crop-editor')).toHaveAttribute('data-outline', 'auto');
  await page.screenshot({ path: `${ARTIFACTS}/alpha-imagenet-eval.png`, fullPage: true });

  // Squash: the whole photo resized to 224×224; the link records the choice.
  await page.getByTestId('prep-select').selectOption('squash');
  await expect(page).toHaveURL(/prep=squash/);
  await expectOn(image, 'squash');
  await expect(panel).toHaveAttribute('data-kind', 'squash');
  await expect.poll(async () => JSON.parse((await outline.getAttribute('data-outline')) ?? 'null')).toEqual({ x: 0, y: 0, width: 320, height: 200 });

  // The hand-placed crop: the crop editor's square (centred by default), resampled to 224×224.
  await page.getByTestId('prep-select').selectOption('crop');
  await expect(page).toHaveURL(/prep=crop/);
  await expect(panel).toHaveAttribute('data-choice', 'crop');
  await expectOn(cropAndResize(image, defaultCrop(320, 200, 1), 224, 224), 'squash');
  await expect(page.getByTestId('crop-editor')).toHaveAttribute('data-outline', 'crop');

  // Back to the evaluation transform; dragging the crop outline places a crop by hand, which becomes the choice.
  await page.getByTestId('prep-select').selectOption('auto');
  await expect(page).not.toHaveURL(/prep=/);
  await expect(panel).toHaveAttribute('data-kind', 'imagenet-eval');
  const editor = page.getByTestId('crop-editor');
  await expect(editor).toHaveAttribute('data-outline', 'auto');
  await editor.scrollIntoViewIfNeeded();
  const box = (await editor.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2, { steps: 4 });
  await page.mouse.move(box.x + box.width + 200, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
  await expect(page).toHaveURL(/prep=crop/);
  await expect(editor).toHaveAttribute('data-outline', 'crop');
  // The centre square dragged to the right edge: x = 320 − 200.
  await expectOn(cropAndResize(image, { x: 120, y: 0, width: 200, height: 200 }, 224, 224), 'squash');
  expect(errors).toEqual([]);
});

test('a CRATE-α ONNX export whose dh is not a multiple of 4 runs on onnxruntime-web, checked by the α CPU reference', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/?model=digits');
  await top5(page);
  const name = 'alpha_r2_dh6.onnx';
  const bytes = new Uint8Array(readFileSync(join('fixtures/alpha', name)));
  await page.getByTestId('model-file').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  await expect(page.getByTestId('local-model-summary')).toContainText(`${name} · onnx`, { timeout: 60_000 });
  const { model } = await openModelBytes(name, bytes);
  expect(model.config.arch).toBe('crate-alpha');
  await expectTop5(page, analyseImage(model, loadShippedModel(samplesFor(manifest, model)!.id).samples[0]));
  // The WGSL kernels need d and dh multiples of 4 (d = 30, dh = 6 here): ORT runs it, and says why.
  await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', /^ort-/);
  await expect(page.getByTestId('engine-used')).toContainText('multiple of 4');
  await page.getByTestId('view-tab-histogram').click();
  // ORT's graph outputs z2 (layers.ℓ.sparse_code): 37 tokens × 2 × 30 entries, not Z^{ℓ+1}'s 37 × 30.
  await expect(page.getByTestId('histogram')).toHaveAttribute('data-total', String(37 * 2 * 30));
  await expect(page.getByTestId('histogram')).toContainText('sparse code z2');
  expect(errors).toEqual([]);
});
