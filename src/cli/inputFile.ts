/**
 * Reads a file the command was given, refusing before reading anything that
 * is not a regular file (a FIFO would block forever, /dev/zero never ends, a
 * directory is not an image) or that is larger than the caller can use.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { CliError } from './errors.ts';

/** What a non-regular file is, in words for the message. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function openError(path: string, what: string, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
  return new CliError(`cannot read ${what} ${path}: ${reason}`);
}

export const MiB = 2 ** 20;
/** readSync takes at most 2 GiB - 1 bytes a call. */
const CHUNK = 2 ** 30;

/**
 * The whole of a regular file of at most `maxBytes` bytes. The file is opened
 * with O_NONBLOCK (so that opening a FIFO returns at once) and its type and
 * size are taken from the open descriptor, so what is checked is what is read.
 */
export function readRegularFile(path: string, what: string, maxBytes: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw openError(path, what, error);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new CliError(`cannot read ${what} ${path}: ${kindOf(stats)}, not a regular file`);
    if (stats.size > maxBytes) {
      throw new CliError(`cannot read ${what} ${path}: ${formatSize(stats.size)}, over the ${formatSize(maxBytes)} that any usable ${what} can take`);
    }
    const bytes = new Uint8Array(stats.size);
    let filled = 0;
    while (filled < bytes.length) {
      const read = readSync(fd, bytes, filled, Math.min(bytes.length - filled, CHUNK), null);
      if (read === 0) break; // shrank while being read: what is there is checked by the parser
      filled += read;
    }
    return filled === bytes.length ? bytes : bytes.subarray(0, filled);
  } catch (error) {
    throw error instanceof CliError ? error : openError(path, what, error);
  } finally {
    closeSync(fd);
  }
}

function formatSize(bytes: number): string {
  return bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${bytes} bytes`;
}
