/**
 * Spawns `crate-explorer` as a user would (node bin/crate-explorer.mjs …) under
 * a time limit and a memory watchdog, and reports how long it ran and its peak
 * resident memory. Hostile inputs must be refused quickly and cheaply; a
 * command that runs past either limit is killed (SIGKILL), so that a
 * regression costs the test a few seconds, not the machine its memory.
 *
 * bin/crate-explorer.mjs runs the command in a child process (its stderr
 * filtered), so the command is spawned in a process group of its own, the
 * watchdog kills the whole group, and peak memory is the largest kernel
 * high-water mark (VmHWM in /proc/PID/status, Linux) among the launcher and
 * its children, sampled every 20 ms; elsewhere it is undefined.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

export interface LimitedRun {
  /** Exit status, or null when killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Peak resident memory in MiB (Linux), undefined where /proc is not there. */
  peakMiB: number | undefined;
  /** Why the watchdog killed it, if it did. */
  killed?: 'time' | 'memory';
}

export interface Limits {
  seconds: number;
  /** Resident memory at which the command is killed. */
  killAtMiB: number;
}

/** The launcher and its direct children. */
function processTree(pid: number): number[] {
  try {
    return [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
  } catch {
    return [pid];
  }
}

function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // exited, or no /proc
  }
}

export function crateExplorerLimited(args: readonly string[], limits: Limits, env: NodeJS.ProcessEnv = process.env): Promise<LimitedRun> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(process.execPath, ['bin/crate-explorer.mjs', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let peakKiB: number | undefined;
    let killed: LimitedRun['killed'];
    const kill = (why: 'time' | 'memory') => {
      killed ??= why;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the group: launcher and command
      } catch {
        // already gone
      }
    };
    const sampler = setInterval(() => {
      for (const pid of processTree(child.pid!)) {
        const hwm = statusKiB(pid, 'VmHWM');
        if (hwm !== undefined) peakKiB = Math.max(peakKiB ?? 0, hwm);
        if ((statusKiB(pid, 'VmRSS') ?? 0) > limits.killAtMiB * 1024) kill('memory');
      }
    }, 20);
    const timer = setTimeout(() => kill('time'), limits.seconds * 1000);
    child.on('close', (code) => {
      clearInterval(sampler);
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - start) / 1000, peakMiB: peakKiB === undefined ? undefined : peakKiB / 1024, killed });
    });
  });
}

/** Lines the command itself wrote to stderr (Dawn's own Vulkan warnings are not ours). */
export const ownLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('crate-explorer:'));
