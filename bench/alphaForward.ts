/**
 * The CRATE-α B/16-size forward in headless Chromium (issue 16, "Done means"):
 * a random B/16-shaped model (depth 12, dim 768, 12 heads of 64, patch 16,
 * 224, ratio 4, 1000 classes) built in the page, run on our WGSL engine
 * (src/engine/gpu/alphaEngine.ts), after one warm-up run: the forward to the
 * logits (read back) and the forward with every layer's tensors read back, as
 * the app runs it. Medians of --runs runs (default 3).
 *
 * The page is served by Vite's dev server (this repository, vite.config.ts's
 * COOP/COEP headers) and imports the engine's modules directly, so the bench
 * needs no page of its own; the browser and its flags are the e2e tests'
 * (playwright.config.ts: WebGPU on SwiftShader where there is no GPU).
 * ORT WASM is not timed here: that needs the B/16 ONNX export
 * (tools/alpha_onnx_export.py, about 350 MB) served to the page.
 *
 *   node scripts/run-ts.mjs bench/alphaForward.ts [--runs 3] [--port 4177] [--depth 12]
 */
import { resolve } from 'node:path';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { CHROMIUM_ARGS } from '../playwright.config.ts';

const ROOT = resolve(import.meta.dirname, '..');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('--runs', 3);
const PORT = arg('--port', 4177);
const DEPTH = arg('--depth', 12);
const executablePath = process.env.CRATE_CHROMIUM || process.env.CHROME_PATH || '/usr/bin/chromium';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const server = await createServer({ root: ROOT, logLevel: 'error', server: { host: '127.0.0.1', port: PORT, strictPort: true } });
await server.listen();
const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`pageerror: ${e.message}`));
  await page.goto(`http://127.0.0.1:${PORT}/bench.html`);
  // A string, not a function: tsx's keepNames would wrap a function's inner names in a helper the page lacks.
  const script = `(async () => {
    const runs = ${RUNS};
    const depth = ${DEPTH};
    // Module paths as the dev server serves them (strings, so nothing is bundled into this script).
    const load = (path) => import(/* @vite-ignore */ path);
    const { parseAnyConfig } = await load('/src/engine/config.ts');
    const { alphaModelFromTensors, alphaTensorShapes } = await load('/src/engine/alphaModel.ts');
    const { AlphaGpuEngine } = await load('/src/engine/gpu/alphaEngine.ts');
    const { requestBrowserDevice } = await load('/src/engine/gpu/browserDevice.ts');
    const config = parseAnyConfig({ arch: 'crate-alpha', ratio: 4, image_size: 224, patch_size: 16, channels: 3, dim: 768, depth, heads: 12, dim_head: 64, num_classes: 1000 });
    let seed = 16;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const tensors = new Map(
      alphaTensorShapes(config).map(([name, shape]) => {
        const size = shape.reduce((a, b) => a * b, 1);
        const scale = /norm|mlp_head\\.0/.test(name) ? 0 : 1 / Math.sqrt(shape.length > 1 ? size / shape[0] : 1);
        const data = new Float32Array(size);
        for (let i = 0; i < size; i++) data[i] = (/norm\\.weight|mlp_head\\.0\\.weight/.test(name) ? 1 : 0) + scale * random();
        return [name, { shape, data }];
      }),
    );
    const model = alphaModelFromTensors(config, tensors);
    const image = Float32Array.from({ length: 3 * 224 * 224 }, random);
    const device = await requestBrowserDevice();
    const adapterInfo = device.adapterInfo;
    let started = performance.now();
    const engine = AlphaGpuEngine.create(device, model);
    const createMs = performance.now() - started;
    const time = async (layers) => {
      const t0 = performance.now();
      const out = await engine.run(image, { layers });
      if (!out.logits.every(Number.isFinite)) throw new Error('non-finite logits');
      return performance.now() - t0;
    };
    started = performance.now();
    await time(false);
    const warmupMs = performance.now() - started;
    const forward = [];
    for (let i = 0; i < runs; i++) forward.push(await time(false));
    await time(true);
    const captured = [];
    for (let i = 0; i < runs; i++) captured.push(await time(true));
    engine.destroy();
    return { adapter: [adapterInfo?.vendor, adapterInfo?.architecture, adapterInfo?.description].filter(Boolean).join(' '), dispatchesPerLayer: engine.dispatchesPerLayer(), createMs, warmupMs, forward, captured };
  })()`;
  const result = (await page.evaluate(script)) as { adapter: string; dispatchesPerLayer: number; createMs: number; warmupMs: number; forward: number[]; captured: number[] };
  console.log(
    JSON.stringify(
      {
        model: `CRATE-α B/16 shape, random weights, depth ${DEPTH}`,
        adapter: result.adapter,
        runs: RUNS,
        createMs: Math.round(result.createMs),
        firstForwardMs: Math.round(result.warmupMs),
        forwardMedianMs: Math.round(median(result.forward)),
        forwardRunsMs: result.forward.map(Math.round),
        capturedMedianMs: Math.round(median(result.captured)),
        capturedRunsMs: result.captured.map(Math.round),
        ortWasm: 'not timed (needs the B/16 ONNX export served to the page)',
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  await server.close();
}
