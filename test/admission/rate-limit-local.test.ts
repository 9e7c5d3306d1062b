import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closedLoop, statusCounts, within, type Shot } from '../harness/admission-load.js';
import { fraudRows } from '../harness/fraud.js';
import {
  DEMO_KEY,
  DEMO_KEY_SHA256,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { tenantWithKey } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

/**
 * One gateway, buckets in memory. A tenant's token bucket admits `burst` at once and then `rps`
 * per second, whatever the load above it; refusals are 429 with Retry-After and RateLimit-*;
 * other tenants keep their own buckets; a tenant×model limit is a bucket of its own.
 */

const SECONDS = 3;
const limited = { rps: 50, burst: 10 };
const perModel = { rps: 20, burst: 5 };
const generous = { rps: 1000, burst: 1000 };

/** Tokens a bucket hands out between the first and the last request of `shots` under saturation. */
function expectedAdmitted(shots: readonly Shot[], limit: { rps: number; burst: number }): number {
  const first = Math.min(...shots.map((s) => s.sentAt));
  const last = Math.max(...shots.map((s) => s.sentAt));
  return limit.burst + (limit.rps * (last - first)) / 1000;
}

const count = (shots: readonly Shot[], status: number) => shots.filter((s) => s.status === status).length;

test('local rate limits: burst + rps admitted under load, 429 with headers, tenants and models apart', async (t) => {
  const hammered = tenantWithKey('hammered', ['infer']);
  const neighbour = tenantWithKey('neighbour', ['infer']);
  const modelLimited = tenantWithKey('model-limited', ['infer']);
  const both = tenantWithKey('both-limits', ['infer']);
  const row = fraudRows(1)[0]!;
  const body = decisionBody(row, 'u-limits');
  const client = createClient(8);
  const started: StartedProcess[] = [];
  try {
    const runtime = await startRuntime();
    started.push(runtime);
    const config = fraudGatewayConfig([runtime.url], {
      tenants: [
        { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer'] },
        { ...hammered.tenant, rate_limit: limited },
        { ...neighbour.tenant, rate_limit: generous },
        { ...modelLimited.tenant, rate_limit: generous, model_rate_limits: { fraud: perModel } },
        { ...both.tenant, rate_limit: limited, model_rate_limits: { fraud: perModel } },
      ],
    });
    // A second model on the same runtime, for limits per tenant×model.
    const models = config.models as Record<string, object>;
    models['fraud-b'] = { ...config.models.fraud };
    const gateway: GatewayUnderTest = await startGateway(config);
    started.push(gateway);
    const url = (model: string) => `${gateway.url}/v1/decisions/${model}`;
    await waitFor('both models answer', async () => {
      const answers = await Promise.all(
        ['fraud', 'fraud-b'].map((m) => postJson(client, url(m), body, { 'x-api-key': DEMO_KEY })),
      );
      return answers.every((a) => a.status === 200);
    });
    const metrics = async () => (await getJson(client, `${gateway.url}/metrics`)).text;
    const decisions = (text: string, outcome: string) =>
      metricValue(text, 'switchyard_ratelimit_decisions_total', { outcome });
    const refusals = (text: string, limit: string) =>
      metricValue(text, 'switchyard_admission_rate_limited_total', { model: 'fraud', limit });

    await t.test(`rps ${limited.rps} burst ${limited.burst}: ${SECONDS} s of 8 workers`, async () => {
      const before = await metrics();
      const hammer = closedLoop({
        targets: [{ url: url('fraud'), body, headers: hammered.auth }],
        workers: 8,
        maxRequests: 6000,
        maxMs: SECONDS * 1000,
        ratePerSecond: 800,
      });
      const beside = closedLoop({
        targets: [{ url: url('fraud'), body, headers: neighbour.auth }],
        workers: 2,
        maxRequests: 40 * SECONDS,
        maxMs: SECONDS * 1000 + 500,
        ratePerSecond: 40,
      });
      const [shots, neighbourShots] = await Promise.all([hammer.finished, beside.finished]);
      const after = await metrics();

      const admitted = count(shots, 200);
      const refused = count(shots, 429);
      const expected = expectedAdmitted(shots, limited);
      t.diagnostic(
        `hammered tenant: ${shots.length} requests ${JSON.stringify(statusCounts(shots))}, ` +
          `admitted ${admitted}, expected ${expected.toFixed(1)}`,
      );
      assert.deepEqual(Object.keys(statusCounts(shots)).sort(), ['200', '429']);
      assert.ok(
        within(admitted, expected, 0.1),
        `admitted ${admitted}, expected ${expected.toFixed(1)} ±10%`,
      );
      assert.ok(refused > admitted * 3, `the load (${shots.length}) was well above the limit`);

      for (const shot of shots.filter((s) => s.status === 429)) {
        assert.equal(shot.code, 'SWY_ERR_RATELIMIT_EXCEEDED' satisfies ErrorCode, shot.text);
        assert.match(shot.headers['retry-after'] ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
        assert.equal(shot.headers['ratelimit-limit'], String(limited.burst));
        assert.equal(shot.headers['ratelimit-remaining'], '0');
        assert.match(shot.headers['ratelimit-reset'] ?? '', /^\d+$/);
      }
      for (const shot of shots.filter((s) => s.status === 200)) {
        assert.equal(shot.headers['ratelimit-limit'], String(limited.burst));
        const remaining = Number(shot.headers['ratelimit-remaining']);
        assert.ok(remaining >= 0 && remaining < limited.burst, `remaining ${remaining}`);
      }

      assert.deepEqual(
        statusCounts(neighbourShots),
        { 200: neighbourShots.length },
        'the other tenant is not limited by the hammered one',
      );
      assert.ok(neighbourShots.length >= 40 * SECONDS * 0.8, `${neighbourShots.length} neighbour requests`);

      assert.equal(
        decisions(after, 'over_limit') - decisions(before, 'over_limit'),
        refused,
        'every 429 is one over_limit decision',
      );
      assert.equal(
        decisions(after, 'ok') - decisions(before, 'ok'),
        admitted + neighbourShots.length,
        'every admitted request is one ok decision',
      );
      assert.equal(refusals(after, 'tenant') - refusals(before, 'tenant'), refused);
      assert.equal(decisions(after, 'fail_open') - decisions(before, 'fail_open'), 0);
    });

    await t.test(
      `model_rate_limits fraud rps ${perModel.rps} burst ${perModel.burst}: apart from fraud-b`,
      async () => {
        const before = await metrics();
        const onFraud = closedLoop({
          targets: [{ url: url('fraud'), body, headers: modelLimited.auth }],
          workers: 8,
          maxRequests: 4000,
          maxMs: SECONDS * 1000,
          ratePerSecond: 500,
        });
        const onOther = closedLoop({
          targets: [{ url: url('fraud-b'), body, headers: modelLimited.auth }],
          workers: 2,
          maxRequests: 40 * SECONDS,
          maxMs: SECONDS * 1000 + 500,
          ratePerSecond: 40,
        });
        const [fraud, other] = await Promise.all([onFraud.finished, onOther.finished]);
        const after = await metrics();
        const admitted = count(fraud, 200);
        const expected = expectedAdmitted(fraud, perModel);
        t.diagnostic(
          `fraud: ${JSON.stringify(statusCounts(fraud))}, expected ${expected.toFixed(1)} admitted; ` +
            `fraud-b: ${JSON.stringify(statusCounts(other))}`,
        );
        assert.deepEqual(Object.keys(statusCounts(fraud)).sort(), ['200', '429']);
        assert.ok(
          within(admitted, expected, 0.1),
          `admitted ${admitted}, expected ${expected.toFixed(1)} ±10%`,
        );
        const refused = fraud.filter((s) => s.status === 429);
        for (const shot of refused) {
          assert.equal(shot.code, 'SWY_ERR_RATELIMIT_EXCEEDED' satisfies ErrorCode);
          assert.match(shot.message ?? '', /for model fraud/);
          assert.equal(shot.headers['ratelimit-limit'], String(perModel.burst));
          assert.match(shot.headers['retry-after'] ?? '', /^[1-9]\d*$/);
        }
        assert.deepEqual(statusCounts(other), { 200: other.length }, 'the same tenant on another model');
        assert.equal(refusals(after, 'tenant_model') - refusals(before, 'tenant_model'), refused.length);
        assert.equal(refusals(after, 'tenant') - refusals(before, 'tenant'), 0);
        assert.equal(decisions(after, 'over_limit') - decisions(before, 'over_limit'), refused.length);
      },
    );

    // rate_limit is "the tenant's limit over all models" and model_rate_limits come "on top of"
    // it: a request the model limit refuses must not use up the tenant's tokens for other models.
    await t.test('requests refused by the model limit do not spend the tenant-wide limit', async () => {
      const onFraud = closedLoop({
        targets: [{ url: url('fraud'), body, headers: both.auth }],
        workers: 4,
        maxRequests: 3000,
        maxMs: SECONDS * 1000,
        ratePerSecond: 300,
      });
      const onOther = closedLoop({
        targets: [{ url: url('fraud-b'), body, headers: both.auth }],
        workers: 1,
        maxRequests: 20 * SECONDS,
        maxMs: SECONDS * 1000 + 500,
        ratePerSecond: 20,
      });
      const [fraud, other] = await Promise.all([onFraud.finished, onOther.finished]);
      const admittedFraud = count(fraud, 200);
      const admittedOther = count(other, 200);
      // Tenant tokens over the run: burst 10 + 50/s ≈ 160; fraud may take ≈ 65 of them, which
      // leaves ≈ 95 for fraud-b's 20/s.
      t.diagnostic(
        `fraud ${JSON.stringify(statusCounts(fraud))} (expected ≈ ${expectedAdmitted(fraud, perModel).toFixed(1)}), ` +
          `fraud-b ${JSON.stringify(statusCounts(other))}`,
      );
      assert.ok(
        within(admittedFraud, expectedAdmitted(fraud, perModel), 0.1),
        `fraud admitted ${admittedFraud}`,
      );
      assert.ok(
        admittedOther >= other.length * 0.9,
        `fraud-b admitted ${admittedOther} of ${other.length}: the tenant's tokens went to refused fraud calls`,
      );
    });
  } finally {
    await client.close();
    const exits: (number | string)[] = [];
    for (const child of started.reverse()) exits.push(await child.stop());
    assert.deepEqual(
      exits,
      started.map(() => 0),
      'every process exits 0',
    );
  }
});
