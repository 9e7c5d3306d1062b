import { loadConfigFile } from '../config/load.js';
import type { Env } from '../config/interpolate.js';
import { parseCommandLine, renderHelp, renderUsage, type CommandSpec } from './command-spec.js';

/** Just what is written to; process.stdout and process.stderr qualify, and so does a test's buffer. */
export interface TextSink {
  write(text: string): unknown;
}

export const VALIDATE_SPEC = {
  name: 'validate',
  summary:
    'checks a config file as the gateway would load it: exit 0 valid, 1 invalid (every problem printed), 2 usage',
  flags: [
    {
      name: 'config',
      short: 'c',
      value: 'FILE',
      required: true,
      description: 'the gateway config file; ${VAR}s are read from this environment',
    },
  ],
} as const satisfies CommandSpec;

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
    const { values } = parseCommandLine(VALIDATE_SPEC, argv);
    if (values.help) {
      out.write(renderHelp(VALIDATE_SPEC));
      return 0;
    }
    config = values.config;
  } catch (error) {
    err.write(`${error instanceof Error ? error.message : String(error)}\n${renderUsage(VALIDATE_SPEC)}`);
    return 2;
  }
  if (!config) {
    err.write(`--config is required\n${renderUsage(VALIDATE_SPEC)}`);
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
