#!/usr/bin/env node
import { UsageError } from './args.js';
import { asksForHelp, findCommand, renderHelp, renderUsage, synopsis } from './command-spec.js';
import { COMMANDS } from './commands.js';
import { runDev } from './dev.js';
import { runGateway } from './gateway.js';
import { runKeys } from './keys.js';
import { runLog } from './log.js';
import { runModel } from './model.js';
import { runRollout } from './rollout.js';
import { runRuntime } from './runtime.js';
import { runValidate } from './validate.js';

const USAGE = [
  'usage:',
  ...COMMANDS.flatMap(synopsis).map((line) => `  ${line}`),
  '',
  "switchyard help COMMAND [SUBCOMMAND], or COMMAND [SUBCOMMAND] --help: what it does and every flag's meaning",
  '',
].join('\n');

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    if (command !== 'help' || rest.length === 0) {
      process.stdout.write(USAGE);
      return;
    }
    const spec = findCommand(COMMANDS, rest);
    if (!spec) throw new UsageError(`unknown command "${rest[0]}"`);
    process.stdout.write(renderHelp(spec));
    return;
  }
  const spec = findCommand(COMMANDS, argv);
  if (!spec) throw new UsageError(`unknown command "${command}"`);
  if (asksForHelp(rest)) {
    process.stdout.write(renderHelp(spec));
    return;
  }
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
  }
}

const argv = process.argv.slice(2);
main(argv).catch((error: unknown) => {
  if (error instanceof UsageError) {
    // The usage of the (sub)command the mistake was made in, else of every command.
    const spec = error.command ?? findCommand(COMMANDS, argv);
    process.stderr.write(`switchyard: ${error.message}\n${spec ? renderUsage(spec) : USAGE}`);
    process.exit(2);
  }
  if (error instanceof Error && error.name === 'ConfigInvalidError') {
    process.stderr.write(`switchyard: ${error.message}\n`); // the problems, not a stack
    process.exit(1);
  }
  process.stderr.write(
    `switchyard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
