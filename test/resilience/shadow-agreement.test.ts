import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FRAUD_EVALUATION_SEED } from '../../scripts/fraud/synthetic.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { fraudRows } from '../harness/fraud.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { PROJECT_ROOT } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

const ROWS = 4000;

test('shadow v3 at 100%: the measured disagreement with v1 matches the known one within 2 points', async (t) => {
  const report = JSON.parse(
    await readFile(join(PROJECT_ROOT, 'config/models/fraud/training-report.json'), 'utf8'),
  ) as {
    disagreement: Record<string, { decision: { fraction: number } }>;
  };
  // Over the whole 20000-row evaluation set; the test sends its first rows.
  const known = report.disagreement['1-3']!.decision.fraction;

  const runtime = await startRuntime();
  const gateway = await startGateway(
    fraudGatewayConfig([runtime.url], {
      weights: [100, 0],
      model: {
        shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 }],
        shadow_max_concurrency: 256,
      },
    }),
  );
  const client = createClient(32);
  try {
    const rows = fraudRows(ROWS, FRAUD_EVALUATION_SEED);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < rows.length) {
          const i = next++;
          const response = await postJson(
            client,
            `${gateway.url}/v1/decisions/fraud`,
            decisionBody(rows[i]!, `user-${i}`),
            AUTH,
          );
          assert.equal(response.status, 200, response.text);
          assert.equal(response.headers['x-switchyard-variant'], 'v1', 'a shadow never answers the caller');
        }
      }),
    );
    // Shadow answers land after the callers' answers: wait until every copy was compared.
    let pair:
      | { sent: number; compared: number; errors: number; dropped: number; disagreement_rate: number }
      | undefined;
    for (let tries = 0; tries < 100; tries++) {
      const stats = (await getJson(client, `${gateway.url}/admin/stats`, AUTH)).body as {
        models: { fraud: { shadows: NonNullable<typeof pair>[] } };
      };
      pair = stats.models.fraud.shadows[0];
      if (pair && pair.compared + pair.errors + pair.dropped >= ROWS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(pair, 'no shadow stats');
    assert.equal(pair.sent + pair.dropped, ROWS);
    assert.ok(pair.compared >= ROWS * 0.95, `only ${pair.compared} of ${ROWS} compared`);
    const measured = pair.disagreement_rate;
    t.diagnostic(
      `disagreement measured ${(measured * 100).toFixed(2)}% over ${pair.compared}, known ${(known * 100).toFixed(2)}%`,
    );
    assert.ok(
      Math.abs(measured - known) <= 0.02,
      `measured ${(measured * 100).toFixed(2)}%, known ${(known * 100).toFixed(2)}%`,
    );
  } finally {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  }
});
