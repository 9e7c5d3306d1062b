import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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
const VERSIONS: Record<string, string> = { v1: '1', v2: '2', v3: '3', v4: '3' };

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

/** The variant the routing rule gives each user for these variants, in list order. */
function expected(variants: [string, number][]): Map<string, string> {
  const bounds = cumulativeBounds(variants.map(([, weight]) => weight));
  return new Map(USERS.map((user) => [user, variants[variantForBucket(bounds, bucketOf(SALT, user))]![0]]));
}

/** Users whose variant differs between two assignments, as "from → to" with counts. */
function moved(before: Map<string, string>, after: Map<string, string>): Record<string, number> {
  const moves: Record<string, number> = {};
  for (const [user, variant] of before) {
    const now = after.get(user)!;
    if (now !== variant) moves[`${variant} → ${now}`] = (moves[`${variant} → ${now}`] ?? 0) + 1;
  }
  return moves;
}

test(
  'a canary added, raised and switched off with `switchyard rollout` gives its users back to the variant they came from; a shadow promoted and demoted likewise',
  { timeout: 180_000 },
  async () => {
    const processes: StartedProcess[] = [];
    const client = createClient(16);
    try {
      const runtime = await startRuntime();
      processes.push(runtime);
      const config = fraudGatewayConfig([runtime.url], {
        weights: [90, 10],
        model: { shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 10 }] },
      });
      const gateway = await startGateway(`# the workflow test's file\n${stringify(config)}`);
      processes.push(gateway);
      const row = fraudRows(1)[0]!;

      const served = async () =>
        (await getJson(client, `${gateway.url}/admin/config`, AUTH)).body as {
          file_hash: string;
          config: { models: { fraud: { shadows: { name: string; percent: number }[] } } };
        };
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
            assert.equal(body.model_version, VERSIONS[body.variant], answer.text);
            variants.set(USERS[i + j]!, body.variant);
          });
        }
        return variants;
      };
      /** Runs the command, waits until the gateway serves the file it wrote, returns its output and the decisions. */
      const step = async (args: string[]) => {
        const result = await rollout([...args, '--config', gateway.configPath]);
        assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
        const hash = /report file_hash ([0-9a-f]{16})/.exec(result.stdout)?.[1];
        assert.ok(hash, result.stdout);
        await waitFor(`gateway serving ${hash}`, async () => (await served()).file_hash === hash, 10_000, 50);
        return { out: result.stdout, decisions: await decide() };
      };

      await waitFor(
        'the runtime healthy in the gateway',
        async () =>
          /"health":"healthy"/.test((await getJson(client, `${gateway.url}/admin/upstreams`, AUTH)).text),
        20_000,
        100,
      );
      assert.deepEqual(
        await decide(),
        expected([
          ['v1', 90],
          ['v2', 10],
        ]),
      );

      // v2 off: everyone on v1, v2 stays listed at 0 (a fallback target).
      const allOnV1 = (await step(['fraud', 'set', 'v2=0'])).decisions;
      assert.deepEqual([...new Set(allOnV1.values())], ['v1']);

      // A new variant, listed after v2: nobody moves until it gets weight.
      const added = await step(['fraud', 'variant', 'add', 'v4', '--version', '3']);
      assert.deepEqual(added.decisions, allOnV1);

      // 5% to v4: taken from v1, whose users border v4's (v2, at 0 between them, holds none).
      const canary = await step(['fraud', 'set', 'v4=5']);
      assert.deepEqual(
        canary.decisions,
        expected([
          ['v1', 95],
          ['v2', 0],
          ['v4', 5],
        ]),
      );
      const toCanary = moved(allOnV1, canary.decisions);
      assert.deepEqual(Object.keys(toCanary), ['v1 → v4']);
      assert.match(canary.out, /^users changing variant: 5% v1 → v4$/m);

      // Off again: every v4 user back on v1, none on v2, which never had them.
      const off = await step(['fraud', 'set', 'v4=0']);
      assert.deepEqual(off.decisions, allOnV1);
      assert.deepEqual(moved(canary.decisions, off.decisions), { 'v4 → v1': toCanary['v1 → v4'] });
      assert.match(
        off.out,
        /^v4 gives 5 back to v1, the variant its users came from \(v2 at 0 in between\)$/m,
      );
      // The diff shows v1 taking the weight back; v2's line is not touched.
      assert.match(off.out, /^- +weight: 95\n\+ +weight: 100$/m);
      assert.match(off.out, /^-.*name: v4.*weight: 5 \}$/m);
      assert.doesNotMatch(off.out, /^[-+].*version: "2"|^[-+] +weight: 0$/m);

      assert.deepEqual((await step(['fraud', 'variant', 'remove', 'v4'])).decisions, allOnV1);

      // The shadow becomes a canary with 5% of v1's users, and mirroring to it stops.
      const promoted = await step(['fraud', 'shadow', 'promote', 'v3', '5']);
      assert.deepEqual(
        promoted.decisions,
        expected([
          ['v1', 95],
          ['v3', 5],
          ['v2', 0],
        ]),
      );
      assert.deepEqual(Object.keys(moved(allOnV1, promoted.decisions)), ['v1 → v3']);
      assert.deepEqual((await served()).config.models.fraud.shadows, []);

      // And back: the same users on v1 as before, the shadow mirroring 10% again.
      const demoted = await step(['fraud', 'variant', 'demote', 'v3', '10']);
      assert.deepEqual(demoted.decisions, allOnV1);
      assert.deepEqual(
        (await served()).config.models.fraud.shadows.map((s) => `${s.name} ${s.percent}`),
        ['v3 10'],
      );
    } finally {
      await client.close();
      for (const started of processes.reverse()) await started.stop();
    }
  },
);
