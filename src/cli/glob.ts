/**
 * Glob patterns for `stats`: `**` followed by `/` stands for any number of
 * folders, a `**` elsewhere for any characters, `*` for any characters within
 * one name, `?` for one character within a name, `[…]` for a class (`[!…]` or
 * `[^…]` negated, `a-z` ranges; an unclosed `[` is a literal). A path is
 * matched by simulating the pattern's automaton one character at a time, so a
 * match costs O(path length × pattern length) whatever the pattern: no
 * backtracking (a RegExp of `**x**x…` takes exponential time on a near-miss).
 */
import { readdirSync } from 'node:fs';
import { join, sep } from 'node:path';
import { UsageError } from './errors.ts';

type Token =
  | { kind: 'char'; test: (c: string) => boolean }
  /** Any run of characters; `crossesFolders`: '/' included. */
  | { kind: 'star'; crossesFolders: boolean }
  /** `**​/`: nothing, or anything ending in '/' (a globstar then this slash, or skip both). */
  | { kind: 'folders' };

export const hasWildcard = (text: string) => /[*?[]/.test(text);

function badPattern(pattern: string, reason: string): UsageError {
  return new UsageError(`bad pattern ${JSON.stringify(pattern)}: ${reason}`);
}

/** `[…]` starting at `open`; returns the token and the index of its `]`, or undefined when unclosed. */
function parseClass(pattern: string, open: number): { token: Token; end: number } | undefined {
  let i = open + 1;
  const negated = pattern[i] === '!' || pattern[i] === '^';
  if (negated) i++;
  const start = i;
  // A ']' right after '[' or '[!' is a member, as in POSIX.
  const end = pattern.indexOf(']', pattern[i] === ']' ? i + 1 : i);
  if (end < 0) return undefined;
  const body = pattern.slice(start, end);
  if (body.length === 0) throw badPattern(pattern, 'empty character class "[]"');
  const ranges: [string, string][] = [];
  for (let k = 0; k < body.length; k++) {
    if (body[k + 1] === '-' && k + 2 < body.length) {
      const [from, to] = [body[k], body[k + 2]];
      if (from > to) throw badPattern(pattern, `range "${from}-${to}" is reversed`);
      ranges.push([from, to]);
      k += 2;
    } else ranges.push([body[k], body[k]]);
  }
  const inClass = (c: string) => ranges.some(([from, to]) => c >= from && c <= to);
  return { token: { kind: 'char', test: (c) => c !== '/' && inClass(c) !== negated }, end };
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      let j = i;
      while (pattern[j] === '*') j++;
      if (pattern[j] === '/') {
        tokens.push({ kind: 'folders' });
        i = j;
      } else {
        tokens.push({ kind: 'star', crossesFolders: true });
        i = j - 1;
      }
    } else if (c === '*') tokens.push({ kind: 'star', crossesFolders: false });
    else if (c === '?') tokens.push({ kind: 'char', test: (x) => x !== '/' });
    else if (c === '[') {
      const parsed = parseClass(pattern, i);
      if (parsed) {
        tokens.push(parsed.token);
        i = parsed.end;
      } else tokens.push({ kind: 'char', test: (x) => x === '[' });
    } else tokens.push({ kind: 'char', test: (x) => x === c });
  }
  return tokens;
}

/**
 * States are positions 0..n in the token list; a 'folders' token at position
 * j is expanded to "globstar at j, then '/'": the state j+½ (after the
 * globstar, before its slash) is kept in a second array.
 */
export function compileGlob(pattern: string): (path: string) => boolean {
  const tokens = tokenize(pattern);
  const n = tokens.length;
  return (path) => {
    let at = new Uint8Array(n + 1);
    let half = new Uint8Array(n + 1); // inside a 'folders' token, before its final '/'
    at[0] = 1;
    const close = () => {
      // Epsilon moves only go forward: one ascending pass closes the set.
      for (let j = 0; j < n; j++) {
        const token = tokens[j];
        if (!at[j] || token.kind === 'char') continue;
        if (token.kind === 'star') at[j + 1] = 1;
        else {
          at[j + 1] = 1; // no folders at all
          half[j] = 1;
        }
      }
    };
    close();
    for (const c of path) {
      const nextAt = new Uint8Array(n + 1);
      const nextHalf = new Uint8Array(n + 1);
      for (let j = 0; j < n; j++) {
        const token = tokens[j];
        if (at[j]) {
          if (token.kind === 'char' && token.test(c)) nextAt[j + 1] = 1;
          if (token.kind === 'star' && (token.crossesFolders || c !== '/')) nextAt[j] = 1;
        }
        if (half[j]) {
          nextHalf[j] = 1; // the globstar takes any character
          if (c === '/') nextAt[j + 1] = 1; // or this is the slash that ends the folders
        }
      }
      at = nextAt;
      half = nextHalf;
      close();
    }
    return at[n] === 1;
  };
}

function walk(folder: string, out: string[]): void {
  for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else out.push(path);
  }
}

/** Paths matching a glob, sorted; searched below the pattern's longest folder without wildcards. */
export function expandGlob(pattern: string): string[] {
  const normalised = pattern.split(sep).join('/');
  const matches = compileGlob(normalised.replace(/^\.\//, '')); // bad patterns are refused before any folder is read
  const segments = normalised.split('/');
  const fixed = segments.findIndex(hasWildcard);
  const root = fixed <= 0 ? (normalised.startsWith('/') ? '/' : '.') : segments.slice(0, fixed).join('/') || '/';
  const files: string[] = [];
  try {
    walk(root, files);
  } catch {
    return [];
  }
  return files
    .map((f) => f.split(sep).join('/'))
    .filter((f) => matches(root === '.' ? f.replace(/^\.\//, '') : f))
    .sort();
}
