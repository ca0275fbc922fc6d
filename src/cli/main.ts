/** Entry point of `crate-explorer` (bin/crate-explorer.mjs loads it through tsx). */
import { runCli } from './cli.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // Under bin/crate-explorer.mjs stderr is a pipe to its filter, which says whether the real stderr is a terminal.
  stderrIsTTY: process.stderr.isTTY === true || process.env.CRATE_EXPLORER_STDERR_TTY === '1',
});
// Dawn keeps handles open; leave explicitly once the output is out.
process.exit(code);
