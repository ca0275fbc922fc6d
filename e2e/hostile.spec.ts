/**
 * Issue 9 in the browser: the built app under its Content-Security-Policy
 * (vite.config.ts) runs the default model on our engine and on onnxruntime-web's
 * WASM engine with no policy violation and no request to another origin;
 * links with script injection in every URL property, and a hosted model whose
 * class labels are HTML, render as text; and a GPU device destroyed in the
 * middle of a session is recovered from (or replaced by ORT WASM, with a
 * notice), with the right prediction afterwards.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { cpuForward } from '../src/engine/cpu/reference.ts';
import { imageToTensor } from '../src/engine/preprocess.ts';
import { URL_PROPS } from '../src/state/urlState.ts';
import { setOnnxMetadata } from '../test/helpers/fuzzFiles.ts';
import { loadShippedModel, MODELS_DIR, shippedManifest } from '../test/helpers/shippedModels.ts';

/** The app's own origin (playwright.config.ts's baseURL). */
const origin = () => new URL(test.info().project.use.baseURL ?? 'http://127.0.0.1:4173').origin;
const manifest = shippedManifest();
const entry = manifest.models.find((m) => m.id === manifest.defaultModel)!;
const shipped = loadShippedModel(entry.id);

/** Top-1 class of a shipped sample, from the CPU reference in Node. */
function expectedClass(sample: number): number {
  const logits = cpuForward(shipped.model, imageToTensor(shipped.samples[sample], shipped.model.config)).logits;
  return logits.indexOf(Math.max(...logits));
}

/** Payloads that would set window.__pwned (or open a dialog) if any reached the DOM as markup or a URL. */
const PAYLOADS = [
  '<img src=x onerror="window.__pwned=1;alert(1)">',
  '<script>window.__pwned=1;alert(1)</script>',
  '"><svg onload="window.__pwned=1;alert(1)">',
  'javascript:window.__pwned=1;alert(1)',
  "'><iframe src=javascript:alert(1)>",
  '<a href="javascript:alert(1)">x</a>',
];

interface Watch {
  dialogs: string[];
  origins: Set<string>;
  pageErrors: string[];
}

/**
 * Before any page script: collect CSP violations. (GPU devices live in the
 * compute worker; the device-loss test captures them there.)
 */
async function watch(page: Page): Promise<Watch> {
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    const violations: { directive: string; blocked: string; sample: string }[] = [];
    w.__cspViolations = violations;
    document.addEventListener('securitypolicyviolation', (e) => violations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample }));
  });
  const w: Watch = { dialogs: [], origins: new Set(), pageErrors: [] };
  page.on('dialog', (dialog) => {
    w.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => w.pageErrors.push(error.message));
  // Context-wide, so requests from ORT's workers count too.
  page.context().on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol === 'http:' || url.protocol === 'https:') w.origins.add(url.origin);
  });
  return w;
}

const violations = (page: Page) => page.evaluate(() => (window as unknown as { __cspViolations: unknown[] }).__cspViolations);

async function waitForResults(page: Page) {
  await expect(page.getByTestId('top5').locator('li')).toHaveCount(5, { timeout: 180_000 });
}

/** Nothing any payload could have injected is in the page, and nothing ran. */
async function expectNothingInjected(page: Page, w: Watch) {
  const found = await page.evaluate(() => ({
    pwned: (window as unknown as { __pwned?: unknown }).__pwned,
    handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => /^on/i.test(a.name))).map((el) => el.outerHTML.slice(0, 120)),
    imgX: document.querySelectorAll('img[src="x"]').length,
    inlineScripts: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
    iframes: document.querySelectorAll('iframe').length,
    jsLinks: [...document.querySelectorAll('a[href], iframe[src]')].filter((el) => /^\s*javascript:/i.test(el.getAttribute('href') ?? el.getAttribute('src') ?? '')).length,
  }));
  expect(found).toEqual({ pwned: undefined, handlers: [], imgX: 0, inlineScripts: 0, iframes: 0, jsLinks: 0 });
  expect(w.dialogs).toEqual([]);
}

// SwiftShader on a shared 2-core machine: a first forward pass has taken over a minute here.
test.describe.configure({ mode: 'serial', timeout: 300_000 });

// The expectations come from public/models on disk; the page serves dist/. If the two differ
// (a model retrained since the last build) every comparison below would be meaningless.
test.beforeAll(async ({ request }) => {
  for (const file of [entry.file, entry.samples?.atlas].filter((f): f is string => !!f)) {
    const served = Buffer.from(await (await request.get(`/models/${file}`)).body());
    expect(served.equals(readFileSync(join(MODELS_DIR, file))), `the build serves the ${file} that is on disk (rebuild if not)`).toBe(true);
  }
});

