import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeapSampler } from './heapUsage.ts';

/**
 * Issue 16, "Big files": an L/14-shaped CRATE-α checkpoint (depth 24, dim 1024, patch 14, 224,
 * ratio 4; about 1 GB of random float32 weights, written here by tools/make_random_alpha_checkpoint.py
 * and deleted after) opened through the app's model file input, until the prediction shows.
 *
 * Printed: the open time (file chosen → parsed → first prediction), and the peak memory while it
 * opens and runs, sampled every 250 ms over CDP, per target:
 *   - `Runtime.getHeapUsage` on the page and on every worker (usedSize = the V8 JS heap; where this
 *     Chromium reports it, backingStorageSize = ArrayBuffer backing stores, which live outside it);
 *   - `Performance.getMetrics` JSHeapUsedSize on the page (the same V8 heap, as DevTools shows it);
 *   - once the prediction shows, `performance.measureUserAgentSpecificMemory()` (the page is
 *     cross-origin isolated): the browser's own attribution, page and workers, ArrayBuffers included.
 *     It waits for a garbage collection; here it has not answered within 60 s (also with
 *     --enable-blink-features=ForceEagerMeasureMemory), and the test prints that.
 * The peaks are printed twice: up to the end of parsing (the file read tensor by tensor; what the
 * reader holds) and up to the first prediction (the engine's upload and the run on top).
 * The bound is the issue's: the JS heap of the page and of each worker stays under 400 MB. The float32
 * weights themselves (1.01 GB) are ArrayBuffers, outside that heap by construction; what they cost is
 * printed, not bounded here.
 */

const MB = 1e6;
const HEAP_BOUND = 400 * MB;

test('an L/14-sized CRATE-α .pth (about 1 GB) opens through the file input with the JS heap under 400 MB', async ({ page }) => {
  test.setTimeout(40 * 60_000);
  const dir = mkdtempSync(join(tmpdir(), 'crate-big-'));
  try {
    const path = join(dir, 'crate_alpha_l14_random.pth');
    const generated = Date.now();
    execFileSync('/usr/bin/python3', ['tools/make_random_alpha_checkpoint.py', '--out', path, '--dim', '1024', '--depth', '24', '--heads', '16', '--patch', '14', '--image', '224', '--ratio', '4'], {
      stdio: 'pipe',
      timeout: 300_000,
    });
    const bytes = statSync(path).size;
    console.log(`wrote ${path}: ${(bytes / MB).toFixed(0)} MB in ${Date.now() - generated} ms`);
    expect(bytes).toBeGreaterThan(1000 * MB);

    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('crash', () => problems.push('the page crashed'));
    await page.goto('/?model=digits');
    await expect(page.getByTestId('top5').locator('li')).toHaveCount(5, { timeout: 120_000 });
    const sampler = await HeapSampler.start(page);
    await sampler.sample();
    const before = sampler.report();

    const start = Date.now();
    await page.getByTestId('model-file').setInputFiles(path);
    const status = page.getByTestId('model-file-status');
    let parsedAt = NaN;
    let firstAt = NaN;
    let atParsed: Record<string, string> = {};
    try {
      await expect(status).toHaveAttribute('data-parse-ms', /\d/, { timeout: 15 * 60_000 });
      parsedAt = Date.now();
      await sampler.sample();
      atParsed = sampler.report();
      await expect(page.getByTestId('heads-select')).toHaveValue('16', { timeout: 60_000 });
      // Opened: the model is selected and its first run has started. Its first prediction takes minutes on a
      // software adapter (240 GFLOP per image at about 1 GFLOP/s), so CI does not wait for it; with
      // CRATE_BIG_FILE_PREDICTION=1 the test waits and prints the heap until then too.
      await expect(page).toHaveURL(/model=local-file/, { timeout: 60_000 });
      if (process.env.CRATE_BIG_FILE_PREDICTION === '1') {
        await expect(status).toHaveAttribute('data-first-ms', /\d/, { timeout: 20 * 60_000 });
        firstAt = Date.now();
        await expect(page.getByTestId('top5').locator('li')).toHaveCount(5, { timeout: 60_000 });
      }
    } finally {
      await sampler.sample().catch(() => undefined);
      sampler.stop();
      const statusText = await status.textContent({ timeout: 5_000 }).catch(() => '(no status)');
      const engine = await page.getByTestId('engine-used').textContent({ timeout: 2_000 }).catch(() => '(no engine-used)');
      console.log(
        JSON.stringify(
          {
            bytes,
            wallToParsedMs: parsedAt - start,
            wallToFirstPredictionMs: firstAt - start,
            appParseMs: Number(await status.getAttribute('data-parse-ms', { timeout: 2_000 }).catch(() => NaN)),
            appFirstMs: Number(await status.getAttribute('data-first-ms', { timeout: 2_000 }).catch(() => NaN)),
            status: statusText?.slice(0, 300),
            engine,
            before,
            peaksUntilParsed: atParsed,
            peaksUntilFirstPrediction: sampler.report(),
            problems: problems.slice(0, 10),
          },
          null,
          2,
        ),
      );
    }

    // The browser's own attribution, ArrayBuffers included (it may wait for a GC; bounded here).
    const measured = process.env.CRATE_BIG_FILE_PREDICTION !== '1' ? 'not asked for (CRATE_BIG_FILE_PREDICTION unset; it timed out after 60 s in every run so far)' : await page
      .evaluate(async () => {
        const perf = performance as Performance & { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number; breakdown: { bytes: number; types: string[]; attribution: { scope?: string; url?: string }[] }[] }> };
        if (!crossOriginIsolated || !perf.measureUserAgentSpecificMemory) return 'unavailable';
        const result = await Promise.race([perf.measureUserAgentSpecificMemory(), new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000))]);
        if (result === 'timeout') return 'timed out after 60 s';
        return {
          totalMB: +(result.bytes / 1e6).toFixed(1),
          breakdown: result.breakdown.filter((b) => b.bytes > 0).map((b) => ({ MB: +(b.bytes / 1e6).toFixed(1), types: b.types.join(','), scope: b.attribution.map((a) => a.scope ?? a.url).join(',') })),
        };
      })
      .catch((e: unknown) => `failed: ${(e as Error).message}`);
    console.log(`measureUserAgentSpecificMemory after the prediction: ${JSON.stringify(measured)}`);

    for (const [target, peak] of sampler.peaks) expect(peak.usedSize, `${target}: peak JS heap`).toBeLessThan(HEAP_BOUND);
    expect(sampler.peaks.size, 'the page and at least one worker were sampled').toBeGreaterThan(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
