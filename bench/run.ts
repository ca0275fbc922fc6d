/**
 * `npm run bench`: our WGSL engine against onnxruntime-web, side by side in
 * one headless Chromium page (bench.html), on the production build served by
 * `vite preview` with COOP/COEP, with the e2e tests' flags.
 *
 * Models: the shipped ones, plus CRATE-T and CRATE-B shapes at 224/16 with
 * random weights, generated here by tools/bench_models.py into a temp folder.
 * Engines: ours, ORT native WebGPU, ORT JSEP WebGPU, ORT WASM (threaded when
 * isolated), interleaved A B A B so drift on a shared machine hits all alike.
 * Measures, after one warm-up run each: forward latency to logits (read back),
 * latency with every layer's tensors read back, our analysis on top (what the
 * app computes per image), time from page load to the first full render of
 * the default model, GPU memory held.
 * At least 20 timed runs, or as many as fit in RUN_BUDGET_S per engine and
 * model and measure, never fewer than 3. ORT's GPU EPs skip the captured
 * measure when one forward takes longer than SLOW_FORWARD_MS (SwiftShader):
 * the bench must finish in 15 minutes, and the table says so where skipped.
 * For the same reason, on a software adapter ORT's GPU EPs are not timed on a
 * model of over SOFTWARE_MAX_GFLOP per forward (CRATE-B: one ORT WebGPU
 * forward takes one to two minutes there, so its 1 + 3 runs per EP alone
 * would overrun) unless `--full` is given. The cut is by model size, not by a
 * measured time, so the same models are skipped on a quiet machine and a busy
 * one. A full run takes 25–45 minutes on this 2-core machine and is kept apart
 * (its own JSON file and BENCHMARKS.md section).
 *
 * Output: bench/results/<date>-<adapter>[-full].json, a Markdown table on
 * stdout, and the same table in BENCHMARKS.md (one section per adapter class
 * and kind of run).
 *
 * Last, the responsiveness section (bench/responsiveness.ts, issue 17): first
 * render cold and warm, sample switches, the longest main-thread task during
 * each interaction, written to its own BENCHMARKS.md section.
 *
 *   npm run bench [-- --no-build] [-- --models digits,crate-t] [-- --budget 60] [-- --full] [-- --merge]
 *   npm run bench -- --only responsiveness [--loads 3] [--switches 5] [--skip-pth]
 *   [-- --dist DIR] [-- --port N]: build into and serve from DIR on port N, beside another run
 *
 * --merge keeps today's rows for models not named in --models (one table from several runs).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { DEFAULT_OPTIONS, measureResponsiveness, responsivenessMarkdown } from './responsiveness.ts';
import type { BenchEngine, BenchMode } from '../src/bench/benchPage.ts';
import { shippedManifest } from '../test/helpers/shippedModels.ts';
import { median as sharedMedian } from '../src/analysis/dataset.ts';

const ROOT = resolve(import.meta.dirname, '..');
function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const PORT = Number(argValue('--port') ?? 4174);
const BASE = `http://127.0.0.1:${PORT}`;
const DIST = resolve(argValue('--dist') ?? 'dist');
const SECTIONS = ['responsiveness'] as const;
const ONLY_SECTION = argValue('--only') as (typeof SECTIONS)[number] | undefined;
if (ONLY_SECTION !== undefined && !SECTIONS.includes(ONLY_SECTION)) throw new Error(`--only takes one of: ${SECTIONS.join(', ')}`);
const ENGINES: BenchEngine[] = ['wgsl', 'ort-webgpu', 'ort-jsep', 'ort-wasm'];
const ENGINE_NAMES: Record<BenchEngine, string> = {
  wgsl: 'ours (WGSL)',
  'ort-webgpu': 'ORT WebGPU',
  'ort-jsep': 'ORT JSEP',
  'ort-wasm': 'ORT WASM',
};
const MIN_RUNS = 3;
const MAX_RUNS = 20;
/** Each analysis run also needs a captured forward (untimed): 6 s on CRATE-B here. */
const ANALYSIS_RUNS = 3;
const SLOW_FORWARD_MS = 5000;
const SOFTWARE_MAX_GFLOP = 10;
const FULL = process.argv.includes('--full');
const MERGE = process.argv.includes('--merge');
const PAGE_LOADS = 3;
const BUDGET_MS = 1000 * Number(argValue('--budget') ?? 60);
const ONLY = argValue('--models')?.split(',');

