#!/usr/bin/env node
// The `crate-explorer` command: runs the TypeScript sources directly through
// tsx, with a hook for the kernels' `?raw` WGSL imports. See src/cli/README.md.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
// Hooks registered later run first: the WGSL hook sees `?raw` imports before tsx does.
register('./wgsl-hooks.mjs', import.meta.url);
await import('../src/cli/main.ts');
