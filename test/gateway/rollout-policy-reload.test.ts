import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { fraudGatewayConfig, startGateway, writeConfig } from '../harness/gateway.js';
import { metricValue } from '../harness/http.js';
import { CLI, PROJECT_ROOT, waitFor } from '../harness/process.js';

// Nothing here needs a runtime: the policy is checked when the file is loaded, so the upstream
// is a port where nothing listens (the gateway starts and answers /readyz all the same).
const NO_RUNTIME = ['http://127.0.0.1:9'];
const STEPS_PATH = '/models/fraud/rollout/steps/2';

/** The demo fraud model with a third variant at weight 0 and a policy that rolls it out. */
function configWith(steps: (string | number)[], predictionLog: string) {
  const base = fraudGatewayConfig(NO_RUNTIME);
  const fraud = base.models.fraud;
  return {
    ...base,
    prediction_log: { path: predictionLog },
    models: {
      fraud: {
        ...fraud,
        variants: [
          ...fraud.variants,
          { name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', weight: 0 },
        ],
        rollout: {
          candidate: 'v3',
          baseline: 'v1',
          steps,
          pause_before: [50],
          criteria: { error_rate: { max_increase: 0.005 }, agreement: { min: 0.97 } },
        },
      },
    },
  };
}

const VALID_STEPS = ['shadow', 5, 25, 50, 100];
// 25 after 50: the steps go backwards, which only the cross-field rules can tell.
const INVALID_STEPS = ['shadow', 50, 25, 100];

function switchyard(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...CLI, ...args],
      { cwd: PROJECT_ROOT, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : (error.signal ?? -1)) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

test(
  'an invalid rollout policy is refused on reload, by validate, and at start',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchyard-rollout-policy-'));
    const predictionLog = join(dir, 'predictions.jsonl');
    const valid = configWith(VALID_STEPS, predictionLog);
    const loaded = parseConfigText(stringify(valid), {}, 'expected.yaml');
    assert.ok(loaded.ok, `the test's valid config: ${JSON.stringify(!loaded.ok && loaded.problems)}`);

    const gateway = await startGateway(valid, { args: ['--poll-ms', '200'] });
    let exitCode: number | string | undefined;
    try {
      const servedHash = async (): Promise<string> => {
        const response = await fetch(`${gateway.url}/readyz`);
        assert.equal(response.status, 200);
        return ((await response.json()) as { config: string }).config;
      };
      const invalidReloads = async (): Promise<number> =>
        metricValue(await (await fetch(`${gateway.url}/metrics`)).text(), 'switchyard_config_reload_total', {
          outcome: 'invalid',
        });
      assert.equal(await servedHash(), loaded.snapshot.hash);
      const before = await invalidReloads();

      await writeConfig(gateway.configPath, configWith(INVALID_STEPS, predictionLog));
      await waitFor('the invalid edit counted', async () => (await invalidReloads()) > before, 5000);
      assert.equal(await invalidReloads(), before + 1);
      assert.equal(await servedHash(), loaded.snapshot.hash, 'the old config keeps serving');
      const refused = gateway.logs.filter((line) => line.msg === 'config reload refused');
      assert.deepEqual(
        refused.map((line) => [line.level, line.path]),
        [[50, STEPS_PATH]],
        JSON.stringify(refused),
      );
      assert.match(String(refused[0]!.problem), /25 is not above the previous 50/);

      // The file now holds the invalid policy: the check before an edit says the same.
      const validate = await switchyard(['validate', '--config', gateway.configPath]);
      assert.equal(validate.code, 1, validate.stderr);
      assert.equal(validate.stdout, '');
      assert.match(validate.stderr, new RegExp(`^${STEPS_PATH}: steps must ascend`, 'm'));

      // And a gateway started on it refuses to start.
      const start = await switchyard([
        'gateway',
        '--config',
        gateway.configPath,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
      ]);
      assert.equal(start.code, 1, start.stderr);
      assert.match(start.stderr, /is not valid:/);
      assert.match(start.stderr, new RegExp(`^  ${STEPS_PATH}: steps must ascend`, 'm'));
      assert.doesNotMatch(start.stderr, /\n\s+at /, 'the problems, not a stack trace');
    } finally {
      exitCode = await gateway.stop();
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(exitCode, 0, 'the gateway exits 0 on SIGTERM');
  },
);