/** The shared median (src/analysis/dataset.ts), NaN for an engine that was skipped and has no runs. */
const median = (values: number[]): number => (values.length ? sharedMedian(values) : Number.NaN);
function p90(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)];
}

function step(message: string) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function startPreview(): Promise<ChildProcess> {
  const server = spawn(join(ROOT, 'node_modules/.bin/vite'), ['preview', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort', '--bypass-lock', '--outDir', DIST], {
    cwd: ROOT,
    stdio: 'ignore',
    detached: true,
  });
  // A loaded 2-core machine can take a while to start the server.
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${BASE}/bench.html`)).ok) return server;
      if (server.exitCode !== null) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`vite preview did not answer on ${BASE}`);
}

interface Series {
  runs: number[];
  skipped?: string;
}
interface ModelResult {
  name: string;
  tokens: number;
  dim: number;
  depth: number;
  heads: number;
  bytes: number;
  /** Forward FLOPs, as the app counts them to pick an engine. */
  flops: number;
  forward: Partial<Record<BenchEngine, Series>>;
  captured: Partial<Record<BenchEngine, Series>>;
  analysisMs: number[];
  /** Helper workers the analysis was spread over (0: the page's own thread). */
  analysisHelpers?: number;
  gpuBytes: number;
  /** Our engine's kernel variants, tuned in the page as on a first visit. */
  kernels?: { variants: Record<string, string>; tuning: string; note?: string };
  errors: Partial<Record<BenchEngine, string>>;
}

/** Times every engine on one model and measure, interleaved, within the budget. */
async function measure(page: Page, model: string, mode: BenchMode, engines: BenchEngine[], result: ModelResult, software: boolean) {
  const series = mode === 'forward' ? result.forward : result.captured;
  const active: BenchEngine[] = [];
  // The app's own count (runners/engines.ts forwardFlops): CRATE-T 3.6 GFLOP, CRATE-B 12.8.
  const gflop = result.flops / 1e9;
  for (const engine of engines) {
    if (result.errors[engine]) continue;
    const ortGpu = engine.startsWith('ort-') && engine !== 'ort-wasm';
    if (ortGpu && software && !FULL && gflop > SOFTWARE_MAX_GFLOP) {
      series[engine] = { runs: [], skipped: `skipped on a software adapter: ${gflop.toFixed(1)} GFLOP per forward, minutes per run here (npm run bench -- --full times it)` };
      continue;
    }
    if (mode === 'captured' && engine.startsWith('ort-') && engine !== 'ort-wasm') {
      const forward = result.forward[engine]?.runs ?? [];
      if (result.forward[engine]?.skipped) {
        series[engine] = { runs: [], skipped: result.forward[engine]!.skipped };
        continue;
      }
      if (forward.length && median(forward) > SLOW_FORWARD_MS) {
        series[engine] = { runs: [], skipped: `skipped: one forward takes ${(median(forward) / 1000).toFixed(1)} s here` };
        continue;
      }
    }
    try {
      step(`${model}: warm-up ${ENGINE_NAMES[engine]} (${mode})`);
      await page.evaluate(([m, e, mo]) => window.crateBench.time(m, e as BenchEngine, mo as BenchMode), [model, engine, mode] as const);
      series[engine] = { runs: [] };
      active.push(engine);
    } catch (error) {
      result.errors[engine] = (error as Error).message.split('\n')[0].slice(0, 200);
      step(`${model}: ${ENGINE_NAMES[engine]} failed: ${result.errors[engine]}`);
    }
  }
  const spent = new Map<BenchEngine, number>(active.map((e) => [e, 0]));
  const wants = (e: BenchEngine) => {
    const n = series[e]!.runs.length;
    return n < MIN_RUNS || (n < MAX_RUNS && spent.get(e)! < BUDGET_MS);
  };
  while (active.some(wants)) {
    for (const engine of active.filter(wants)) {
      const ms = await page.evaluate(([m, e, mo]) => window.crateBench.time(m, e as BenchEngine, mo as BenchMode), [model, engine, mode] as const);
      series[engine]!.runs.push(ms);
      spent.set(engine, spent.get(engine)! + ms);
    }
  }
  step(`${model} ${mode}: ${active.map((e) => `${ENGINE_NAMES[e]} ${median(series[e]!.runs).toFixed(1)} ms (${series[e]!.runs.length})`).join(', ')}`);
}

/** Page load to the first full render of the default model (top-5 and layer table), fresh context each time. */
async function firstRender(browser: import('@playwright/test').Browser): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < PAGE_LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${BASE}/`);
    await page.getByTestId('layer-table').waitFor({ timeout: 120_000 });
    await page.getByTestId('top5').locator('li').nth(4).waitFor({ timeout: 120_000 });
    times.push(await page.evaluate(() => performance.now()));
    await context.close();
  }
  return times;
}

