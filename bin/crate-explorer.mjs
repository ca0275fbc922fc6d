#!/usr/bin/env node
// The `crate-explorer` command: runs the TypeScript sources directly through
// tsx, with a hook for the kernels' `?raw` WGSL imports. See src/cli/README.md.
//
// It runs as two processes: this one starts the command as a child whose
// stderr it pipes through NativeWarningFilter (nativeWarnings.mjs), because
// Dawn writes its raw Vulkan warnings to stderr from C++; stdin and stdout are
// the child's own. CRATE_EXPLORER_DEBUG=1 lets Dawn's lines through.
import { spawn } from 'node:child_process';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { register as registerTsx } from 'tsx/esm/api';
import { NativeWarningFilter } from './nativeWarnings.mjs';

const CHILD = 'CRATE_EXPLORER_CHILD';

if (process.env[CHILD] === '1' || process.env.CRATE_EXPLORER_DEBUG) {
  registerTsx();
  // Hooks registered later run first: the WGSL hook sees `?raw` imports before tsx does.
  register('./wgsl-hooks.mjs', import.meta.url);
  await import('../src/cli/main.ts');
} else {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    // The child's stderr is a pipe: it is told whether the real one is a terminal (for the progress bar).
    env: { ...process.env, [CHILD]: '1', CRATE_EXPLORER_STDERR_TTY: process.stderr.isTTY ? '1' : '0' },
  });
  const filter = new NativeWarningFilter();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => process.stderr.write(filter.push(chunk)));
  // Signals meant for the command reach the child; this process only waits for it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('close', (code, signal) => {
    process.stderr.write(filter.end());
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exitCode = code ?? 1;
  });
}
