/**
 * Soak (issue 9): 200 image switches and 200 layer switches in a row on the
 * default model with our WGSL engine, then 20 model switches; live GPU buffer
 * bytes and the JS heap must stay within 10% of their level after warm-up,
 * and a model switch must free the previous model's buffers. Every switch is
 * checked to have produced the right result (top-1 class and probability
 * against the CPU reference in Node), so a soak that silently stopped running
 * cannot pass.
 *
 * The app exposes no memory figures. The GPU device lives in the compute
 * worker (docs/ARCHITECTURE.md, "The worker boundary"), so the test wraps
 * GPUDevice.prototype.createBuffer, GPUBuffer.prototype.destroy and
 * GPUDevice.prototype.destroy there to count live buffer bytes, before the
 * first device exists (the page starts on the CPU reference, then switches to
 * ours). The JS heap is the V8 heap of the page and of every worker (the
 * compute worker, ORT's threads) over CDP (heapUsage.ts), after a forced GC
 * in the window and the compute worker (this spec launches Chromium with
 * --js-flags=--expose-gc).
 */
import { expect, test, type Page, type Worker } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { HeapSampler } from './heapUsage.ts';
import { cpuForward } from '../src/engine/cpu/reference.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { loadShippedModel, shippedManifest } from '../test/helpers/shippedModels.ts';

test.use({
  launchOptions: {
    executablePath: process.env.CRATE_CHROMIUM || process.env.CHROME_PATH || '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'],
  },
});

// Issue 9's counts; SOAK_IMAGES / SOAK_LAYERS shorten a debugging run (at least the 20 warm-up images).
const IMAGE_SWITCHES = Math.max(21, Number(process.env.SOAK_IMAGES ?? 200));
const LAYER_SWITCHES = Number(process.env.SOAK_LAYERS ?? 200);
const MODEL_SWITCHES = 20;
/** Growth allowed after warm-up. */
const TOLERANCE = 0.1;

const manifest = shippedManifest();
const first = manifest.models[0];
const second = manifest.models.find((m) => m.id !== first.id);

/** Top-1 class and its probability for each sample, from the CPU reference. */
function expectations(id: string, count: number): { cls: number; p: number }[] {
  const shipped = loadShippedModel(id);
  return shipped.samples.slice(0, count).map((image) => {
    const logits = Array.from(cpuForward(shipped.model, imageToTensor(image, shipped.model.config)).logits);
    const max = Math.max(...logits);
    const sum = logits.reduce((a, v) => a + Math.exp(v - max), 0);
    const cls = logits.indexOf(max);
    return { cls, p: 1 / sum };
  });
}

/** The compute worker of the page (it runs every engine). */
function computeWorker(page: Page): Worker {
  const worker = page.workers().find((candidate) => candidate.url().includes('computeWorker'));
  expect(worker, 'the compute worker is running').toBeDefined();
  return worker!;
}

async function countGpuBuffers(worker: Worker) {
  await worker.evaluate(() => {
    const scope = self as unknown as Record<string, unknown>;
    const live = new Map<GPUBuffer, { size: number; device: GPUDevice }>();
    const stats = { liveBytes: 0, created: 0, destroyed: 0 };
    scope.__gpuStats = stats;
    const Device = (globalThis as unknown as { GPUDevice: { prototype: GPUDevice } }).GPUDevice;
    const Buffer = (globalThis as unknown as { GPUBuffer: { prototype: GPUBuffer } }).GPUBuffer;
    const forget = (buffer: GPUBuffer) => {
      const entry = live.get(buffer);
      if (!entry) return;
      live.delete(buffer);
      stats.liveBytes -= entry.size;
      stats.destroyed++;
    };
    const createBuffer = Device.prototype.createBuffer;
    Device.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
      const buffer = createBuffer.call(this, descriptor);
      live.set(buffer, { size: descriptor.size, device: this });
      stats.liveBytes += descriptor.size;
      stats.created++;
      return buffer;
    };
    const destroyBuffer = Buffer.prototype.destroy;
    Buffer.prototype.destroy = function (this: GPUBuffer) {
      forget(this);
      return destroyBuffer.call(this);
    };
    const destroyDevice = Device.prototype.destroy;
    Device.prototype.destroy = function (this: GPUDevice) {
      for (const [buffer, entry] of [...live]) if (entry.device === this) forget(buffer);
      return destroyDevice.call(this);
    };
  });
}