function cell(series: Series | undefined, ours: Series | undefined): string {
  if (!series) return '—';
  if (series.skipped) return series.skipped;
  const med = median(series.runs);
  const base = `${med.toFixed(1)} / ${p90(series.runs).toFixed(1)} ms`;
  if (!ours || ours.runs.length === 0 || series === ours) return base;
  return `${base} (ours ÷ this = ${(median(ours.runs) / med).toFixed(2)})`;
}

function table(results: ModelResult[], meta: { adapter: string; browser: string; date: string; firstRenderMs: number[]; threads: number }): string {
  const lines = [
    `Adapter: **${meta.adapter}** · ${meta.browser} · ORT WASM threads: ${meta.threads} · ${meta.date}`,
    '',
    'Median / p90 of the timed runs; the ratio is ours ÷ theirs (below 1: ours is faster).',
    '',
    '| model | measure | ours (WGSL) | ORT WebGPU | ORT JSEP | ORT WASM |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const shape = `${r.name} (N = ${r.tokens}, d = ${r.dim}, ${r.depth} layers)`;
    for (const mode of ['forward', 'captured'] as const) {
      const s = mode === 'forward' ? r.forward : r.captured;
      const label = mode === 'forward' ? 'forward, logits read back' : 'every layer read back';
      lines.push(`| ${shape} | ${label} | ${ENGINES.map((e) => (r.errors[e] ? `failed: ${r.errors[e]}` : cell(s[e], s.wgsl))).join(' | ')} |`);
    }
    const captured = r.captured.wgsl?.runs ?? [];
    const forward = r.forward.wgsl?.runs ?? [];
    const analysis = median(r.analysisMs);
    const workload = captured.length && forward.length ? (median(captured) + analysis) / median(forward) : NaN;
    lines.push(
      `| ${shape} | our analysis of the image, as the app does it; GPU memory | ${analysis.toFixed(1)} ms (${r.analysisHelpers ? `${r.analysisHelpers} helper workers` : 'one thread'}); explorer workload ÷ plain forward = ${workload.toFixed(2)}; ${(r.gpuBytes / 2 ** 20).toFixed(1)} MiB held | | | |`,
    );
  }
  lines.push('', 'Our kernel variants, tuned in the page on this adapter as on a first visit (1 s budget):');
  for (const r of results) {
    const chosen = r.kernels ? Object.entries(r.kernels.variants).map(([kernel, variant]) => `${kernel} \`${variant}\``).join(', ') : 'not recorded';
    lines.push(`- ${r.name}: ${chosen}${r.kernels ? ` (${r.kernels.tuning}${r.kernels.note ? `; ${r.kernels.note}` : ''})` : ''}`);
  }
  lines.push('', `Page load to first full render of the default model: median ${median(meta.firstRenderMs).toFixed(0)} ms, p90 ${p90(meta.firstRenderMs).toFixed(0)} ms (${meta.firstRenderMs.length} fresh loads).`);
  return lines.join('\n');
}

