/**
 * Issue 17's responsiveness targets, measured on the production build served
 * by `vite preview` in the e2e tests' Chromium (bench/run.ts starts both):
 *
 * - first full render of the default model (top-5 and the layer table
 *   filled): cold (a fresh browser context, so an empty HTTP cache and Cache
 *   API) and warm (a reload in the same context);
 * - sample switch on every shipped model: from the click to the prediction
 *   showing the new sample (top5[data-sample]) and both layer charts drawn
 *   from the new result (their points' data-value equal to the layer table's,
 *   which React renders in the same commit as the prediction; d3 draws the
 *   charts in an effect afterwards, ui/useD3.ts);
 * - freezes: the longest main-thread task (PerformanceObserver 'longtask',
 *   buffered, installed before any page script) during load, sample switches,
 *   layer switches, dataset mode, opening a CRATE-B-sized `.pth` and engine
 *   switches.
 *
 * Every time is taken inside the page (performance.now()), so Playwright's
 * polling does not add to it: a MutationObserver notes the moment the awaited
 * state first holds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';

/** The load when this process started (this module is imported first thing), before the bench's own browser ran. */
const LOAD_AVERAGE_BEFORE = loadavg()[0];
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { median } from '../src/analysis/dataset.ts';
import { formatMs, longestTaskEntry, longestTaskIn, verdict, type LongTask } from '../src/bench/responsivenessStats.ts';
import { shippedManifest } from '../test/helpers/shippedModels.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** Issue 17, "Targets". */
export const TARGETS = { coldMs: 2000, warmMs: 1000, sampleSwitchMs: 150, longTaskMs: 200 } as const;

export interface ResponsivenessOptions {
  /** Fresh-context loads, and reloads in one context. */
  loads: number;
  /** Sample switches per shipped model. */
  switches: number;
  /** Time left to the page after a render before the next step, so lazy start-ups (ORT) land in the step that caused them. */
  settleMs: number;
  /** Skip the CRATE-B `.pth` (it needs /usr/bin/python3 with torch to write one). */
  skipPth: boolean;
}

export const DEFAULT_OPTIONS: ResponsivenessOptions = { loads: 3, switches: 5, settleMs: 2000, skipPth: false };

interface Freeze {
  what: string;
  /** Longest task in each measured window. */
  longest: number[];
  /** For loads: when the worst task began, against the first full render (ms from navigation start). */
  worst?: { start: number; firstFull: number };
  note?: string;
}

export interface ResponsivenessResult {
  date: string;
  adapter: string;
  software: boolean;
  coldMs: number[];
  warmMs: number[];
  coldMilestones: Milestones[];
  warmMilestones: Milestones[];
  /** os.loadavg()[0] when the section started and ended: the figures on a shared 2-core machine depend on it. */
  loadAverage: number;
  loadAverageEnd?: number;
  /** os.loadavg()[0] when the bench process started, before its own Chromium ran: what other jobs put on the machine. */
  loadAverageBefore?: number;
  /** Per shipped model id: click to prediction and charts updated. */
  sampleSwitchMs: Record<string, number[]>;
  layerSwitchMs: number[];
  datasetMs?: number;
  pth?: { bytes: number; wallMs: number; parseMs: number; firstMs: number };
  engineSwitchMs: Record<string, number>;
  freezes: Freeze[];
  notes: string[];
}

type Awaited = { kind: 'sample'; model: string; sample: number } | { kind: 'layer'; layer: number };
interface PageProbe {
  tasks: { start: number; duration: number }[];
  firstFull?: number;
  /** When the top-5 and the layer table each first appeared: which of the two a slow first render waits for. */
  firstTop5?: number;
  firstTable?: number;
  /** What the prediction panel said while loading, and when: where a slow first render spends its time. */
  phases: { t: number; text: string }[];
  /** Whether the awaited state holds: predicates live here because the app's CSP forbids eval in the page. */
  holds(awaited: Awaited): boolean;
}

/**
 * Runs in the page before any of its scripts: records every long task, the
 * moment the first full render holds (top-5 filled and the layer table
 * present), and the predicates that end a sample or layer switch.
 */