test('the built app ships a Content-Security-Policy with no eval and no inline scripts, and runs ORT WASM under it', async ({ page, request }) => {
  const w = await watch(page);
  const response = await page.goto('/?engine=ort-wasm');
  const header = response!.headers()['content-security-policy'];
  expect(header, 'vite preview sends the policy').toBeTruthy();
  const directives = new Map(header.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
  expect(directives.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
  expect(directives.get('default-src')).toEqual(["'self'"]);
  expect(directives.get('object-src')).toEqual(["'none'"]);
  expect(header).not.toMatch(/'unsafe-eval'/);
  // Any origin may frame the pages (issue 15, embed=1): nothing on them is worth clickjacking.
  expect(directives.get('frame-ancestors')).toEqual(['*']);
  for (const name of ['script-src', 'worker-src', 'default-src']) expect(directives.get(name)?.join(' ') ?? '', name).not.toMatch(/unsafe-inline|https?:|\*/);

  // Every built page carries the same policy as a <meta> (for static hosting), and no inline script.
  for (const path of ['/', '/harness.html', '/bench.html']) {
    const html = await (await request.get(path)).text();
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1].replace(/&#39;/g, "'");
    expect(meta, path).toBe(header.replace(/; frame-ancestors \*/, ''));
    expect(html.indexOf('Content-Security-Policy'), `${path}: the policy comes before any script`).toBeLessThan(html.indexOf('<script'));
    expect([...html.matchAll(/<script\b([^>]*)>/g)].filter(([, attrs]) => !/\bsrc=/.test(attrs)), `${path}: inline scripts`).toEqual([]);
  }

  await waitForResults(page);
  await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', 'ort-wasm');
  await expect(page.getByTestId('top5').locator('li').first()).toHaveAttribute('data-class', String(expectedClass(0)));
  expect(await violations(page)).toEqual([]);
  expect([...w.origins]).toEqual([origin()]);
  expect(w.pageErrors).toEqual([]);

  // The policy is enforced, and the violation listener hears it (so the empty lists above mean something).
  // (eval cannot be probed from here: Playwright's evaluate runs through DevTools, which CSP exempts.)
  const probe = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true';
    document.head.append(script);
    script.remove();
    const button = document.createElement('button');
    button.setAttribute('onclick', 'window.__handlerRan = true');
    document.body.append(button);
    button.click();
    button.remove();
    const w = window as unknown as { __inlineRan?: boolean; __handlerRan?: boolean };
    return { inlineRan: w.__inlineRan === true, handlerRan: w.__handlerRan === true };
  });
  expect(probe).toEqual({ inlineRan: false, handlerRan: false });
  await expect
    .poll(async () => ((await violations(page)) as { directive: string }[]).map((v) => v.directive))
    .toEqual(expect.arrayContaining(['script-src-elem', 'script-src-attr']));
});

test('the default page (engine chosen automatically) loads with no violation and no third-party request', async ({ page }) => {
  const w = await watch(page);
  await page.goto('/');
  await waitForResults(page);
  await expect(page.getByTestId('top5').locator('li').first()).toHaveAttribute('data-class', String(expectedClass(0)));
  // The teaching mode's KaTeX (fonts, CSS) is on by default: it must come from the bundle too.
  await expect(page.getByTestId('teaching').filter({ visible: true }).first()).toBeVisible();
  await page.evaluate(() => document.fonts.ready);
  expect(await violations(page)).toEqual([]);
  expect([...w.origins]).toEqual([origin()]);
  expect(w.pageErrors).toEqual([]);
});

