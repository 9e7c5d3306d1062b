import { randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { FRAUD_FEATURES } from '../../scripts/fraud/synthetic.js';
import type { Agent } from 'undici';
import { startLoad, type LoadRun, type LoopOptions } from './closed-loop.js';
import { fraudRows } from './fraud.js';
import { getJson } from './http.js';
import { startSwitchyard, waitFor, type StartedProcess } from './process.js';

/** The demo key of config/gateway.dev.yaml, and its sha256 for configs that tests write. */
export const DEMO_KEY = 'sk-switchyard-demo';
export const DEMO_KEY_SHA256 = '37cbfc183c342e976476530bb738059047143238dbbee2003f91b27a3d546483';
export const AUTH = { authorization: `Bearer ${DEMO_KEY}` };

export interface GatewayUnderTest extends StartedProcess {
  /** The config file the gateway watches; rewrite it with `writeConfig`. */
  configPath: string;
  dir: string;
}

/** Writes `config` (an object, rendered as YAML, or YAML text) to the gateway's config file. */
export async function writeConfig(path: string, config: object | string): Promise<void> {
  const text = typeof config === 'string' ? config : stringify(config);
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, text);
  const { rename } = await import('node:fs/promises');
  await rename(temp, path); // atomic, like an editor's save
}

/** Starts a gateway on port 0 with `config` in a temp dir; `stop()` also removes the dir. */
export async function startGateway(
  config: object | string,
  options: { args?: string[]; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {},
): Promise<GatewayUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-gateway-'));
  const configPath = join(dir, 'gateway.yaml');
  await writeConfig(configPath, withPredictionLogIn(dir, config));
  let gateway: StartedProcess;
  try {
    gateway = await startSwitchyard(
      ['gateway', '--config', configPath, '--host', '127.0.0.1', '--port', '0', ...(options.args ?? [])],
      { env: options.env, ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}) },
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  await waitFor('gateway ready', async () => (await fetch(`${gateway.url}/readyz`)).status === 200);
  const stop = gateway.stop.bind(gateway);
  return {
    ...gateway,
    configPath,
    dir,
    async stop(signal, timeoutMs) {
      const code = await stop(signal, timeoutMs);
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * Keeps the prediction log inside the OS temp dir: a path already there (a test that reads the
 * log back) is kept, any other — the default `switchyard-predictions.jsonl` in the working
 * directory, the cluster config's `/var/lib/switchyard/…` — becomes one in the gateway's temp dir.
 */
function withPredictionLogIn(dir: string, config: object | string): object | string {
  const path = join(dir, 'predictions.jsonl');
  const inTemp = (given: unknown) =>
    typeof given === 'string' && isAbsolute(given) && given.startsWith(tmpdir());
  if (typeof config !== 'string') {
    const log = (config as { prediction_log?: { path?: string } }).prediction_log;
    return inTemp(log?.path) ? config : { ...config, prediction_log: { ...log, path } };
  }
  const doc = parseDocument(config);
  if (!inTemp(doc.getIn(['prediction_log', 'path']))) doc.setIn(['prediction_log', 'path'], path);
  return doc.toString();
}

/**
 * Health checks a busy shared machine does not fail (2 s to answer, 5 misses in a row), for
 * tests about something else: a missed check takes the only endpoint out of rotation.
 */
export const PATIENT_HEALTH = { interval_ms: 200, timeout_ms: 2000, unhealthy_after: 5, healthy_after: 2 };

/** A gateway config for the demo fraud model on the given runtime URLs (weights in percent). */
export function fraudGatewayConfig(
  runtimes: string[],
  options: { weights?: [number, number]; tenants?: object[]; model?: object; upstream?: object } = {},
) {
  const [v1, v2] = options.weights ?? [90, 10];
  return {
    listen: { host: '127.0.0.1', port: 0 },
    tenants: options.tenants ?? [
      { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer', 'admin', 'debug'] },
    ],
    upstreams: {
      onnx: {
        endpoints: runtimes,
        health: { interval_ms: 200, timeout_ms: 500, unhealthy_after: 2, healthy_after: 2 },
        outlier: { consecutive_errors: 3, eject_ms: 2000 },
        ...options.upstream,
      },
    },
    models: {
      fraud: {
        budget_ms: 1000,
        routing: { key: ['body:user_id', 'header:x-user-id'], salt: 'fraud-test' },
        variants: [
          { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: v1 },
          { name: 'v2', upstream: 'onnx', model: 'fraud', version: '2', weight: v2 },
        ],
        contract: {
          input: 'features',
          output: 'score',
          // The model's column order and ranges, from the script that trained it.
          features: FRAUD_FEATURES.map(({ name, min, max }) => ({ name, min, max })),
          decisions: {
            below: 'approve',
            thresholds: [
              { at: 0.5, decision: 'review' },
              { at: 0.85, decision: 'decline' },
            ],
          },
        },
        ...options.model,
      },
    },
  };
}

export const FEATURE_NAMES = FRAUD_FEATURES.map((feature) => feature.name);

/** A decision request body for a fraud feature row. */
export function decisionBody(row: number[], userId?: string) {
  return {
    ...(userId === undefined ? {} : { user_id: userId }),
    features: Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, row[i]])),
  };
}

/** /readyz turns 200 before the first health round passed; wait until the pool has an endpoint in rotation. */
export async function upstreamHealthy(client: Agent, gatewayUrl: string): Promise<void> {
  await waitFor('a healthy runtime endpoint', async () => {
    const response = await getJson(client, `${gatewayUrl}/admin/upstreams`, AUTH);
    const pools = response.body as Record<string, { health: string; ejected: boolean }[]> | undefined;
    return Object.values(pools ?? {}).every((pool) => pool.some((e) => e.health === 'healthy' && !e.ejected));
  });
}

/**
 * A closed-loop load of fraud decisions on the gateway, paced and bounded as `loop` says: rows
 * cycled from 64 of the demo's, each request a new random user, so the split follows the weights.
 */
export function startDecisionLoad(gatewayUrl: string, loop: LoopOptions): LoadRun {
  const rows = fraudRows(64);
  return startLoad({
    ...loop,
    url: `${gatewayUrl}/v1/decisions/fraud`,
    request: (i) => ({
      body: decisionBody(rows[i % rows.length]!, `u-${randomInt(1_000_000_000)}`),
      headers: AUTH,
    }),
  });
}