function instrument() {
  const sameNumbers = (chart: string, prefix: string) => {
    const points = [...document.querySelectorAll(`[data-testid="${chart}"] g.chart-point`)];
    if (points.length === 0) return false;
    return points.every((p) => {
      const cell = document.querySelector(`[data-testid="${prefix}-${p.getAttribute('data-layer')}"]`);
      if (!cell) return false;
      const a = Number(p.getAttribute('data-value'));
      const b = Number(cell.getAttribute('data-value'));
      return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    });
  };
  const probe: PageProbe = {
    tasks: [],
    phases: [],
    holds(awaited) {
      if (awaited.kind === 'layer') return document.querySelector('[data-testid="layer-detail"]')?.getAttribute('data-layer') === String(awaited.layer);
      const top = document.querySelector('[data-testid="top5"]');
      if (!top || top.getAttribute('data-model') !== awaited.model || top.getAttribute('data-sample') !== String(awaited.sample)) return false;
      // The table renders in the prediction's commit; d3 draws the charts in an effect after it (ui/useD3.ts).
      return sameNumbers('chart-coding-rate', 'rate') && sameNumbers('chart-sparsity', 'sparsity');
    },
  };
  (window as unknown as { __resp: PageProbe }).__resp = probe;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.tasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    /* checked by the bench: PerformanceObserver.supportedEntryTypes */
  }
  const observer = new MutationObserver(() => {
    const t = performance.now();
    const text = (document.querySelector('[data-testid="panel-prediction"] [role="status"]')?.textContent ?? '').replace(/\s+/g, ' ').trim().slice(0, 60);
    if (text && probe.phases.at(-1)?.text !== text) probe.phases.push({ t, text });
    if (probe.firstTop5 === undefined && (document.querySelector('[data-testid="top5"]')?.querySelectorAll('li').length ?? 0) >= 5) probe.firstTop5 = t;
    if (probe.firstTable === undefined && document.querySelector('[data-testid="layer-table"]')) probe.firstTable = t;
    if (probe.firstTop5 !== undefined && probe.firstTable !== undefined) {
      probe.firstFull = t;
      observer.disconnect();
    }
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true });
}

const longtaskSupported = (page: Page) => page.evaluate(() => PerformanceObserver.supportedEntryTypes.includes('longtask'));
const now = (page: Page) => page.evaluate(() => performance.now());
const tasks = (page: Page) => page.evaluate(() => (window as unknown as { __resp: PageProbe }).__resp.tasks.slice() as LongTask[]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function firstFull(page: Page, timeoutMs = 120_000): Promise<number> {
  await page.waitForFunction(() => (window as unknown as { __resp: PageProbe }).__resp.firstFull !== undefined, undefined, { timeout: timeoutMs, polling: 100 });
  return page.evaluate(() => (window as unknown as { __resp: PageProbe }).__resp.firstFull!);
}

interface Milestones {
  domContentLoaded: number;
  top5: number;
  table: number;
  phases: { t: number; text: string }[];
}

const milestones = (page: Page): Promise<Milestones> =>
  page.evaluate(() => {
    const probe = (window as unknown as { __resp: PageProbe }).__resp;
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
    return {
      domContentLoaded: nav?.domContentLoadedEventEnd ?? Number.NaN,
      top5: probe.firstTop5 ?? Number.NaN,
      table: probe.firstTable ?? Number.NaN,
      phases: probe.phases.slice(),
    };
  });

/** The engine check that follows a first render (ORT's lazy start on a software adapter): waited for, so it is not charged to the next step. */
async function settle(page: Page, settleMs: number) {
  await page
    .locator('[data-testid="agreement"]:not([data-status="loading"])')
    .waitFor({ state: 'attached', timeout: 60_000 })
    .catch(() => {});
  await sleep(settleMs);
}

/**
 * Clicks in the page and resolves with the milliseconds until the awaited
 * state first holds, checked after every DOM change.
 */
async function timeInPage(page: Page, clickSelector: string, awaited: Awaited, timeoutMs = 60_000): Promise<{ ms: number; from: number; to: number }> {
  return page.evaluate(
    ([selector, wanted, timeout]) =>
      new Promise<{ ms: number; from: number; to: number }>((resolve, reject) => {
        const probe = (window as unknown as { __resp: PageProbe }).__resp;
        const element = document.querySelector(selector);
        if (!element) return reject(new Error(`nothing matches ${selector}`));
        const from = performance.now();
        const finish = () => {
          const to = performance.now();
          observer.disconnect();
          clearTimeout(timer);
          resolve({ ms: to - from, from, to });
        };
        const observer = new MutationObserver(() => {
          if (probe.holds(wanted)) finish();
        });
        const timer = setTimeout(() => {
          observer.disconnect();
          reject(new Error(`not done within ${timeout} ms after clicking ${selector}`));
        }, timeout);
        observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
        // SVG elements have no click(): a bubbling event reaches d3's and React's handlers alike.
        element.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));
        if (probe.holds(wanted)) finish();
      }),
    [clickSelector, awaited, timeoutMs] as const,
  );
}

