import { stopAll, wasInterrupted } from './children.js';
import { announce, machineInfo, writeResults, type MachineInfo } from './results.js';
import { readSettings, type Settings } from './settings.js';

export interface ScenarioContext {
  settings: Settings;
  machine: MachineInfo;
}

/** One benchmark: prints its tables and returns what goes into its results file. */
export interface Scenario {
  name: string;
  run(context: ScenarioContext): Promise<unknown>;
}

/**
 * Runs scenarios one after the other. Each one's processes are stopped when it ends, whatever
 * happened; a failed scenario is reported and the next one still runs. Exit code 1 if any failed.
 */
export async function runScenarios(scenarios: Scenario[]): Promise<void> {
  let settings: Settings;
  try {
    settings = readSettings();
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
    return;
  }
  const failed: string[] = [];
  for (const scenario of scenarios) {
    const machine = machineInfo();
    announce(scenario.name, settings, machine);
    try {
      const results = await scenario.run({ settings, machine });
      writeResults(scenario.name, settings, machine, results);
    } catch (error) {
      if (wasInterrupted()) return;
      failed.push(scenario.name);
      process.stderr.write(
        `\nbench: ${scenario.name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    } finally {
      await stopAll();
    }
  }
  if (failed.length > 0) {
    process.stderr.write(`\nbench: failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}
