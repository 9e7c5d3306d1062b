import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { bucketOf, cumulativeBounds, variantForBucket } from '../../src/stages/route/assign.js';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { CLI, PROJECT_ROOT, waitFor, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

const run = promisify(execFile);
const USERS = Array.from({ length: 300 }, (_, i) => `user-${i}`);
const SALT = 'fraud-test'; // fraudGatewayConfig's routing salt

/** `switchyard rollout ...` as an operator runs it: a separate process, editing the gateway's file. */
async function rollout(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, 'rollout', ...args], {
      cwd: PROJECT_ROOT,
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** The variant the routing rule gives each user for these weights of [v1, v2]. */
function expectedVariants(weights: [number, number]): Map<string, string> {
  const bounds = cumulativeBounds(weights);
  return new Map(USERS.map((user) => [user, `v${variantForBucket(bounds, bucketOf(SALT, user)) + 1}`]));
}

test(
  'a running gateway follows set, promote and rollback made by `switchyard rollout`, and users follow the weights',
  { timeout: 120_000 },
  async () => {
    const processes: StartedProcess[] = [];
    const client = createClient(16);
    try {
      const runtime = await startRuntime();
      processes.push(runtime);
      const text = `# written by the rollout end-to-end test; this comment must survive every edit\n${stringify(
        fraudGatewayConfig([runtime.url], { weights: [90, 10] }),
      )}`;
      const gateway = await startGateway(text);
      processes.push(gateway);
      const row = fraudRows(1)[0]!;

      const servedHash = async () =>
        ((await getJson(client, `${gateway.url}/admin/config`, AUTH)).body as { file_hash: string })
          .file_hash;
      const decide = async (): Promise<Map<string, string>> => {
        const variants = new Map<string, string>();
        for (let i = 0; i < USERS.length; i += 50) {
          const answers = await Promise.all(
            USERS.slice(i, i + 50).map((user) =>
              postJson(client, `${gateway.url}/v1/decisions/fraud`, decisionBody(row, user), AUTH),
            ),
          );
          answers.forEach((answer, j) => {
            assert.equal(answer.status, 200, answer.text);
            const body = answer.body as { variant: string; fallback: unknown; model_version: string };
            assert.equal(body.fallback, null, answer.text);
            assert.equal(answer.headers['x-switchyard-variant'], body.variant);
            assert.equal(body.model_version, body.variant.slice(1), 'v1 serves version 1, v2 version 2');
            variants.set(USERS[i + j]!, body.variant);
          });
        }
        return variants;
      };
      /** Runs the command, waits until the gateway serves the file hash it printed, and returns the decisions. */
      const step = async (args: string[]): Promise<Map<string, string>> => {
        const result = await rollout([...args, '--config', gateway.configPath]);
        assert.equal(result.code, 0, result.stderr);
        const hash = /report file_hash ([0-9a-f]{16})/.exec(result.stdout)?.[1];
        assert.ok(hash, result.stdout);
        await waitFor(`gateway serving ${hash}`, async () => (await servedHash()) === hash, 10_000, 50);
        return decide();
      };

      await waitFor(
        'the runtime healthy in the gateway',
        async () =>
          /"health":"healthy"/.test((await getJson(client, `${gateway.url}/admin/upstreams`, AUTH)).text),
        20_000,
        100,
      );
      const initial = await decide();
      assert.deepEqual(initial, expectedVariants([90, 10]));
      assert.ok([...initial.values()].includes('v2') && [...initial.values()].includes('v1'));

      // Canary up: only users move into v2, none out of it.
      const raised = await step(['fraud', 'set', 'v2=25']);
      assert.deepEqual(raised, expectedVariants([75, 25]));
      for (const [user, variant] of initial) if (variant === 'v2') assert.equal(raised.get(user), 'v2');

      // Promote: every decision on v2.
      const promoted = await step(['fraud', 'promote', 'v2']);
      assert.deepEqual([...new Set(promoted.values())], ['v2']);

      // Rollback: the weights before the promote, so every user is back where they were.
      const rolledBack = await step(['fraud', 'rollback']);
      assert.deepEqual(rolledBack, raised);

      // Nothing recorded any more: refused, and the gateway keeps serving what it had.
      const before = await servedHash();
      const refused = await rollout(['fraud', 'rollback', '--config', gateway.configPath]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /nothing to roll back to/);
      assert.equal(await servedHash(), before);

      const file = await readFile(gateway.configPath, 'utf8');
      assert.ok(file.startsWith('# written by the rollout end-to-end test'), 'the comment survived');
      assert.doesNotMatch(file, /rollback_weights/);
    } finally {
      await client.close();
      for (const started of processes.reverse()) await started.stop();
    }
  },
);