/** A load's longest task, and when it began if it is the worst of the loads so far. */
function noteLoadFreeze(f: Freeze, all: LongTask[], firstFull: number, end: number) {
  const worst = longestTaskEntry(all, 0, end);
  if (worst && worst.duration > Math.max(0, ...f.longest)) f.worst = { start: worst.start, firstFull };
  f.longest.push(worst?.duration ?? 0);
}

function step(message: string) {
  console.error(`[responsiveness ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => step(`page error: ${e.message.split('\n')[0]}`));
  page.on('crash', () => step('the page crashed'));
  return page;
}

async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // tsx compiles with keepNames: functions handed to the page call esbuild's __name helper, which the page lacks.
  await context.addInitScript({ content: 'globalThis.__name ??= (f) => f;' });
  await context.addInitScript(instrument);
  return context;
}

/** Writes a CRATE-B-sized checkpoint (~90 MB) the way e2e/modelFiles.spec.ts does, into a temp folder. */
function crateBCheckpoint(): { path: string; cleanup: () => void } {
  if (process.env.CRATE_B_PTH) return { path: process.env.CRATE_B_PTH, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'crate-b-resp-'));
  execFileSync(process.env.CRATE_PYTHON || '/usr/bin/python3', [join(ROOT, 'tools/make_checkpoints.py'), '--out', dir, '--size', 'crate-b'], {
    cwd: ROOT,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { path: join(dir, 'crate-b.pth'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function measureResponsiveness(browser: Browser, base: string, options: ResponsivenessOptions = DEFAULT_OPTIONS): Promise<ResponsivenessResult> {
  const manifest = shippedManifest();
  const result: ResponsivenessResult = {
    date: new Date().toISOString().slice(0, 10),
    adapter: 'unknown',
    software: true,
    coldMs: [],
    warmMs: [],
    coldMilestones: [],
    warmMilestones: [],
    loadAverage: loadavg()[0],
    loadAverageBefore: LOAD_AVERAGE_BEFORE,
    sampleSwitchMs: {},
    layerSwitchMs: [],
    engineSwitchMs: {},
    freezes: [],
    notes: [],
  };
  const freeze = (what: string) => {
    let f = result.freezes.find((x) => x.what === what);
    if (!f) result.freezes.push((f = { what, longest: [] }));
    return f;
  };

  // Load, cold: a fresh context each time, so nothing is cached.
  for (let i = 0; i < options.loads; i++) {
    const context = await newContext(browser);
    try {
      const page = await newPage(context);
      await page.goto(`${base}/`);
      if (i === 0 && !(await longtaskSupported(page))) throw new Error("this Chromium has no PerformanceObserver 'longtask': the freezes cannot be measured");
      const ms = await firstFull(page);
      result.coldMs.push(ms);
      result.coldMilestones.push(await milestones(page));
      await settle(page, options.settleMs);
      noteLoadFreeze(freeze('load, cold'), await tasks(page), ms, await now(page));
      if (i === 0) {
        const status = page.getByTestId('adapter-status');
        result.software = (await status.getAttribute('data-software')) !== 'false';
        const details = (await page.getByTestId('adapter-details').locator('p').first().textContent().catch(() => null)) ?? '';
        result.adapter = /Adapter:\s*([^;]+?)\.?$/.exec(details.replace(/\s+/g, ' ').split(';')[0].trim())?.[1] ?? 'unknown';
      }
      step(`cold load ${i + 1}: first full render ${ms.toFixed(0)} ms`);
    } finally {
      await context.close();
    }
  }

  // Load, warm: one untimed load fills the caches, then reloads in the same context.
  {
    const context = await newContext(browser);
    try {
      const page = await newPage(context);
      await page.goto(`${base}/`);
      await firstFull(page);
      await settle(page, options.settleMs);
      for (let i = 0; i < options.loads; i++) {
        await page.reload();
        const ms = await firstFull(page);
        result.warmMs.push(ms);
        result.warmMilestones.push(await milestones(page));
        await settle(page, options.settleMs);
        noteLoadFreeze(freeze('load, warm'), await tasks(page), ms, await now(page));
        step(`warm load ${i + 1}: first full render ${ms.toFixed(0)} ms`);
      }
    } finally {
      await context.close();
    }
  }

  const context = await newContext(browser);
  try {
    const page = await newPage(context);

    // Sample switches, on every shipped model.
    for (const model of manifest.models) {
      await page.goto(`${base}/?model=${model.id}&sample=0`);
      await firstFull(page);
      await settle(page, options.settleMs);
      const count = Math.min(options.switches, (model.samples?.count ?? 1) - 1);
      const times: number[] = [];
      for (let s = 1; s <= count; s++) {
        try {
          const t = await timeInPage(page, `[data-testid="sample-${s}"]`, { kind: 'sample', model: model.id, sample: s });
          times.push(t.ms);
          freeze('sample switches').longest.push(longestTaskIn(await tasks(page), t.from, t.to));
        } catch (error) {
          result.notes.push(`${model.id}, sample ${s}: ${(error as Error).message.split('\n')[0]}`);
        }
      }
      result.sampleSwitchMs[model.id] = times;
      step(`${model.id}: sample switches ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
    }

    // Layer switches, on the default model.
    await page.goto(`${base}/?model=${manifest.defaultModel}&sample=0&layer=0`);
    await firstFull(page);
    await settle(page, options.settleMs);
    const depth = await page.getByTestId('chart-coding-rate').locator('g.chart-point').count();
    for (let i = 1; i <= Math.min(options.switches, depth - 1); i++) {
      try {
        const t = await timeInPage(page, `[data-testid="chart-coding-rate"] g.chart-point[data-layer="${i}"]`, { kind: 'layer', layer: i });
        result.layerSwitchMs.push(t.ms);
        freeze('layer switches').longest.push(longestTaskIn(await tasks(page), t.from, t.to));
      } catch (error) {
        result.notes.push(`layer ${i}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    step(`layer switches ${result.layerSwitchMs.map((t) => t.toFixed(0)).join(', ')} ms`);

    // Dataset mode on the default model: from the toggle to its stats.
    {
      const from = await now(page);
      try {
        await page.getByTestId('dataset-toggle').check();
        await page.locator('[data-testid="dataset-run"][data-status="ready"]').waitFor({ timeout: 240_000 });
        const to = await now(page);
        result.datasetMs = to - from;
        freeze('dataset mode').longest.push(longestTaskIn(await tasks(page), from, to));
        step(`dataset mode: stats after ${(to - from).toFixed(0)} ms`);
      } catch (error) {
        freeze('dataset mode').longest.push(longestTaskIn(await tasks(page), from, await now(page)));
        result.notes.push(`dataset mode: ${(error as Error).message.split('\n')[0]}`);
      }
      await page.getByTestId('dataset-toggle').uncheck().catch(() => {});
    }

    // Engine switches through the selector, each awaited until the result says it ran there.
    await settle(page, options.settleMs);
    for (const engine of ['cpu', 'ort-wasm', 'ort-webgpu', 'wgsl']) {
      const f = freeze('engine switches');
      const from = await now(page);
      try {
        await page.getByTestId('engine-select').selectOption(engine);
        await page.locator(`[data-testid="engine-used"][data-engine="${engine}"]`).waitFor({ timeout: 90_000 });
        const to = await now(page);
        result.engineSwitchMs[engine] = to - from;
        f.longest.push(longestTaskIn(await tasks(page), from, to));
        step(`engine ${engine}: ${(to - from).toFixed(0)} ms`);
      } catch (error) {
        f.longest.push(longestTaskIn(await tasks(page), from, await now(page)));
        result.notes.push(`engine ${engine}: no result on it (${(error as Error).message.split('\n')[0]})`);
      }
    }

    // Opening a CRATE-B-sized .pth through the model file input, to its first result.
    if (!options.skipPth) {
      step('writing a CRATE-B-sized .pth (tools/make_checkpoints.py)');
      let pth: ReturnType<typeof crateBCheckpoint> | undefined;
      try {
        pth = crateBCheckpoint();
        await page.goto(`${base}/`);
        await firstFull(page);
        await settle(page, options.settleMs);
        await page.getByText('Bring your own model').click();
        const from = await now(page);
        const wallStart = Date.now();
        await page.getByTestId('model-file').setInputFiles(pth.path);
        const status = page.getByTestId('model-file-status');
        await page.locator('[data-testid="model-file-status"][data-first-ms]').waitFor({ timeout: 300_000 });
        const to = await now(page);
        result.pth = {
          bytes: statSync(pth.path).size,
          wallMs: Date.now() - wallStart,
          parseMs: Number(await status.getAttribute('data-parse-ms')),
          firstMs: Number(await status.getAttribute('data-first-ms')),
        };
        freeze('opening the CRATE-B .pth').longest.push(longestTaskIn(await tasks(page), from, to));
        step(`CRATE-B .pth: parsed in ${result.pth.parseMs.toFixed(0)} ms, first result after ${result.pth.firstMs.toFixed(0)} ms`);
      } catch (error) {
        result.notes.push(`CRATE-B .pth: ${(error as Error).message.split('\n')[0]}`);
        freeze('opening the CRATE-B .pth').note = 'not measured (see the notes)';
      } finally {
        pth?.cleanup();
      }
    } else {
      freeze('opening the CRATE-B .pth').note = 'skipped (--skip-pth)';
    }
  } finally {
    await context.close();
  }
  result.loadAverageEnd = loadavg()[0];
  return result;
}

function machine(): string {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    /* not Linux */
  }
  return `${availableParallelism()} cores (nproc), ${cpu}`;
}

const med = (values: number[]) => (values.length ? median(values) : Number.NaN);
const max = (values: number[]) => (values.length ? Math.max(...values) : Number.NaN);

/** The table, with each figure beside its target and a verdict. */
export function responsivenessMarkdown(r: ResponsivenessResult, command: string, browserVersion: string): string {
  const rows: string[] = [];
  const row = (figure: string, value: string, target: string, v: string, runs: string) => rows.push(`| ${figure} | ${value} | ${target} | ${v} | ${runs} |`);
  const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(', ');
  row('first full render, cold (fresh context)', formatMs(med(r.coldMs)), `≤ ${formatMs(TARGETS.coldMs)}`, verdict(med(r.coldMs), TARGETS.coldMs), list(r.coldMs));
  row('first full render, warm (reload)', formatMs(med(r.warmMs)), `≤ ${formatMs(TARGETS.warmMs)}`, verdict(med(r.warmMs), TARGETS.warmMs), list(r.warmMs));
  for (const [model, times] of Object.entries(r.sampleSwitchMs)) {
    row(`sample switch, ${model}`, formatMs(med(times)), `≤ ${formatMs(TARGETS.sampleSwitchMs)}`, verdict(med(times), TARGETS.sampleSwitchMs), list(times));
  }
  for (const f of r.freezes) {
    const worst = max(f.longest);
    row(
      `longest task: ${f.what}`,
      f.note && !f.longest.length ? f.note : formatMs(worst, true),
      `≤ ${formatMs(TARGETS.longTaskMs)}`,
      verdict(worst, TARGETS.longTaskMs),
      f.longest.map((v) => (v === 0 ? '<50' : v.toFixed(0))).join(', '),
    );
  }
  const info: string[] = [];
  const split = (label: string, m: Milestones[]) =>
    m.length &&
    info.push(
      `${label}: DOMContentLoaded ${formatMs(med(m.map((x) => x.domContentLoaded)))}, top-5 filled ${formatMs(med(m.map((x) => x.top5)))}, layer table shown ${formatMs(med(m.map((x) => x.table)))} (medians)`,
    );
  split('first render, cold', r.coldMilestones);
  split('first render, warm', r.warmMilestones);
  // One load's progress messages with the time each first showed: where the first render waits.
  const phases = (label: string, m: Milestones | undefined) =>
    m?.phases.length && info.push(`${label}, progress shown: ${m.phases.map((p) => `${formatMs(p.t)} "${p.text}"`).join(' → ')} → ${formatMs(m.top5)} top-5`);
  phases('first cold load', r.coldMilestones[0]);
  phases('first warm reload', r.warmMilestones[0]);
  for (const f of r.freezes) {
    if (f.worst) info.push(`${f.what}: the longest task began at ${formatMs(f.worst.start)} from navigation; that load's first full render was at ${formatMs(f.worst.firstFull)}`);
  }
  if (r.layerSwitchMs.length) info.push(`layer switch median ${formatMs(med(r.layerSwitchMs))} (${list(r.layerSwitchMs)})`);
  if (r.datasetMs !== undefined) info.push(`dataset mode on the default model: stats ${formatMs(r.datasetMs)} after the toggle`);
  const engines = Object.entries(r.engineSwitchMs);
  if (engines.length) info.push(`engine switch to a result on it: ${engines.map(([e, ms]) => `${e} ${formatMs(ms)}`).join(', ')}`);
  if (r.pth) info.push(`CRATE-B .pth (${(r.pth.bytes / 1e6).toFixed(0)} MB): parsed in ${formatMs(r.pth.parseMs)}, first result ${formatMs(r.pth.firstMs)} after the pick (app's figures), ${formatMs(r.pth.wallMs)} wall`);
  return [
    `${r.date} · adapter: **${r.adapter}** · ${browserVersion} · machine: ${machine()} · load average before the bench ${r.loadAverageBefore?.toFixed(1) ?? '—'}, at this section's start ${r.loadAverage.toFixed(1)}, at its end ${r.loadAverageEnd?.toFixed(1) ?? '—'}`,
    '',
    `Command: \`${command}\``,
    '',
    'Medians of the runs listed (milliseconds, in the page: `performance.now()` from navigation start, or from the click). ' +
      'A load runs to the first full render (top-5 and the layer table filled) plus the engine check that follows it and a short settle. ' +
      'A sample switch ends when the prediction shows the new sample (`top5[data-sample]`) and both layer charts show the new layer table. ' +
      'Long tasks: PerformanceObserver `longtask` (only tasks of 50 ms or more exist), the longest in each measured window; the verdict is on the worst window.',
    '',
    // The bench's own Chromium and SwiftShader load every core while it runs, so only the load from before it started says whether other jobs shared the machine.
    ...((r.loadAverageBefore ?? r.loadAverage) > availableParallelism()
      ? [
          `**The machine was busy** (load average above its ${availableParallelism()} cores before the bench started): other jobs stretched every time and every long task here, so these verdicts say more about the machine than about the app. Repeat on an idle machine.`,
          '',
        ]
      : []),
    '| figure | value | target (issue 17) | verdict | runs |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...info.map((line) => `- ${line}`),
    ...r.notes.map((line) => `- Not measured: ${line}`),
  ].join('\n');
}
