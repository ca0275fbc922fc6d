/** Entry point of `crate-explorer` (bin/crate-explorer.mjs loads it through tsx). */
import { runCli } from './cli.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTTY: process.stderr.isTTY === true,
});
// Dawn keeps handles open; leave explicitly once the output is out.
process.exit(code);
