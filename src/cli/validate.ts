import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import type { Env } from '../config/interpolate.js';

/** Just what is written to; process.stdout and process.stderr qualify, and so does a test's buffer. */
export interface TextSink {
  write(text: string): unknown;
}

const USAGE = 'usage: switchyard validate --config FILE\n';

/**
 * `switchyard validate --config FILE` (argv is what follows `validate`). Exit codes: 0 valid,
 * 1 invalid (every problem printed to `err` as `<path>: <message>`), 2 usage error. Environment
 * variables are resolved as the gateway would, so run it with the gateway's environment.
 */
export async function runValidate(
  argv: string[],
  out: TextSink,
  err: TextSink,
  env: Env = process.env,
): Promise<number> {
  let config: string | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      out.write(USAGE);
      return 0;
    }
    config = values.config;
  } catch (error) {
    err.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (!config) {
    err.write(`--config is required\n${USAGE}`);
    return 2;
  }

  const result = await loadConfigFile(config, env);
  if (result.ok) {
    // hash: the settings with this shell's environment; file_hash: the file as written, what
    // every gateway serving it reports whatever its environment.
    out.write(`ok ${config} hash ${result.snapshot.hash} file_hash ${result.snapshot.fileHash}\n`);
    return 0;
  }
  for (const problem of result.problems) err.write(`${problem.path || '/'}: ${problem.message}\n`);
  const count = result.problems.length;
  err.write(`${config}: ${count} ${count === 1 ? 'problem' : 'problems'}\n`);
  return 1;
}