test('script injection in every URL property is ignored with notices and rendered only as text', async ({ page }) => {
  const w = await watch(page);
  const params = URL_PROPS.map((prop, i) => `${prop.name}=${encodeURIComponent(PAYLOADS[i % PAYLOADS.length])}`);
  params.push(`${encodeURIComponent(PAYLOADS[0])}=${encodeURIComponent(PAYLOADS[1])}`);
  await page.goto(`/?${params.join('&')}`);
  await waitForResults(page);
  const notices = page.getByTestId('notices');
  await expect(notices).toBeVisible();
  // The hostile text is shown, quoted, as text (quote() cuts it to 40 characters).
  await expect(notices).toContainText('"<img src=x onerror=');
  await expect(notices).toContainText('<script>window.__pwned');
  // Every property fell back to its default: the link the app writes back holds none of it.
  await expect(page).toHaveURL(/\?model=digits&sample=0&layer=0&/);
  expect(decodeURIComponent(page.url())).not.toMatch(/[<>"]|javascript:/i);
  await expectNothingInjected(page, w);

  // The app shows the latest dozen notices, so the model and unknown keys get a link of their own.
  for (const payload of PAYLOADS) {
    await page.goto(`/?model=${encodeURIComponent(payload)}&${encodeURIComponent(payload)}=1`);
    await expect(page.getByTestId('notices')).toContainText('unknown parameter');
    await expect(page.getByTestId('notices')).toContainText('"model" = ');
    await expect(page).toHaveURL(/\?model=digits&/);
    await expectNothingInjected(page, w);
  }
  await waitForResults(page);
  expect(await violations(page)).toEqual([]);
  expect([...w.origins]).toEqual([origin()]);
});

test('a hosted model whose class labels are HTML shows them as text', async ({ page }) => {
  const w = await watch(page);
  const original = new Uint8Array(readFileSync(join(MODELS_DIR, entry.file)));
  const labels = Array.from({ length: shipped.model.config.num_classes }, (_, i) => `${PAYLOADS[i % PAYLOADS.length]} #${i}`);
  const hostile = setOnnxMetadata(original, 'config', JSON.stringify({ ...shipped.model.config, labels }));
  const url = 'https://evil.example/m.onnx';
  await page.route(url, (route) =>
    route.fulfill({ body: Buffer.from(hostile), headers: { 'content-type': 'application/octet-stream', 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' } }),
  );
  await page.goto(`/?model=${encodeURIComponent(url)}&engine=ort-wasm`);
  await waitForResults(page);
  await expect(page.getByTestId('model-description')).toContainText('evil.example');
  const top = page.getByTestId('top5').locator('li').first();
  const expected = expectedClass(0);
  await expect(top).toHaveAttribute('data-class', String(expected));
  await expect(top.locator('.topk-label')).toHaveText(labels[expected]);
  const shown = await page.getByTestId('top5').locator('.topk-label').allTextContents();
  expect(shown.every((text) => labels.includes(text))).toBe(true);
  await expectNothingInjected(page, w);
  expect(await violations(page)).toEqual([]);
  // The model itself is the only thing fetched from elsewhere (data, never code).
  expect([...w.origins].sort()).toEqual(['https://evil.example', origin()].sort());
});

test('a GPU device destroyed between runs and during a run: the app recovers or falls back to ORT WASM with a notice', async ({ page }) => {
  const w = await watch(page);
  // The GPU device lives in the compute worker (docs/ARCHITECTURE.md, "The worker boundary"). Start on the CPU
  // reference, so no device exists yet, capture every device the worker asks for from then on, then switch to ours:
  // the capture is in place before the first requestDevice by construction.
  await page.goto('/?engine=cpu');
  await waitForResults(page);
  const worker = page.workers().find((candidate) => candidate.url().includes('computeWorker'));
  expect(worker, 'the compute worker is running').toBeDefined();
  await worker!.evaluate(() => {
    const scope = self as unknown as Record<string, unknown>;
    const devices: GPUDevice[] = [];
    scope.__crateTestDevices = devices;
    const Adapter = (globalThis as unknown as { GPUAdapter: { prototype: GPUAdapter } }).GPUAdapter;
    const requestDevice = Adapter.prototype.requestDevice;
    Adapter.prototype.requestDevice = async function (this: GPUAdapter, ...args: Parameters<GPUAdapter['requestDevice']>) {
      const device = await requestDevice.apply(this, args);
      devices.push(device);
      return device;
    };
  });
  await page.getByTestId('engine-select').selectOption('wgsl');
  await expect(page.getByTestId('engine-used')).toHaveAttribute('data-engine', 'wgsl');
  const deviceCount = () => worker!.evaluate(() => (self as unknown as { __crateTestDevices: GPUDevice[] }).__crateTestDevices.length);
  const devicesBefore = await deviceCount();
  expect(devicesBefore, 'the worker asked for a GPU device').toBeGreaterThan(0);
  const destroyAll = () => worker!.evaluate(() => (self as unknown as { __crateTestDevices: GPUDevice[] }).__crateTestDevices.forEach((d) => d.destroy()));
  const top = page.getByTestId('top5').locator('li').first();
  const outcomes: string[] = [];

  // 1. Between runs: the loss is announced, and the next run gets a fresh device.
  await destroyAll();
  await expect(page.getByTestId('notices')).toContainText(/GPU device was lost/);
  await page.getByTestId('sample-1').click();
  await expect(top).toHaveAttribute('data-class', String(expectedClass(1)), { timeout: 90_000 });
  await expect(page).toHaveURL(/sample=1/);
  outcomes.push(`between runs: ${await page.getByTestId('engine-used').getAttribute('data-engine')}`);

  // 2. During a run: the device goes while the forward pass for sample 2 is in flight.
  await page.getByTestId('sample-2').click();
  await destroyAll();
  await expect(top).toHaveAttribute('data-class', String(expectedClass(2)), { timeout: 90_000 });
  await expect(page).toHaveURL(/sample=2/);
  const engine = await page.getByTestId('engine-used').getAttribute('data-engine');
  outcomes.push(`during a run: ${engine}`);
  if (engine !== 'wgsl') {
    expect(engine).toBe('ort-wasm');
    await expect(page.getByTestId('notices')).toContainText(/failed .*running/);
  }
  // And the session goes on: another image, right again.
  await page.getByTestId('sample-3').click();
  await expect(top).toHaveAttribute('data-class', String(expectedClass(3)), { timeout: 90_000 });
  const devicesAfter = await deviceCount();
  console.log(`device loss: ${outcomes.join('; ')}; then ${await page.getByTestId('engine-used').getAttribute('data-engine')}; ${devicesAfter - devicesBefore} devices requested after the losses`);
  if ((await page.getByTestId('engine-used').getAttribute('data-engine')) === 'wgsl') expect(devicesAfter).toBeGreaterThan(devicesBefore);
  expect(w.pageErrors).toEqual([]);
  expect(await violations(page)).toEqual([]);
});
