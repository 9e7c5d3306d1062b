#!/usr/bin/env node
import { ConfigInvalidError } from '../gateway/start.js';
import { DEV_USAGE, runDev } from './dev.js';
import { GATEWAY_USAGE, runGateway } from './gateway.js';
import { KEYS_USAGE, runKeys } from './keys.js';
import { LOG_USAGE, runLog } from './log.js';
import { MODEL_USAGE, runModel } from './model.js';
import { ROLLOUT_USAGE, runRollout } from './rollout.js';
import { UsageError } from './args.js';
import { RUNTIME_USAGE, runRuntime } from './runtime.js';
import { runValidate } from './validate.js';

const USAGE = `usage:
  ${GATEWAY_USAGE}
  ${RUNTIME_USAGE}
  ${DEV_USAGE}
  switchyard validate --config FILE
  ${ROLLOUT_USAGE}
  ${KEYS_USAGE}
  ${LOG_USAGE}
  ${MODEL_USAGE}`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'runtime':
      await runRuntime(rest);
      return;
    case 'gateway':
      await runGateway(rest);
      return;
    case 'dev':
      await runDev(rest);
      return;
    case 'keys':
      runKeys(rest, process.stdout);
      return;
    case 'validate':
      process.exitCode = await runValidate(rest, process.stdout, process.stderr);
      return;
    case 'rollout':
      process.exitCode = await runRollout(rest, process.stdout, process.stderr);
      return;
    case 'model':
      process.exitCode = await runModel(rest, process.stdout, process.stderr);
      return;
    case 'log': {
      // `log tail --follow` runs until Ctrl-C (or SIGTERM), then exits 0.
      const stop = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
      process.exitCode = await runLog(rest, process.stdout, process.stderr, { signal: stop.signal });
      return;
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`switchyard: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof ConfigInvalidError) {
    process.stderr.write(`switchyard: ${error.message}\n`); // the problems, not a stack
    process.exit(1);
  }
  process.stderr.write(
    `switchyard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