interface Memory {
  gpuBytes: number;
  heapBytes: number;
  buffersCreated: number;
}

async function measure(page: Page, worker: Worker, heap: HeapSampler): Promise<Memory> {
  for (let i = 0; i < 3; i++) {
    await worker.evaluate(() => (self as unknown as { gc?: () => void }).gc?.());
    await page.evaluate(() => (window as unknown as { gc?: () => void }).gc?.());
    await page.waitForTimeout(50);
  }
  const gpu = await worker.evaluate(() => (self as unknown as { __gpuStats: { liveBytes: number; created: number } }).__gpuStats);
  return { gpuBytes: gpu.liveBytes, heapBytes: await heap.current(), buffersCreated: gpu.created };
}

/** Waits until the page shows this result: the top-1 class, and its probability to 1e-3 (which tells samples apart). */
async function expectResult(page: Page, want: { cls: number; p: number }, what: string) {
  await expect
    .poll(
      () =>
        page.getByTestId('top5').locator('li').first().evaluate((li) => ({ cls: Number(li.getAttribute('data-class')), p: Number(li.getAttribute('data-probability')) })).catch(() => ({ cls: -1, p: -1 })),
      { message: what, timeout: 60_000, intervals: [20, 50, 100, 250] },
    )
    .toEqual({ cls: want.cls, p: expect.closeTo(want.p, 3) });
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

test('200 image switches, 200 layer switches and 20 model switches keep GPU buffers and the JS heap flat', async ({ page }) => {
  // About 6 min on an idle 2-core machine; far longer when it is shared.
  test.setTimeout(1_800_000);
  expect(second, 'the manifest has a second model to switch to').toBeDefined();
  const want = expectations(first.id, IMAGE_SWITCHES);
  const wantSecond = expectations(second!.id, 1)[0];
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // The CPU reference first: no GPU device exists until the counter is in place.
  await page.goto(`/?model=${first.id}&engine=cpu`);
  await expectResult(page, want[0], 'first result');
  const worker = computeWorker(page);
  await countGpuBuffers(worker);
  const heap = await HeapSampler.start(page, 0);
  await page.getByTestId('engine-select').selectOption('wgsl');
  await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', 'wgsl');
  await expectResult(page, want[0], 'first result on our engine');
  const started = Date.now();
  const initial = await measure(page, worker, heap);
  expect(initial.heapBytes, 'CDP gives the JS heap of the page and its workers').toBeGreaterThan(0);
  expect(initial.gpuBytes, 'the GPU buffer counter sees the engine').toBeGreaterThan(0);

  // Images: 1, 2, …, 199, then 0 again; warm-up is the first 20.
  const WARM_UP = 20;
  let afterWarmUp = initial;
  for (let i = 1; i <= IMAGE_SWITCHES; i++) {
    const sample = i % IMAGE_SWITCHES;
    await page.getByTestId(`sample-${sample}`).click();
    await expectResult(page, want[sample], `sample ${sample}`);
    if (i === WARM_UP) afterWarmUp = await measure(page, worker, heap);
  }
  const afterImages = await measure(page, worker, heap);
  const imagesSeconds = (Date.now() - started) / 1000;

  // Layers: back and forth across the model with the keyboard (no forward pass runs).
  const depth = loadShippedModel(first.id).model.config.depth;
  let layer = 0;
  let step = 1;
  for (let i = 0; i < LAYER_SWITCHES; i++) {
    if (layer + step < 0 || layer + step >= depth) step = -step;
    layer += step;
    await page.keyboard.press(step > 0 ? 'ArrowRight' : 'ArrowLeft');
    await expect(page).toHaveURL(new RegExp(`[?&]layer=${layer}(&|$)`));
  }
  const afterLayers = await measure(page, worker, heap);

  // Models: first ↔ second, 20 switches; each side's live GPU bytes must come back to its own level.
  const perModel: Record<string, number[]> = { [first.id]: [], [second!.id]: [] };
  const heapPerSwitch: number[] = [];
  for (let i = 1; i <= MODEL_SWITCHES; i++) {
    const id = i % 2 === 1 ? second!.id : first.id;
    await page.getByTestId('model-select').selectOption(id);
    await expectResult(page, id === first.id ? want[0] : wantSecond, `model ${id} (switch ${i})`);
    await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', 'wgsl');
    const m = await measure(page, worker, heap);
    perModel[id].push(m.gpuBytes);
    heapPerSwitch.push(m.heapBytes);
  }
  const afterModels = await measure(page, worker, heap);
  const totalSeconds = (Date.now() - started) / 1000;

  const report = [
    `soak: ${IMAGE_SWITCHES} image switches in ${imagesSeconds.toFixed(0)} s, ${LAYER_SWITCHES} layer switches, ${MODEL_SWITCHES} model switches (${first.id} ↔ ${second!.id}); ${totalSeconds.toFixed(0)} s in all`,
    `  GPU live buffer bytes: start ${mb(initial.gpuBytes)}, after warm-up ${mb(afterWarmUp.gpuBytes)}, after images ${mb(afterImages.gpuBytes)}, after layers ${mb(afterLayers.gpuBytes)}, after models ${mb(afterModels.gpuBytes)} (${afterModels.buffersCreated} buffers created in all)`,
    `  JS heap (after GC): start ${mb(initial.heapBytes)}, after warm-up ${mb(afterWarmUp.heapBytes)}, after images ${mb(afterImages.heapBytes)}, after layers ${mb(afterLayers.heapBytes)}, after models ${mb(afterModels.heapBytes)}`,
    `  JS heap after each model switch: ${heapPerSwitch.map(mb).join(', ')}`,
    `  GPU bytes with ${first.id} loaded: ${perModel[first.id].map(mb).join(', ')}; with ${second!.id}: ${perModel[second!.id].map(mb).join(', ')}`,
  ].join('\n');
  console.log(report);

  expect(afterWarmUp.buffersCreated, 'runs created buffers (readbacks), so the counter was exercised').toBeGreaterThan(initial.buffersCreated);
  expect(afterImages.gpuBytes, 'GPU bytes after 200 images').toBeLessThanOrEqual(afterWarmUp.gpuBytes * (1 + TOLERANCE));
  expect(afterLayers.gpuBytes, 'GPU bytes after 200 layers').toBeLessThanOrEqual(afterWarmUp.gpuBytes * (1 + TOLERANCE));
  expect(afterImages.heapBytes, 'JS heap after 200 images').toBeLessThanOrEqual(afterWarmUp.heapBytes * (1 + TOLERANCE));
  expect(afterLayers.heapBytes, 'JS heap after 200 layers').toBeLessThanOrEqual(afterWarmUp.heapBytes * (1 + TOLERANCE));
  // A switch frees the old model: each model's level is the same every time it is loaded.
  for (const [id, levels] of Object.entries(perModel)) {
    for (const level of levels) expect(level, `GPU bytes with ${id} loaded`).toBeLessThanOrEqual(levels[0] * (1 + TOLERANCE));
    for (const level of levels) expect(level, `GPU bytes with ${id} loaded`).toBeGreaterThanOrEqual(levels[0] * (1 - TOLERANCE));
  }
  expect(perModel[first.id].at(-1)!, 'back on the first model, at its level from the image run').toBeLessThanOrEqual(afterLayers.gpuBytes * (1 + TOLERANCE));
  // The first round trip is the models' warm-up (the second model's file, weights and samples are
  // cached from then on, by design); after it the heap must stay flat.
  const modelWarmUp = heapPerSwitch[1];
  expect(afterModels.heapBytes, 'JS heap after 20 model switches').toBeLessThanOrEqual(modelWarmUp * (1 + TOLERANCE));
  expect(pageErrors).toEqual([]);
});
