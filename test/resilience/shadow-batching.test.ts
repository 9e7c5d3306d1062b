import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Agent } from 'undici';
import { FRAUD_EVALUATION_SEED } from '../../scripts/fraud/synthetic.js';
import { fraudRows, fraudScores } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { editModelConfig } from '../harness/repository.js';
import { gatewayMetrics, type DecisionAnswer } from '../harness/resilience.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';
import { readJsonl, type LoggedRecord } from '../telemetry/prediction-log-harness.js';

/** Callers at once: enough that several copies are queued in one turn of the gateway's loop. */
const CONCURRENCY = 32;

/** v1 answers every user; shadow v3 on the same runtime gets a copy of every request. */
function mirroredConfig(runtimeUrl: string) {
  return fraudGatewayConfig([runtimeUrl], {
    weights: [100, 0],
    model: {
      shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 }],
      shadow_max_concurrency: 4096,
    },
  });
}

/** The fields of a shadow record the test reads, besides `kind` and `request_id`. */
interface ShadowLine {
  outcome: string;
  primary_score: number | null;
  shadow_score: number | null;
  error?: string;
}

/**
 * Sends every row as a decision, CONCURRENCY at a time, once the gateway has the shadow's
 * metadata (before, copies go alone); then waits for a shadow record per row in the prediction
 * log. Returns the row index of each request id and those records.
 */
async function mirrorAll(client: Agent, gateway: GatewayUnderTest, rows: number[][]) {
  await waitFor("the shadow's metadata", () =>
    gateway.logs.some((line) => line.msg === 'runtime metadata fetched' && line.version === '3'),
  );
  const answers = await runBounded(
    rows.length,
    CONCURRENCY,
    async (i) => {
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[i]!, `user-${i}`),
        AUTH,
      );
      assert.equal(response.status, 200, response.text);
      return response.body as DecisionAnswer;
    },
    60_000,
  );
  const rowOf = new Map(answers.map((answer, i) => [answer.request_id, i]));
  const records = await waitFor(
    'a shadow record per request',
    async () => {
      const shadows = (await readJsonl(join(gateway.dir, 'predictions.jsonl'))).filter(
        (record): record is LoggedRecord & ShadowLine => record.kind === 'shadow',
      );
      return shadows.length >= rows.length ? shadows : undefined;
    },
    20_000,
    100,
  );
  return { rowOf, records };
}

/** Rows carried and calls made by mirrored calls, from switchyard_shadow_batch_rows. */
async function batchRows(client: Agent, gatewayUrl: string): Promise<{ rows: number; calls: number }> {
  const text = await gatewayMetrics(client, gatewayUrl);
  const value = (suffix: string) =>
    Number(
      new RegExp(`^switchyard_shadow_batch_rows_${suffix}\\{model="fraud",shadow="v3"\\} (\\S+)$`, 'm').exec(
        text,
      )?.[1] ?? NaN,
    );
  return { rows: value('sum'), calls: value('count') };
}

test(
  "copies queued together share one call, and each is compared with its own row's answer",
  { timeout: 120_000 },
  async (t) => {
    const rows = fraudRows(600, FRAUD_EVALUATION_SEED);
    const client = createClient(CONCURRENCY + 4);
    let runtime: StartedProcess | undefined;
    let gateway: GatewayUnderTest | undefined;
    try {
      runtime = await startRuntime();
      gateway = await startGateway(mirroredConfig(runtime.url));
      const [v1, v3] = [
        await fraudScores(client, runtime.url, '1', rows),
        await fraudScores(client, runtime.url, '3', rows),
      ];
      const { rowOf, records } = await mirrorAll(client, gateway, rows);
      const batches = await batchRows(client, gateway.url);
      t.diagnostic(`${batches.rows} copies in ${batches.calls} mirrored calls`);

      assert.equal(records.length, rows.length);
      const wrong: string[] = [];
      for (const record of records) {
        assert.equal(record.outcome, 'compared', JSON.stringify(record));
        const i = rowOf.get(record.request_id);
        assert.notEqual(i, undefined, `a shadow record for an unknown request ${record.request_id}`);
        // Tolerance for the few last bits a batch of another size may round differently.
        if (
          Math.abs(record.shadow_score! - v3[i!]!) > 1e-5 ||
          Math.abs(record.primary_score! - v1[i!]!) > 1e-5
        ) {
          wrong.push(
            `row ${i}: shadow ${record.shadow_score} vs ${v3[i!]}, primary ${record.primary_score} vs ${v1[i!]}`,
          );
        }
      }
      assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} copies compared with another row's answer`);
      assert.equal(batches.rows, rows.length, 'every copy was sent, one row each');
      assert.ok(
        batches.calls < rows.length,
        `${batches.calls} mirrored calls for ${rows.length} copies: none shared a call`,
      );
    } finally {
      await client.close();
      if (gateway) assert.equal(await gateway.stop(), 0);
      if (runtime) assert.equal(await runtime.stop(), 0);
    }
  },
);

test(
  'a shadow whose runtime takes one row at a time gets every copy alone',
  { timeout: 120_000 },
  async () => {
    const rows = fraudRows(200, FRAUD_EVALUATION_SEED);
    const repository = await copyRepository(['fraud']);
    const client = createClient(CONCURRENCY + 4);
    let runtime: StartedProcess | undefined;
    let gateway: GatewayUnderTest | undefined;
    try {
      // The runtime refuses a request of two rows or more: a batched copy would come back an error.
      await editModelConfig(repository.dir, 'fraud', (config) => {
        config.max_batch_size = 1;
      });
      runtime = await startRuntime({ repository: repository.dir });
      gateway = await startGateway(mirroredConfig(runtime.url));
      const { records } = await mirrorAll(client, gateway, rows);
      const failed = records.filter((record) => record.outcome !== 'compared');
      assert.deepEqual(failed.slice(0, 3), [], `${failed.length} copies not compared`);
      assert.deepEqual(await batchRows(client, gateway.url), { rows: rows.length, calls: rows.length });
    } finally {
      await client.close();
      if (gateway) assert.equal(await gateway.stop(), 0);
      if (runtime) assert.equal(await runtime.stop(), 0);
      await repository.remove();
    }
  },
);
