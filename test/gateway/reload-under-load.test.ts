import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { describeLoad, sentBetween, summarize, type LoadRun } from '../harness/closed-loop.js';
import {
  AUTH,
  fraudGatewayConfig,
  startDecisionLoad,
  startGateway,
  writeConfig,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, metricValue } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

const SPLITS: readonly [number, number][] = [
  [90, 10],
  [50, 50],
  [20, 80],
  [100, 0],
  [0, 100],
];
const EDITS = 100;
const EDIT_SPACING_MS = 100;
/** The promise under test: requests sent this long after an edit follow it. */
const FOLLOW_MS = 1000;
/** How long each "all requests follow the new weights" window lasts. */
const WINDOW_MS = 1000;

function configText(runtimes: string[], weights: [number, number]): string {
  return stringify(fraudGatewayConfig(runtimes, { weights }));
}

function hashOf(text: string): string {
  const result = parseConfigText(text, {}, 'expected.yaml');
  assert.ok(result.ok, 'the test writes a valid config');
  return result.snapshot.hash;
}

test(
  '100 weight edits under load: no failed request, final hash served, split follows within 1 s, invalid edit ignored',
  {
    timeout: 90_000,
  },
  async () => {
    const processes: StartedProcess[] = [];
    const client = createClient(4);
    let load: LoadRun | undefined;
    let gateway: GatewayUnderTest | undefined;
    let exitCodes: (number | string)[] = [];
    try {
      const runtimes = await Promise.all([startRuntime(), startRuntime()]);
      processes.push(...runtimes);
      const urls = runtimes.map((r) => r.url);
      gateway = await startGateway(configText(urls, [90, 10]), { args: ['--poll-ms', '200'] });
      processes.push(gateway);
      const gatewayUrl = gateway.url;
      const configPath = gateway.configPath;

      const metrics = async (): Promise<string> => (await getJson(client, `${gatewayUrl}/metrics`)).text;
      const reloads = async (outcome: string): Promise<number> =>
        metricValue(await metrics(), 'switchyard_config_reload_total', { outcome });
      const servedConfig = async () => {
        const response = await getJson(client, `${gatewayUrl}/admin/config`, AUTH);
        assert.equal(response.status, 200, response.text);
        return response.body as {
          hash: string;
          config: { models: { fraud: { variants: { name: string; weight: number }[] } } };
        };
      };
      const okBefore = await reloads('ok');

      load = startDecisionLoad(gatewayUrl, {
        workers: 12,
        ratePerSecond: 400,
        maxRequests: 10_000,
        maxMs: 25_000,
      });
      await sleep(500); // connections open, traffic flowing before the first edit

      // 100 edits, each changing the split, one every 100 ms.
      let lastText = '';
      const editsStarted = performance.now();
      for (let i = 0; i < EDITS; i++) {
        const wait = editsStarted + i * EDIT_SPACING_MS - performance.now();
        if (wait > 0) await sleep(wait);
        lastText = configText(urls, [...SPLITS[i % SPLITS.length]!]);
        await writeConfig(configPath, lastText);
      }
      const editsEnded = performance.now();
      const lastHash = hashOf(lastText);
      await waitFor('the last edit served', async () => (await servedConfig()).hash === lastHash, 3000);
      const afterEdits = await servedConfig();
      assert.deepEqual(
        afterEdits.config.models.fraud.variants.map((v) => v.weight),
        [...SPLITS[(EDITS - 1) % SPLITS.length]!],
      );
      const okReloads = (await reloads('ok')) - okBefore;

      // A final edit to 100/0: every request sent a second later gets v1 ...
      const allV1 = configText(urls, [100, 0]);
      await writeConfig(configPath, allV1);
      const toV1At = performance.now();
      await sleep(FOLLOW_MS + WINDOW_MS);
      assert.equal((await servedConfig()).hash, hashOf(allV1));

      // ... then to 0/100: every request sent a second later gets v2.
      const allV2 = configText(urls, [0, 100]);
      await writeConfig(configPath, allV2);
      const toV2At = performance.now();
      await sleep(FOLLOW_MS + WINDOW_MS);
      const v2Hash = hashOf(allV2);
      assert.equal((await servedConfig()).hash, v2Hash);

      // An invalid edit (weights sum to 90) changes nothing, and says why.
      const invalidBefore = await reloads('invalid');
      const invalidAt = performance.now();
      await writeConfig(configPath, configText(urls, [80, 10]));
      await waitFor('the invalid edit counted', async () => (await reloads('invalid')) > invalidBefore, 3000);
      await sleep(500); // traffic keeps flowing on the old config
      assert.equal((await servedConfig()).hash, v2Hash, 'an invalid edit must not change the config');
      assert.equal(await reloads('invalid'), invalidBefore + 1);
      const refused = gateway.logs.filter(
        (line) =>
          line.level === 50 && line.msg === 'config reload refused' && line.path === '/models/fraud/variants',
      );
      assert.ok(
        refused.length > 0,
        `no error line with the problem's path; reload lines: ${JSON.stringify(
          gateway.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('reload')),
        )}`,
      );
      assert.match(String(refused[0]!.problem), /sum to 90/);

      const report = await load.stop();
      const endedAt = performance.now();
      const summary = describeLoad(report);
      console.log(`# reload-under-load: ${summary}; ok reloads for ${EDITS} edits: ${okReloads}`);
      console.log(`# edits took ${Math.round(editsEnded - editsStarted)} ms`);

      assert.equal(report.failures.length, 0, `every request must succeed: ${summary}`);
      assert.equal(report.fallbacks.length, 0, `the model answered every request, no fallback: ${summary}`);
      assert.ok(report.total >= 1000, `too little load to judge: ${summary}`);
      // Every edit that a check saw is one reload; edits closer together than a check coalesce.
      assert.ok(okReloads >= EDITS / 2 && okReloads <= EDITS, `${okReloads} ok reloads for ${EDITS} edits`);

      const windows = [
        { name: '100/0', variant: 'v1', from: toV1At + FOLLOW_MS, to: toV1At + FOLLOW_MS + WINDOW_MS },
        { name: '0/100', variant: 'v2', from: toV2At + FOLLOW_MS, to: toV2At + FOLLOW_MS + WINDOW_MS },
        { name: 'after the invalid edit', variant: 'v2', from: invalidAt, to: endedAt },
      ];
      for (const window of windows) {
        const sent = summarize(sentBetween(report.samples, window.from, window.to), window.to - window.from);
        assert.ok(sent.total > 0, `no request sent in the ${window.name} window`);
        assert.deepEqual(
          sent.variants,
          { [window.variant]: sent.total },
          `${window.name}: all requests sent ${FOLLOW_MS} ms after the edit go to ${window.variant}: ${describeLoad(sent)}`,
        );
      }
    } finally {
      await load?.stop();
      await client.close();
      exitCodes = await Promise.all(processes.reverse().map((p) => p.stop()));
    }
    assert.deepEqual(exitCodes, [0, 0, 0], 'every process exits 0 on SIGTERM');
  },
);
