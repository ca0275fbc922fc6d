/**
 * Where `--json OUT.json` goes. A new file, or a plain regular file, is
 * written to a temporary file beside it and renamed over it when complete, so
 * that a failed run leaves no half-written JSON. Anything else is written
 * through, never replaced: a symbolic link keeps pointing where it did (its
 * target is replaced atomically if it is a regular file), a hard-linked file
 * is rewritten in place, a character device such as /dev/null is opened and
 * written, and the command's own stdout or stderr (/dev/stdout, /proc/self/fd/1,
 * a link to them) is written, once complete, on the descriptor the command
 * already holds, so the JSON follows the printed lines instead of clobbering
 * or interleaving with them. Directories,
 * block devices, sockets and FIFOs without a reader are refused.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CliError } from './errors.ts';

export interface OutputFile {
  write(text: string): void;
  /** Everything was written: the file takes its place (or is simply closed). */
  commit(): void;
  /** The run failed: a temporary file is removed; a written-through target cannot be taken back. */
  abandon(): void;
}

const cannotWrite = (path: string, reason: string) => new CliError(`cannot write ${path}: ${reason}`);

function systemReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such directory';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

function statOrUndefined(stat: () => Stats): Stats | undefined {
  try {
    return stat();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes `text` to the descriptor, all of it (writeSync may write less than asked). */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
}

/** A temporary file beside `target`, renamed over it on commit. */
function atomicFile(path: string, target: string): OutputFile {
  const temporary = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666);
  } catch (error) {
    throw cannotWrite(path, systemReason(error));
  }
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  return {
    write: (text) => writeAll(fd!, text),
    commit: () => {
      close();
      try {
        renameSync(temporary, target);
      } catch (error) {
        rmSync(temporary, { force: true });
        throw cannotWrite(path, systemReason(error));
      }
    },
    abandon: () => {
      close();
      rmSync(temporary, { force: true });
    },
  };
}

/** An open descriptor written directly. */
function directFile(fd: number): OutputFile {
  const close = () => closeSync(fd);
  return { write: (text) => writeAll(fd, text), commit: close, abandon: close };
}

/**
 * The command's own stdout or stderr: the JSON is held until it is complete
 * and then written in one piece after the lines already printed, so that the
 * two do not interleave; the descriptor stays open.
 */
function ownStream(fd: number): OutputFile {
  const parts: string[] = [];
  return { write: (text) => void parts.push(text), commit: () => writeAll(fd, parts.join('')), abandon: () => void (parts.length = 0) };
}

const sameFile = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino;

/** The command's stdout (1) or stderr (2), when `target` is the same open file. */
function ownDescriptor(target: Stats): number | undefined {
  for (const fd of [1, 2]) {
    const open = statOrUndefined(() => fstatSync(fd));
    if (open && sameFile(open, target)) return fd;
  }
  return undefined;
}

/** A FIFO is opened without blocking first: with no reader that fails at once (ENXIO) instead of hanging. */
function openFifo(path: string): number {
  let probe: number;
  try {
    probe = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENXIO') throw cannotWrite(path, 'a FIFO (named pipe) with no reader');
    throw cannotWrite(path, systemReason(error));
  }
  try {
    // A reader is there, so a blocking open returns at once; blocking writes wait for the reader instead of failing.
    return openSync(path, constants.O_WRONLY);
  } finally {
    closeSync(probe);
  }
}

export function openOutputFile(path: string): OutputFile {
  let link: Stats | undefined;
  let target: Stats | undefined;
  try {
    link = statOrUndefined(() => lstatSync(path));
    target = link && statOrUndefined(() => statSync(path));
  } catch (error) {
    throw cannotWrite(path, systemReason(error));
  }
  if (!link) return atomicFile(path, path);
  if (!target) throw cannotWrite(path, 'a symbolic link to a missing file; give the target itself');
  if (target.isDirectory()) throw cannotWrite(path, 'is a directory');
  const own = ownDescriptor(target);
  if (own !== undefined) return ownStream(own);
  if (target.isFile()) {
    // Renaming over a hard-linked file would cut it from its other names: rewrite it in place.
    if (target.nlink > 1) return directFile(openOrRefuse(path, constants.O_WRONLY | constants.O_TRUNC));
    return atomicFile(path, link.isSymbolicLink() ? realpathSync(path) : path);
  }
  if (target.isCharacterDevice()) return directFile(openOrRefuse(path, constants.O_WRONLY));
  if (target.isFIFO()) return directFile(openFifo(path));
  throw cannotWrite(path, target.isBlockDevice() ? 'a block device' : target.isSocket() ? 'a socket' : 'not a regular file');
}

function openOrRefuse(path: string, flags: number): number {
  try {
    return openSync(path, flags);
  } catch (error) {
    throw cannotWrite(path, systemReason(error));
  }
}

/** The whole of `text` to `path`, as openOutputFile says. */
export function writeOutputFile(path: string, text: string): void {
  const file = openOutputFile(path);
  try {
    file.write(text);
  } catch (error) {
    file.abandon();
    throw cannotWrite(path, systemReason(error));
  }
  file.commit();
}
