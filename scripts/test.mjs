#!/usr/bin/env node
/**
 * `npm test`: every test tier, in order, each run even if an earlier one
 * failed; one summary; the last line is exactly `N passed, N failed`.
 *
 *   python  /usr/bin/python3 -m unittest discover -s tools   (PyTorch reference, fixtures)
 *   unit    vitest run --config vitest.config.ts              (Node, no GPU)
 *   gpu     vitest run --config vitest.gpu.config.ts          (WGSL in Node via Dawn + Vulkan/SwiftShader)
 *   e2e     vite build, then playwright test                  (system Chromium with WebGPU)
 *
 * Usage: node scripts/test.mjs [--only <tier>]...
 *
 * Counts come from each runner's JSON report. A tier that crashes without a
 * report counts as 1 failed; a tier that finds no tests counts as 1 failed
 * ("no tests ran"); skipped tests count as failed in the GPU tiers (gpu, e2e),
 * where a skip would hide a missing GPU. Missing system packages (Chromium,
 * Debian's PyTorch) are installed with apt-get when running as root on Debian.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPORTS = join(ROOT, 'test-results');
const BIN = join(ROOT, 'node_modules', '.bin');
const TIERS = ['python', 'unit', 'gpu', 'e2e'];
/** Generous per-tier limits (seconds); a hung tier must not hang CI. CRATE_TIER_TIMEOUT_S overrides all. */
const TIMEOUT_S = { python: 1800, unit: 1200, gpu: 3600, e2e: 1800 };
const DEBIAN_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// ─── arguments ───────────────────────────────────────────────────────────────

function parseArgs(argv) {
  const only = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let tier;
    if (arg === '--only') tier = argv[++i];
    else if (arg.startsWith('--only=')) tier = arg.slice('--only='.length);
    else if (arg === '-h' || arg === '--help') {
      console.log(`usage: node scripts/test.mjs [--only <${TIERS.join('|')}>]...`);
      process.exit(0);
    } else {
      console.error(`unknown argument ${JSON.stringify(arg)}; usage: node scripts/test.mjs [--only <${TIERS.join('|')}>]...`);
      process.exit(2);
    }
    if (!TIERS.includes(tier)) {
      console.error(`--only needs one of ${TIERS.join(', ')}; got ${JSON.stringify(tier)}`);
      process.exit(2);
    }
    only.push(tier);
  }
  return only.length ? TIERS.filter((t) => only.includes(t)) : TIERS;
}

// ─── system setup ────────────────────────────────────────────────────────────

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const isDebian = existsSync('/etc/debian_version');
let aptUpdated = false;

function banner(text) {
  console.log(`\n━━━ ${text} ${'━'.repeat(Math.max(0, 72 - text.length))}`);
}