function updateBenchmarksMd(section: string, heading: string) {
  const path = join(ROOT, 'BENCHMARKS.md');
  const intro =
    '# Benchmarks\n\nWritten by `npm run bench` (bench/run.ts); one section per adapter class and kind of run, the latest run of each. ' +
    'Software adapters (SwiftShader) say little about GPUs; see the notes at the end.\n';
  let text = existsSync(path) ? readFileSync(path, 'utf8') : intro;
  const start = text.indexOf(`\n## ${heading}\n`);
  const block = `\n## ${heading}\n\n<!-- generated: bench/run.ts -->\n${section}\n<!-- end generated -->\n`;
  // A new section goes above the hand-written notes, which stay last.
  const notes = text.indexOf('\n## Notes\n');
  if (start < 0) text = notes < 0 ? `${text.trimEnd()}\n${block}` : `${text.slice(0, notes).trimEnd()}\n${block}${text.slice(notes)}`;
  else {
    const endMarker = text.indexOf('<!-- end generated -->', start);
    text = text.slice(0, start) + block.trimEnd() + text.slice(endMarker + '<!-- end generated -->'.length);
  }
  writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`);
}

/** The responsiveness section: its table on stdout and in BENCHMARKS.md. */
async function responsiveness(browser: import('@playwright/test').Browser) {
  step('responsiveness (bench/responsiveness.ts)');
  const count = (name: string, fallback: number) => Number(argValue(name) ?? fallback);
  const result = await measureResponsiveness(browser, BASE, {
    ...DEFAULT_OPTIONS,
    loads: count('--loads', DEFAULT_OPTIONS.loads),
    switches: count('--switches', DEFAULT_OPTIONS.switches),
    skipPth: process.argv.includes('--skip-pth'),
  });
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.replace(/ -- $/, '');
  const markdown = responsivenessMarkdown(result, command, `Chromium ${browser.version()}`);
  console.log(`\n${markdown}\n`);
  updateBenchmarksMd(markdown, result.software ? 'Responsiveness' : `Responsiveness, GPU: ${result.adapter}`);
}

async function main() {
  const started = performance.now();
  if (!process.argv.includes('--no-build')) {
    step(`vite build --outDir ${DIST}`);
    const build = spawnSync(join(ROOT, 'node_modules/.bin/vite'), ['build', '--outDir', DIST, '--emptyOutDir'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('vite build failed');
  }
  if (ONLY_SECTION === 'responsiveness') {
    const server = await startPreview();
    const browser = await chromium.launch({ executablePath: process.env.CRATE_CHROMIUM || process.env.CHROME_PATH || '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      await responsiveness(browser);
      step(`wrote BENCHMARKS.md in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      await browser.close();
      try {
        process.kill(-server.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    return;
  }
  // The random models are served by vite preview from the build folder: handing a 90 MB body to the
  // page through Playwright's request interception took the whole browser down.
  const tmp = join(DIST, 'bench-models');
  mkdirSync(tmp, { recursive: true });
  const shipped = shippedManifest().models.map((m) => ({ name: m.id, url: `/models/${m.file}` }));
  const random = ['crate-t', 'crate-b'].map((name) => ({ name, url: `/bench-models/${name}.onnx` }));
  const models = [...shipped, ...random].filter((m) => !ONLY || ONLY.includes(m.name));
  const randomWanted = random.filter((m) => models.includes(m)).map((m) => m.name);
  if (randomWanted.length) {
    step(`writing random ${randomWanted.join(', ')} (tools/bench_models.py)`);
    const gen = spawnSync('/usr/bin/python3', [join(ROOT, 'tools/bench_models.py'), tmp, ...randomWanted.flatMap((n) => ['--only', n])], { stdio: 'inherit' });
    if (gen.status !== 0) throw new Error('tools/bench_models.py failed (needs Debian python3-torch and python3-onnx)');
  }
  const server = await startPreview();
  const browser = await chromium.launch({ executablePath: process.env.CRATE_CHROMIUM || process.env.CHROME_PATH || '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    // A fresh page per model: a renderer that dies on one model (memory, a GPU-process reset) costs
    // that model's row, not the run, and nothing one model leaves behind slows the next.
    const openBenchPage = async () => {
      const page = await browser.newPage();
      page.on('pageerror', (e) => step(`page error: ${e.message}`));
      page.on('crash', () => step('the page crashed'));
      await page.goto(`${BASE}/bench.html`);
      await page.locator('#bench-status[data-state="ready"]').waitFor();
      return page;
    };
    const probe = await openBenchPage();
    const adapter = await probe.evaluate(() => window.crateBench.adapter());
    await probe.close();
    const browserVersion = `Chromium ${browser.version()}`;
    const software = adapter.fallback || /swiftshader/i.test(adapter.name);
    step(`adapter: ${adapter.name}${adapter.fallback ? ' (fallback)' : ''}; ${browserVersion}; isolated: ${adapter.crossOriginIsolated}`);
    const date = new Date().toISOString().slice(0, 10);
    const slug = adapter.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'adapter';
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    // A --full run times more than the default one, so it keeps its own file and section rather than
    // being overwritten by the next default run.
    const out = join(ROOT, 'bench/results', `${date}-${slug}${FULL ? '-full' : ''}.json`);
    // --merge keeps the rows of an earlier run today on this adapter for the models not measured now.
    const earlier: ModelResult[] = MERGE && existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')).results as ModelResult[]) : [];
    const merged = (fresh: ModelResult[]) => {
      const names = [...shippedManifest().models.map((m) => m.id), 'crate-t', 'crate-b'];
      const all = [...earlier.filter((r) => !fresh.some((f) => f.name === r.name)), ...fresh];
      return all.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
    };
    const save = (results: ModelResult[], extra: Record<string, unknown>) =>
      writeFileSync(out, `${JSON.stringify({ adapter: adapter.name, browser: browserVersion, date, threads: adapter.threads, adapterInfo: adapter, ...extra, results: merged(results) }, null, 1)}\n`);

    const results: ModelResult[] = [];
    for (const m of models) {
      const page = await openBenchPage();
      try {
        const info = await page.evaluate(([name, url]) => window.crateBench.load(name, url), [m.name, m.url] as const);
        const result: ModelResult = { name: m.name, ...info, forward: {}, captured: {}, analysisMs: [], gpuBytes: 0, errors: {} };
        results.push(result);
        await measure(page, m.name, 'forward', ENGINES, result, software);
        await measure(page, m.name, 'captured', ENGINES, result, software);
        // Like the other measures: a warm-up first (the JIT has not seen these shapes yet), then timed runs.
        const analysis = () => page.evaluate((name) => window.crateBench.analysis(name), m.name);
        await analysis();
        for (let i = 0; i < ANALYSIS_RUNS; i++) result.analysisMs.push(await analysis());
        result.analysisHelpers = await page.evaluate((name) => window.crateBench.analysisHelpers(name), m.name);
        result.gpuBytes = await page.evaluate((name) => window.crateBench.gpuBytes(name), m.name);
        result.kernels = await page.evaluate((name) => window.crateBench.variants(name), m.name);
      } catch (error) {
        step(`${m.name}: the run stopped: ${(error as Error).message.split('\n')[0]}`);
      } finally {
        await page.close().catch(() => {});
      }
      save(results, { partial: true });
    }
    step('page load to first render');
    const firstRenderMs = await firstRender(browser);
    const meta = { adapter: adapter.name, browser: browserVersion, date, firstRenderMs, threads: adapter.threads };
    const markdown = table(merged(results), meta);
    console.log(`\n${markdown}\n`);
    save(results, { firstRenderMs, totalSeconds: (performance.now() - started) / 1000, merged: earlier.length > 0 });
    const heading = software ? 'Software adapter (SwiftShader)' : `GPU: ${adapter.name}`;
    updateBenchmarksMd(markdown, FULL ? `${heading}, full run (\`--full\`)` : heading);
    await responsiveness(browser);
    step(`wrote ${out} and BENCHMARKS.md in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await browser.close();
    try {
      process.kill(-server.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
