import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { describeLoad, sentBetween, summarize, type LoadRun } from '../harness/closed-loop.js';
import { AUTH, fraudGatewayConfig, startDecisionLoad } from '../harness/gateway.js';
import { createClient, getJson } from '../harness/http.js';
import { startSwitchyard, waitFor, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

/** The promise under test: requests sent this long after the swap follow the new config. */
const FOLLOW_MS = 2000;
const WINDOW_MS = 1000;

/**
 * A directory laid out as the kubelet mounts a ConfigMap: the data in a timestamped directory,
 * `..data` a symlink to it, and each key a symlink through `..data`.
 */
async function mountConfigMap(dir: string, generation: string, text: string): Promise<void> {
  await mkdir(join(dir, generation));
  await writeFile(join(dir, generation, 'gateway.yaml'), text);
  await symlink(generation, join(dir, '..data'));
  await symlink(join('..data', 'gateway.yaml'), join(dir, 'gateway.yaml'));
}

/** The kubelet's update (AtomicWriter): new timestamped dir, `..data_tmp` renamed over `..data`, old dir removed. */
async function swapConfigMap(dir: string, from: string, to: string, text: string): Promise<void> {
  await mkdir(join(dir, to));
  await writeFile(join(dir, to, 'gateway.yaml'), text);
  await symlink(to, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await rm(join(dir, from), { recursive: true });
}

function hashOf(text: string): string {
  const result = parseConfigText(text, {}, 'expected.yaml');
  assert.ok(result.ok, 'the test writes a valid config');
  return result.snapshot.hash;
}

for (const { name, args } of [
  { name: 'default polling', args: [] },
  // Polling once a minute leaves the swap to the file and directory watchers alone.
  { name: 'watchers only', args: ['--poll-ms', '60000'] },
]) {
  test(
    `a ConfigMap symlink swap under load is picked up (${name}): hash changes, traffic follows, no failures`,
    {
      timeout: 60_000,
    },
    async () => {
      const processes: StartedProcess[] = [];
      const client = createClient(4);
      const dir = await mkdtemp(join(tmpdir(), 'switchyard-configmap-'));
      let load: LoadRun | undefined;
      let exitCodes: (number | string)[] = [];
      try {
        const runtime = await startRuntime();
        processes.push(runtime);
        const predictionLog = { path: join(dir, 'predictions.jsonl') }; // not in the project root
        const text = (weights: [number, number]) =>
          stringify({ ...fraudGatewayConfig([runtime.url], { weights }), prediction_log: predictionLog });
        const generations = [
          { dir: '..2026_11_23_a', text: text([100, 0]), variant: 'v1' },
          { dir: '..2026_11_23_b', text: text([0, 100]), variant: 'v2' },
          { dir: '..2026_11_23_c', text: text([100, 0]), variant: 'v1' },
        ];
        await mountConfigMap(dir, generations[0]!.dir, generations[0]!.text);
        const gateway = await startSwitchyard([
          'gateway',
          '--config',
          join(dir, 'gateway.yaml'),
          '--host',
          '127.0.0.1',
          '--port',
          '0',
          ...args,
        ]);
        processes.push(gateway);
        await waitFor('gateway ready', async () => (await fetch(`${gateway.url}/readyz`)).status === 200);
        const servedHash = async (): Promise<string> => {
          const response = await getJson(client, `${gateway.url}/admin/config`, AUTH);
          assert.equal(response.status, 200, response.text);
          return (response.body as { hash: string }).hash;
        };
        assert.equal(await servedHash(), hashOf(generations[0]!.text));

        load = startDecisionLoad(gateway.url, {
          workers: 6,
          ratePerSecond: 200,
          maxRequests: 3000,
          maxMs: 12_000,
        });
        await sleep(500);

        // Two updates in a row: the second one shows the watchers followed the first one's new target.
        const windows: { variant: string; from: number; to: number; seenMs: number }[] = [];
        for (let i = 1; i < generations.length; i++) {
          const next = generations[i]!;
          const swappedAt = performance.now();
          await swapConfigMap(dir, generations[i - 1]!.dir, next.dir, next.text);
          const hash = hashOf(next.text);
          await waitFor(`update ${i} served`, async () => (await servedHash()) === hash, FOLLOW_MS);
          const seenMs = performance.now() - swappedAt;
          const windowEnd = swappedAt + FOLLOW_MS + WINDOW_MS;
          await sleep(windowEnd - performance.now());
          windows.push({ variant: next.variant, from: swappedAt + FOLLOW_MS, to: windowEnd, seenMs });
        }

        const report = await load.stop();
        const summary = describeLoad(report);
        console.log(
          `# configmap-swap (${name}): ${summary}; updates served after ${windows
            .map((w) => `${Math.round(w.seenMs)} ms`)
            .join(', ')}`,
        );
        assert.equal(report.failures.length, 0, `every request must succeed: ${summary}`);
        assert.equal(report.fallbacks.length, 0, `the model answered every request, no fallback: ${summary}`);
        for (const window of windows) {
          const sent = summarize(
            sentBetween(report.samples, window.from, window.to),
            window.to - window.from,
          );
          assert.ok(sent.total > 0, 'no request in the window');
          assert.deepEqual(sent.variants, { [window.variant]: sent.total }, describeLoad(sent));
        }
        const reloaded = gateway.logs.filter((line) => line.msg === 'config reloaded');
        assert.equal(reloaded.length, 2, `two updates, two reloads: ${JSON.stringify(reloaded)}`);
        assert.equal(
          gateway.logs.filter((line) => typeof line.level === 'number' && line.level >= 50).length,
          0,
          'no error logged',
        );
      } finally {
        await load?.stop();
        await client.close();
        exitCodes = await Promise.all(processes.reverse().map((p) => p.stop()));
        await rm(dir, { recursive: true, force: true });
      }
      assert.deepEqual(exitCodes, [0, 0], 'the gateway and the runtime exit 0 on SIGTERM');
    },
  );
}
