#!/usr/bin/env node
/**
 * `npm run fuzz`: the parser fuzz tests (test/unit/fuzz*.test.ts) at full
 * size, 100,000 cases per parser (safetensors, ONNX, .pth, URL codec)
 * instead of the 2,000 `npm test` runs. One file at a time.
 *
 *   npm run fuzz                          all parsers, 100,000 cases each
 *   npm run fuzz -- onnx pth              only those files (matched by name)
 *   CRATE_FUZZ_RUNS=20000 npm run fuzz    another case count
 *   CRATE_FUZZ_SEED=42 npm run fuzz       another seed (the default is fixed; a failure prints its seed)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = readdirSync(join(ROOT, 'test/unit'))
  .filter((f) => /^fuzz.*\.test\.ts$/.test(f))
  .filter((f) => filters.length === 0 || filters.some((w) => f.toLowerCase().includes(w.toLowerCase())))
  .map((f) => `test/unit/${f}`);
if (files.length === 0) {
  console.error(`no fuzz test matches ${filters.join(', ')}`);
  process.exit(2);
}
const runs = process.env.CRATE_FUZZ_RUNS ?? '100000';
if (!/^[1-9][0-9]*$/.test(runs)) {
  console.error(`CRATE_FUZZ_RUNS must be a positive whole number, got ${JSON.stringify(runs)}`);
  process.exit(2);
}
console.log(`fuzzing ${files.join(', ')}: ${runs} cases per parser, seed ${process.env.CRATE_FUZZ_SEED ?? 'fixed (default)'}`);
// One vitest process per file, one after the other: on a loaded machine a pool of
// workers can fail to start, and the files are long enough to gain nothing from sharing one.
const started = Date.now();
const failed = [];
for (const file of files) {
  const result = spawnSync(join(ROOT, 'node_modules/.bin/vitest'), ['run', '--config', 'vitest.config.ts', `--testTimeout=${6 * 3600_000}`, file], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, CRATE_FUZZ_RUNS: runs },
  });
  if (result.status !== 0) failed.push(file);
}
console.log(`fuzz: ${((Date.now() - started) / 1000).toFixed(0)} s; ${files.length - failed.length} of ${files.length} files passed${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`);
process.exit(failed.length ? 1 : 0);
