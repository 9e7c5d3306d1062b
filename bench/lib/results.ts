import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { CPU_RESOLUTION_US } from './cpu.js';
import type { Settings } from './settings.js';
import { PROJECT_ROOT } from './switchyard.js';
import { toolVersion } from './tools.js';

export const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');

function packageVersion(name: string): string {
  try {
    const text = readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

export interface MachineInfo {
  date: string;
  os: string;
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages when the scenario started: high means a noisy machine. */
  loadAverage: number[];
  node: string;
  packages: Record<string, string>;
  tools: Record<string, string>;
  cpuTimeResolutionUs: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    date: new Date().toISOString(),
    os: `${osType()} ${release()}`,
    cpuModel: list[0]?.model ?? 'unknown',
    cpuCount: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
    node: process.version,
    packages: Object.fromEntries(
      ['onnxruntime-node', 'fastify', 'undici', 'ioredis', 'opossum', 'prom-client'].map((name) => [
        name,
        packageVersion(name),
      ]),
    ),
    tools: {
      wrk: toolVersion('wrk', '--version'),
      nginx: toolVersion('nginx', '-v'),
      haproxy: toolVersion('haproxy', '-v'),
      'redis-server': toolVersion('redis-server', '--version'),
    },
    cpuTimeResolutionUs: CPU_RESOLUTION_US,
  };
}

/** Prints the machine line every scenario starts with, and warns when the machine is busy. */
export function announce(scenario: string, settings: Settings, machine: MachineInfo): void {
  process.stdout.write(
    `\n=== ${scenario}: ${settings.repeats} x ${settings.seconds} s per measurement (warm-up ${settings.warmupSeconds} s)\n` +
      `    ${machine.cpuCount} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${machine.node}, load ${machine.loadAverage.join(' ')}\n` +
      `    gateways: log level ${settings.gatewayLogLevel}, prediction log ${settings.predictionLog ? 'on' : 'OFF'}\n`,
  );
  if (settings.repeats < 3)
    process.stdout.write(
      `    WARNING: ${settings.repeats} repeat(s): issue 9 asks for medians of at least 3; a check that it runs, not results\n`,
    );
  if ((machine.loadAverage[0] ?? 0) > 0.5)
    process.stdout.write(
      `    WARNING: the machine was busy (1-min load ${machine.loadAverage[0]}): these figures are not final\n`,
    );
}

/** Writes bench/results/<scenario>-<timestamp>[-label].json and returns its path. */
export function writeResults(
  scenario: string,
  settings: Settings,
  machine: MachineInfo,
  results: unknown,
): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = machine.date.replace(/[:.]/g, '-');
  const file = join(RESULTS_DIR, `${scenario}-${stamp}${settings.label ? `-${settings.label}` : ''}.json`);
  const finishedLoad = loadavg().map((v) => Math.round(v * 100) / 100);
  writeFileSync(
    file,
    `${JSON.stringify({ scenario, settings, machine: { ...machine, loadAverageAtEnd: finishedLoad }, results }, null, 2)}\n`,
  );
  process.stdout.write(`\n  results written to ${file}\n`);
  return file;
}
