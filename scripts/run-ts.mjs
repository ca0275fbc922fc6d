#!/usr/bin/env node
// Runs a TypeScript entry point the way bin/crate-explorer.mjs runs the CLI:
// tsx for TypeScript, plus the hook for the kernels' `?raw` WGSL imports.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { register as registerTsx } from 'tsx/esm/api';

const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs FILE.ts [args…]');
  process.exit(2);
}
registerTsx();
register('../bin/wgsl-hooks.mjs', import.meta.url);
process.argv = [process.argv[0], entry, ...rest];
await import(pathToFileURL(resolve(entry)).href);