/** apt-get install as root on Debian; returns false (with a message) where that is not possible or fails. */
function aptInstall(packages, why) {
  if (!isDebian || !isRoot) {
    console.error(`! ${why}: install ${packages.join(' ')} (needs root on Debian; not attempted here)`);
    return false;
  }
  console.log(`• ${why}: apt-get install -y ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (update.status !== 0) console.error('! apt-get update failed; trying the install anyway');
    aptUpdated = true;
  }
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  if (install.status !== 0) {
    console.error(`! apt-get install ${packages.join(' ')} failed (exit ${install.status})`);
    return false;
  }
  return true;
}

function playwrightChromium() {
  try {
    const require = createRequire(join(ROOT, 'package.json'));
    const { chromium } = require('playwright');
    const path = chromium.executablePath();
    return path && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** CHROME_PATH, then Debian's /usr/bin/chromium, then a Playwright-managed one; apt-get as the last resort. */
function findChromium() {
  const candidates = [
    ['CHROME_PATH', process.env.CHROME_PATH],
    ['Debian package', '/usr/bin/chromium'],
    ['Playwright-managed', playwrightChromium()],
  ];
  for (const [source, path] of candidates) {
    if (path && existsSync(path)) return { path, source };
    if (source === 'CHROME_PATH' && path) console.error(`! CHROME_PATH=${path} does not exist; looking elsewhere`);
  }
  if (aptInstall(['chromium'], 'no Chromium found') && existsSync('/usr/bin/chromium')) {
    return { path: '/usr/bin/chromium', source: 'Debian package (just installed)' };
  }
  return undefined;
}

/** The SwiftShader Vulkan driver that ships beside Chromium, for Dawn in Node. */
function findSwiftShaderIcd(chromePath) {
  const candidates = [];
  if (chromePath) {
    try {
      candidates.push(join(dirname(realpathSync(chromePath)), 'vk_swiftshader_icd.json'));
    } catch {
      /* ignore */
    }
  }
  candidates.push(DEBIAN_ICD);
  return candidates.find((p) => existsSync(p));
}

/** Dawn (npm `webgpu`) dlopens the system's libvulkan.so.1; Debian's chromium bundles its own, so it is not pulled in. */
function ensureVulkanLoader() {
  const present = spawnSync('sh', ['-c', 'ldconfig -p | grep -q "libvulkan.so.1 "'], { stdio: 'ignore' }).status === 0;
  if (!present) aptInstall(['libvulkan1'], 'the gpu tier needs the Vulkan loader');
}

/**
 * The Python tier and the tests that shell out to Python need Debian's PyTorch
 * with a threaded BLAS, onnx (the exporter checks its graphs), scikit-image and
 * Pillow (the scene dataset and the sample atlases) and Fashion-MNIST (the
 * shipped fashion model's held-out check).
 */
function ensurePythonDeps() {
  const probe = () => spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy, onnx, skimage, PIL'], { stdio: 'ignore' }).status === 0;
  const installed = (pkg) => !isDebian || spawnSync('dpkg', ['-s', pkg], { stdio: 'ignore' }).status === 0;
  const missing = [];
  if (!existsSync('/usr/bin/python3') || !probe()) missing.push('python3', 'python3-torch', 'python3-numpy', 'python3-onnx', 'python3-skimage', 'python3-pil');
  for (const pkg of ['libopenblas0-pthread', 'dataset-fashion-mnist']) if (!installed(pkg)) missing.push(pkg);
  if (missing.length) aptInstall(missing, 'the Python tier needs PyTorch, onnx, scikit-image and Fashion-MNIST');
}

// ─── running a tier ──────────────────────────────────────────────────────────

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    process.exit(130);
  });
}

/**
 * Runs a command in its own process group, output streamed to the console
 * (and captured when `capture`), killed with its whole group after the timeout.
 */
function run(command, args, { env = {}, capture = false, timeoutS } = {}) {
  return new Promise((resolveRun) => {
    console.log(`$ ${[command, ...args].join(' ')}`);
    let output = '';
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    children.add(child);
    if (capture) {
      child.stdout.on('data', (chunk) => {
        output += chunk;
        process.stdout.write(chunk);
      });
      child.stderr.on('data', (chunk) => {
        output += chunk;
        process.stderr.write(chunk);
      });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`! ${command} ran past ${timeoutS} s; killing it`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutS * 1000);
    const finish = (code, error) => {
      clearTimeout(timer);
      children.delete(child);
      resolveRun({ code, output, timedOut, error });
    };
    child.on('error', (error) => finish(null, error.message));
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** A tier's result: counts plus the notes the summary prints. */
function result(passed, failed, skipped, notes) {
  return { passed, failed, skipped, notes };
}

function crashed(what, outcome) {
  const why = outcome.error ?? (outcome.timedOut ? 'timed out' : `exited with code ${outcome.code}`);
  return result(0, 1, 0, [`${what} ${why} without a report`]);
}

/** When the runner's exit code says failure but the report counts none, the exit code wins. */
function reconcileExit(r, outcome) {
  if (outcome.code !== 0) {
    r.notes.push(outcome.timedOut ? 'timed out' : `runner exited with code ${outcome.code}`);
    if (r.failed === 0) r.failed = 1;
  }
  return r;
}

async function vitestTier(name, config, { gpu, env = {} }) {
  const report = join(REPORTS, `${name}.json`);
  rmSync(report, { force: true });
  const outcome = await run(
    join(BIN, 'vitest'),
    ['run', '--config', config, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
    { env, timeoutS: timeoutFor(name) },
  );
  const json = readJson(report);
  if (!json) {
    if (/No test files found/i.test(outcome.output)) return result(0, 1, 0, ['no tests ran (no test files found)']);
    return crashed('vitest', outcome);
  }
  // Count from the per-test results: a test that never finished (a crashed
  // worker) is left "pending" there, exactly like a skipped one.
  const tests = (json.testResults ?? []).flatMap((f) => f.assertionResults ?? []);
  const passed = tests.filter((t) => t.status === 'passed').length;
  let failed = tests.filter((t) => t.status === 'failed').length;
  const skipped = tests.length - passed - failed;
  const notes = [];
  // A file that fails to load has no tests in the count; it is still a failure.
  const brokenFiles = (json.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).length);
  if (brokenFiles.length) {
    failed += brokenFiles.length;
    notes.push(`${brokenFiles.length} test file(s) failed to run: ${brokenFiles.map((f) => f.name.replace(`${ROOT}/`, '')).join(', ')}`);
  }
  if (skipped) {
    notes.push(`${skipped} skipped or not run${gpu ? ' (counted as failed)' : ''}`);
    if (gpu) failed += skipped;
  }
  if (tests.length === 0 && failed === 0) return result(0, 1, 0, ['no tests ran']);
  return reconcileExit(result(passed, failed, skipped, notes), outcome);
}

function timeoutFor(tier) {
  return Number(process.env.CRATE_TIER_TIMEOUT_S) || TIMEOUT_S[tier];
}

function hasPythonTests(dir) {
  if (!existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && /^test_.*\.py$/.test(entry.name)) return true;
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== '__pycache__' && hasPythonTests(join(dir, entry.name))) return true;
  }
  return false;
}

const tiers = {
  async python() {
    if (!hasPythonTests(join(ROOT, 'tools'))) return { ...result(0, 0, 0, ['skipped: tools/ has no test_*.py']), skippedTier: true };
    ensurePythonDeps();
    const outcome = await run('/usr/bin/python3', ['-m', 'unittest', 'discover', '-s', 'tools', '-p', 'test_*.py', '-v'], {
      capture: true,
      env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
      timeoutS: timeoutFor('python'),
    });
    const ran = /^Ran (\d+) tests? in /m.exec(outcome.output);
    if (!ran) return crashed('python unittest', outcome);
    const total = Number(ran[1]);
    // The status line after "Ran N tests": OK or FAILED, with (failures=a, errors=b, skipped=c, …).
    const status = /^(OK|FAILED)\b(.*)$/m.exec(outcome.output.slice(ran.index))?.[2] ?? '';
    const count = (key) => Number(new RegExp(`[(,]\\s*${key}=(\\d+)`).exec(status)?.[1] ?? 0);
    const failed = count('failures') + count('errors') + count('unexpected successes');
    const skipped = count('skipped');
    if (total === 0) return result(0, 1, 0, ['no tests ran']);
    const notes = skipped ? [`${skipped} skipped`] : [];
    return reconcileExit(result(total - failed - skipped, failed, skipped, notes), outcome);
  },

  unit: () => vitestTier('unit', 'vitest.config.ts', { gpu: false }),

  gpu(context) {
    ensureVulkanLoader();
    const env = {};
    if (!process.env.VK_ICD_FILENAMES) {
      const icd = findSwiftShaderIcd(context.chromium?.path);
      if (icd) env.VK_ICD_FILENAMES = icd;
      else console.error('! no SwiftShader Vulkan driver found; Dawn will use whatever Vulkan driver the system has');
    }
    return vitestTier('gpu', 'vitest.gpu.config.ts', { gpu: true, env });
  },

  async e2e(context) {
    if (!context.chromium) return result(0, 1, 0, ['no Chromium found or installable; set CHROME_PATH']);
    const build = await run(join(BIN, 'vite'), ['build'], { timeoutS: 600 });
    if (build.code !== 0) return result(0, 1, 0, [`vite build failed (${build.timedOut ? 'timed out' : `exit ${build.code}`})`]);
    const report = join(REPORTS, 'e2e.json');
    rmSync(report, { force: true });
    const outcome = await run(join(BIN, 'playwright'), ['test'], {
      env: { CRATE_CHROMIUM: context.chromium.path },
      timeoutS: timeoutFor('e2e'),
    });
    const json = readJson(report);
    if (!json?.stats) return crashed('playwright', outcome);
    const { expected = 0, unexpected = 0, flaky = 0, skipped = 0 } = json.stats;
    const notes = [];
    let failed = unexpected + skipped;
    if (skipped) notes.push(`${skipped} skipped (counted as failed)`);
    if (flaky) notes.push(`${flaky} flaky (passed on retry)`);
    const errors = json.errors ?? [];
    if (errors.length) {
      failed += errors.length;
      notes.push(`${errors.length} error(s) outside tests: ${errors.map((e) => (e.message ?? '').split('\n')[0]).join('; ')}`);
    }
    if (expected + flaky + failed === 0) return result(0, 1, 0, ['no tests ran']);
    return reconcileExit(result(expected + flaky, failed, skipped, notes), outcome);
  },
};

// ─── main ────────────────────────────────────────────────────────────────────

function formatSeconds(ms) {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

async function main() {
  const selected = parseArgs(process.argv.slice(2));
  mkdirSync(REPORTS, { recursive: true });
  if (!existsSync(join(BIN, 'vitest')) || !existsSync(join(BIN, 'playwright'))) {
    console.error('! node_modules is missing or incomplete: run `npm ci` (or `npm install`) first');
  }
  const context = {};
  if (selected.includes('gpu') || selected.includes('e2e')) {
    context.chromium = findChromium();
    if (context.chromium) console.log(`• Chromium: ${context.chromium.path} (${context.chromium.source})`);
  }

  const results = [];
  for (const name of selected) {
    banner(`tier: ${name}`);
    const start = Date.now();
    let r;
    try {
      r = await tiers[name](context);
    } catch (error) {
      r = result(0, 1, 0, [`the tier runner itself failed: ${error?.message ?? error}`]);
    }
    results.push({ name, ...r, ms: Date.now() - start });
  }

  banner('summary');
  for (const r of results) {
    const counts = r.skippedTier ? 'not run' : `${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(4)} failed`;
    const mark = r.failed ? 'FAIL' : r.skippedTier ? 'skip' : ' ok ';
    console.log(`${mark}  ${r.name.padEnd(7)} ${counts.padEnd(26)} ${formatSeconds(r.ms).padStart(10)}${r.notes.length ? `   ${r.notes.join('; ')}` : ''}`);
  }
  const passed = results.reduce((s, r) => s + r.passed, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

await main();
