/**
 * Text from files (labels in a model's config, tensor names, file names,
 * messages that quote them) is printed with its control characters made
 * visible, so that a file cannot drive the terminal: no ANSI/CSI or OSC
 * sequences (screen clear, window title, OSC 8 hyperlinks), no C1 controls,
 * no bidirectional overrides that reorder what is shown. Each becomes a
 * `\xHH` or `\u{HHHH}` escape.
 */

/** C0 controls, DEL, C1 controls; the Unicode bidi embeddings, overrides, isolates and marks. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
/** The same, less the line feed: for whole blocks of output whose lines the command itself breaks. */
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

function escapeOne(c: string): string {
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** One value (a label, a path) for printing: every control character escaped, line feeds too. */
export function printable(text: string): string {
  return text.replace(CONTROL, escapeOne);
}

/** Output the command composed: line feeds kept, every other control character escaped. */
export function printableLines(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, escapeOne);
}
