#!/usr/bin/env node
import { RUNTIME_USAGE, UsageError, runRuntime } from './runtime.js';

const USAGE = `usage:
  ${RUNTIME_USAGE}
  switchyard dev          a runtime on the demo models (and the gateway in front of it)`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'runtime':
      await runRuntime(rest);
      return;
    case 'dev':
      await runRuntime(['--repository', 'config/models', ...rest]);
      return;
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
  process.stderr.write(
    `switchyard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
