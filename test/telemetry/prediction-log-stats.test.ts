import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FRAUD_EVALUATION_SEED } from '../../scripts/fraud/synthetic.js';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl, runCli } from './prediction-log-harness.js';

const ROWS = 1500;

interface AdminStats {
  models: {
    fraud: {
      variants: Record<string, { requests: Record<string, number> }>;
      shadows: {
        primary: string;
        shadow: string;
        sent: number;
        dropped: number;
        errors: number;
        compared: number;
        agreement_rate: number;
        mean_score_delta: number;
      }[];
    };
  };
}

interface LogStats {
  requests: number;
  variants: { variant: string; requests: number; ok: number; decisions: Record<string, number> }[];
  shadows: {
    variant: string;
    shadow: string;
    mirrored: number;
    compared: number;
    agree: number;
    disagree: number;
    agreement_rate: number;
    mean_score_delta: number;
    errors: number;
    dropped: number;
    joined: number;
    changes: { from: string; to: string; count: number }[];
  }[];
}

test('log stats with shadow v3 at 100%: per-variant decisions and agreement equal what /admin/stats reports', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  const path = join(dir, 'predictions.jsonl');
  const runtime = await startRuntime();
  const gateway = await startGateway({
    ...fraudGatewayConfig([runtime.url], {
      weights: [50, 50],
      model: {
        shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 }],
        shadow_max_concurrency: 256,
      },
    }),
    prediction_log: { path },
  });
  const client = createClient(32);
  try {
    await upstreamHealthy(client, gateway.url);
    const rows = fraudRows(ROWS, FRAUD_EVALUATION_SEED);
    const decisions = await runBounded(ROWS, 16, async (i) => {
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[i]!, `user-${i}`),
        AUTH,
      );
      assert.equal(response.status, 200, response.text);
      return response.body as { variant: string; decision: string };
    });
    // Shadow answers land after the callers' answers: wait until every copy is accounted for.
    const admin = await waitFor(
      'every shadow copy compared, failed or dropped',
      async () => {
        const stats = (await getJson(client, `${gateway.url}/admin/stats`, AUTH)).body as AdminStats;
        const pairs = stats.models.fraud.shadows;
        const settled = pairs.reduce((n, p) => n + p.compared + p.errors + p.dropped, 0);
        return settled >= ROWS ? stats.models.fraud : undefined;
      },
      20_000,
      100,
    );
    assert.equal(await gateway.stop(), 0); // flushes the log

    const result = await runCli(['log', 'stats', '--model', 'fraud', '--file', path, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const log = JSON.parse(result.stdout) as LogStats;

    // Requests per variant: the log against the gateway's own counters.
    assert.equal(log.requests, ROWS);
    for (const variant of ['v1', 'v2']) {
      const fromAdmin = Object.values(admin.variants[variant]!.requests).reduce((a, b) => a + b, 0);
      const fromLog = log.variants.find((v) => v.variant === variant)!;
      assert.equal(fromLog.requests, fromAdmin, `${variant} requests`);
      assert.equal(fromLog.ok, admin.variants[variant]!.requests.ok ?? 0, `${variant} ok`);
      // Decisions per variant: the log against what the callers were told.
      const told: Record<string, number> = {};
      for (const d of decisions.filter((d) => d.variant === variant))
        told[d.decision] = (told[d.decision] ?? 0) + 1;
      assert.deepEqual(fromLog.decisions, told, `${variant} decisions`);
    }

    // Agreement per primary/shadow pair: the log against the shadow stage's live counts.
    assert.equal(log.shadows.length, admin.shadows.length);
    for (const pair of admin.shadows) {
      const fromLog = log.shadows.find((s) => s.variant === pair.primary && s.shadow === pair.shadow)!;
      assert.ok(fromLog, `${pair.primary}/${pair.shadow} in the log`);
      assert.equal(fromLog.compared, pair.compared);
      assert.equal(fromLog.errors, pair.errors);
      assert.equal(fromLog.dropped, pair.dropped);
      assert.equal(fromLog.mirrored, pair.sent + pair.dropped);
      assert.ok(Math.abs(fromLog.agreement_rate - pair.agreement_rate) < 1e-12);
      assert.ok(Math.abs(fromLog.mean_score_delta - pair.mean_score_delta) < 1e-9);
      assert.equal(fromLog.joined, fromLog.compared, 'every compared copy joins its prediction record');
      const changed = fromLog.changes.reduce((n, c) => n + c.count, 0);
      assert.equal(changed, fromLog.disagree, 'each disagreement is a decision change');
      t.diagnostic(
        `${pair.primary} vs ${pair.shadow}: ${fromLog.compared} compared, agreement ${(fromLog.agreement_rate * 100).toFixed(2)}% ` +
          `(admin ${(pair.agreement_rate * 100).toFixed(2)}%)`,
      );
    }
    // Every prediction record has at most one shadow record, joined by request id.
    const records = await readJsonl(path);
    const shadowIds = records.filter((r) => r.kind === 'shadow').map((r) => r.request_id);
    assert.equal(new Set(shadowIds).size, shadowIds.length);

    // The human form: an aligned table with one row per variant.
    const text = await runCli(['log', 'stats', '--model', 'fraud', '--file', path]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('variant  requests'))!;
    assert.ok(header, text.stdout);
    const v1 = lines[lines.indexOf(header) + 1]!;
    assert.match(v1, /^v1\s+\d+/);
    assert.equal(
      v1.indexOf(String(log.variants[0]!.requests)) + String(log.variants[0]!.requests).length,
      header.indexOf('requests') + 'requests'.length,
      'numbers right-aligned under their header',
    );
    assert.match(text.stdout, /v1\s+v3\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\.\d\d%/);
  } finally {
    await client.close();
    await gateway.stop();
    assert.equal(await runtime.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
