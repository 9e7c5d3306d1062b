import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FRAUD_FEATURES } from '../../scripts/fraud/synthetic.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { AUTH, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { PROJECT_ROOT, waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

// Drift is measured outside any rollout: a gateway with the fraud model's reference file (written
// by npm run models:train) and a one-second window, no rollout configured. Traffic drawn like the
// training data keeps every PSI low; moving one feature toward its maximum raises that feature's.

const REFERENCE = join(PROJECT_ROOT, 'config', 'models', 'fraud', 'drift-reference.json');
const ROWS_PER_REQUEST = 32;
const MIN_SAMPLES = 300;
const LOW = 0.1;
const HIGH = 0.2;

/** Every switchyard_drift_psi{variant="v1",against="reference"} sample of a scrape, by feature. */
function psiOfV1(exposition: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of exposition.split('\n')) {
    if (!line.startsWith('switchyard_drift_psi{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (labels.variant === 'v1' && labels.against === 'reference')
      values.set(labels.feature!, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return values;
}

test(
  'drift outside a rollout: low for training-like traffic, above 0.2 for the feature that moved',
  { timeout: 120_000 },
  async (t) => {
    // Stopped in one hook, in this order: the traffic first, so no request meets a stopped server.
    const started: { stop(): Promise<unknown> }[] = [];
    t.after(async () => {
      for (const process of started.reverse()) await process.stop();
    });
    const runtime = await startRuntime();
    started.push(runtime);
    const gateway = await startGateway(
      fraudGatewayConfig([runtime.url], {
        weights: [100, 0],
        model: { drift: { window_s: 1, min_samples: MIN_SAMPLES, reference: REFERENCE } },
      }),
    );
    started.push(gateway);
    const client = createClient(4);
    started.push({ stop: () => client.close() });
    await upstreamHealthy(client, gateway.url);

    // Paced traffic, one batch of rows every 25 ms (about 1000 rows a second, well over
    // min_samples a window), until stopped; bounded in requests whatever happens.
    const rows = fraudRows(20_000, 11);
    const amount = FRAUD_FEATURES.findIndex((f) => f.name === 'transaction_amount');
    let shifted = false;
    let stop = false;
    const refused: string[] = [];
    const traffic = (async () => {
      for (let i = 0; !stop && i < 4000; i++) {
        const batch = Array.from({ length: ROWS_PER_REQUEST }, (_, r) => {
          const row = [...rows[(i * ROWS_PER_REQUEST + r) % rows.length]!];
          // Toward its maximum (20000); the training data's median is about 45.
          if (shifted) row[amount] = 15_000 + ((i * ROWS_PER_REQUEST + r) % 5000);
          return row;
        });
        const answer = await postJson(client, `${gateway.url}/v2/models/fraud/infer`, fraudRequest(batch), {
          ...AUTH,
          'x-user-id': `u-${i}`,
        });
        if (answer.status !== 200) refused.push(`${answer.status} ${answer.text}`);
        await sleep(25);
      }
    })();
    started.push({
      stop: async () => {
        stop = true;
        await traffic;
      },
    });
    const scrape = async () => (await getJson(client, `${gateway.url}/metrics`)).text;
    const features = FRAUD_FEATURES.map((f) => f.name);

    const calm = await waitFor(
      'a PSI for the score and every feature of v1',
      async () => {
        const psi = psiOfV1(await scrape());
        return ['score', ...features].every((name) => psi.has(name)) && psi;
      },
      20_000,
      100,
    );
    t.diagnostic(`training-like traffic: ${JSON.stringify(Object.fromEntries(calm))}`);
    for (const [name, value] of calm)
      assert.ok(value < LOW, `${name}: PSI ${value} for training-like traffic`);
    const text = await scrape();
    assert.doesNotMatch(text, /switchyard_drift_psi\{[^}]*variant="v2"/, 'v2 served nothing: no PSI');
    assert.doesNotMatch(text, /switchyard_drift_psi\{[^}]*against="baseline"/, 'no rollout: no rollout PSI');
    assert.match(text, /switchyard_drift_window_rows\{model="fraud",variant="v2"\} 0/);

    shifted = true;
    const moved = await waitFor(
      'transaction_amount drifting',
      async () => {
        const psi = psiOfV1(await scrape());
        return (psi.get('transaction_amount') ?? 0) > HIGH && psi;
      },
      20_000,
      100,
    );
    t.diagnostic(`transaction_amount moved: ${JSON.stringify(Object.fromEntries(moved))}`);
    for (const name of features.filter((f) => f !== 'transaction_amount'))
      assert.ok(moved.get(name)! < LOW, `${name} did not move, yet PSI ${moved.get(name)}`);
  },
);
