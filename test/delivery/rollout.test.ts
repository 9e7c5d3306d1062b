import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { bucketOf } from '../../src/stages/route/assign.js';
import { DEMO_KEY, startGateway } from '../harness/gateway.js';
import { createClient } from '../harness/http.js';
import { CLI, waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl } from '../telemetry/prediction-log-harness.js';
import { driveUntil, rolloutConfig, rolloutStatus, sendDecisions } from './harness.js';

const run = promisify(execFile);
const SALT = 'fraud-test'; // fraudGatewayConfig's routing salt

/** `switchyard rollout ACTION fraud` against a gateway, as an operator runs it. */
async function rolloutCli(
  action: string,
  gatewayUrl: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [...CLI, 'rollout', action, 'fraud', '--url', gatewayUrl],
      { env: { ...process.env, SWITCHYARD_ADMIN_KEY: DEMO_KEY }, timeout: 20_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

test('progressive delivery run by the gateway', { timeout: 240_000 }, async (t) => {
  const runtime = await startRuntime();
  const client = createClient(32);
  t.after(async () => {
    await client.close();
    await runtime.stop();
  });

  await t.test(
    'a candidate that decides like the baseline walks shadow → 10 → 50 → 100 and completes',
    async (t) => {
      // The same model under another variant name: every check can pass.
      const gateway = await startGateway(
        rolloutConfig(
          { baseline: runtime.url },
          { name: 'v1b', version: '1' },
          {
            steps: ['shadow', 10, 50, 100],
            interval_s: 0.4,
            min_samples: 120,
            failure_limit: 2,
            criteria: {
              error_rate: { max_increase: 0.02 },
              fallback_rate: { max_increase: 0.02 },
              agreement: { min: 0.97 },
              score_delta: { max_mean_abs: 0.01 },
              drift_psi: { max: 0.25 },
            },
          },
        ),
      );
      t.after(() => gateway.stop());
      const { batches, final } = await driveUntil(client, gateway.url, (s) => s.status !== 'running', {
        timeoutMs: 120_000,
      });
      assert.equal(final.status, 'completed', JSON.stringify(final.events));
      assert.deepEqual(
        final.events.filter((e) => e.event === 'advanced').map((e) => e.step),
        [10, 50, 100],
      );
      const answers = batches.flatMap((b) => b.answers);
      assert.deepEqual(
        answers.filter((a) => a.status !== 200),
        [],
        'no caller request failed',
      );
      // Within a batch that ran on one step, the candidate's share of users is the step's.
      for (const { before, after, answers: batch } of batches) {
        if (before.step !== after.step || typeof before.step !== 'number' || before.status !== 'running')
          continue;
        const expected = before.step / 100;
        const onCandidate = batch.filter((a) => a.variant === 'v1b').length / batch.length;
        const sigma = Math.sqrt((expected * (1 - expected)) / batch.length);
        assert.ok(
          Math.abs(onCandidate - expected) <= 4 * sigma + 0.01,
          `step ${before.step}: ${onCandidate.toFixed(3)} of users on the candidate`,
        );
        // And exactly the users whose bucket is in the top of the baseline's range.
        for (const answer of batch) {
          const onTop = bucketOf(SALT, answer.user) >= 10_000 - Math.round(expected * 10_000);
          assert.equal(answer.variant, onTop ? 'v1b' : 'v1', `user ${answer.user} at step ${before.step}`);
        }
      }
      // The shadow step served no caller from the candidate.
      for (const { before, after, answers: batch } of batches) {
        if (before.step === 'shadow' && after.step === 'shadow')
          assert.ok(batch.every((a) => a.variant === 'v1'));
      }
      const completed = await sendDecisions(client, gateway.url, 200, 5000);
      assert.ok(
        completed.every((a) => a.variant === 'v1b' && a.status === 200),
        'completed: every user on the candidate',
      );
    },
  );

  await t.test('a candidate that decides differently (v3) is rolled back in the shadow step', async (t) => {
    const gateway = await startGateway(
      rolloutConfig(
        { baseline: runtime.url },
        { name: 'v3', version: '3' },
        {
          steps: ['shadow', 10, 100],
          interval_s: 0.4,
          min_samples: 150,
          failure_limit: 2,
          criteria: { agreement: { min: 0.97 }, drift_psi: { max: 0.2 } },
        },
      ),
    );
    t.after(() => gateway.stop());
    const { batches, final } = await driveUntil(client, gateway.url, (s) => s.status !== 'running', {
      timeoutMs: 60_000,
    });
    assert.equal(final.status, 'rolled_back', JSON.stringify(final.events));
    const rolledBack = final.events.find((e) => e.event === 'rolled_back')!;
    assert.equal(rolledBack.step, 'shadow', 'rolled back before any caller was moved');
    assert.match(rolledBack.detail, /agreement/);
    const answers = batches.flatMap((b) => b.answers);
    assert.ok(
      answers.every((a) => a.variant === 'v1' && a.status === 200),
      'no caller got the candidate',
    );
    const after = await sendDecisions(client, gateway.url, 100, 7000);
    assert.ok(
      after.every((a) => a.variant === 'v1'),
      'rolled back: the candidate stays at 0',
    );
  });

  await t.test('too little traffic: the step holds, inconclusive, and never promotes', async (t) => {
    const gateway = await startGateway(
      rolloutConfig(
        { baseline: runtime.url },
        { name: 'v1b', version: '1' },
        {
          steps: [10, 100],
          interval_s: 0.2,
          min_samples: 5000,
          criteria: { error_rate: { max_increase: 0.01 } },
        },
      ),
    );
    t.after(() => gateway.stop());
    await sendDecisions(client, gateway.url, 300);
    await waitFor(
      'a judgement',
      async () => (await rolloutStatus(client, gateway.url)).last_judgement !== null,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000)); // five more intervals
    const status = await rolloutStatus(client, gateway.url);
    assert.equal(status.status, 'running');
    assert.equal(status.step, 10);
    assert.equal(status.last_judgement!.verdict, 'inconclusive');
    assert.match(status.last_judgement!.checks[0]!.reason, /sample/i);
    assert.ok(status.events.some((e) => e.event === 'held' && /inconclusive/.test(e.detail)));
    assert.ok(!status.events.some((e) => e.event === 'advanced' || e.event === 'completed'));
  });

  await t.test(
    'a pause step waits for `switchyard rollout resume`; `abort` rolls back at once',
    async (t) => {
      const gateway = await startGateway(
        rolloutConfig(
          { baseline: runtime.url },
          { name: 'v1b', version: '1' },
          {
            steps: [10, 50, 100],
            pause_before: [50],
            interval_s: 0.3,
            min_samples: 60,
            criteria: { error_rate: { max_increase: 0.05 } },
          },
        ),
      );
      t.after(() => gateway.stop());
      const paused = await driveUntil(client, gateway.url, (s) => s.status === 'paused', {
        timeoutMs: 60_000,
      });
      assert.equal(paused.final.step, 10);
      assert.equal(paused.final.waiting_for, 'resume');
      // Still paused after more evidence: only an operator moves it on.
      await sendDecisions(client, gateway.url, 400);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal((await rolloutStatus(client, gateway.url)).status, 'paused');

      const resumed = await rolloutCli('resume', gateway.url);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /\[50\]/);
      const status = await rolloutStatus(client, gateway.url);
      assert.deepEqual([status.status, status.step, status.candidate_share_percent], ['running', 50, 50]);

      const shown = await rolloutCli('status', gateway.url);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /fraud: v1b against v1, running/);

      const aborted = await rolloutCli('abort', gateway.url);
      assert.equal(aborted.code, 0, aborted.stderr);
      const after = await rolloutStatus(client, gateway.url);
      assert.equal(after.status, 'rolled_back');
      assert.equal(after.candidate_share_percent, 0);
      const answers = await sendDecisions(client, gateway.url, 100, 9000);
      assert.ok(
        answers.every((a) => a.variant === 'v1'),
        'aborted: every user back on the baseline',
      );
      const again = await rolloutCli('resume', gateway.url);
      assert.equal(again.code, 1, 'a rolled-back rollout cannot be resumed');
      assert.match(again.stderr, /409/);
    },
  );
});

test(
  'a candidate whose runtime dies mid-rollout is rolled back; callers are served, nothing is lost',
  { timeout: 120_000 },
  async (t) => {
    const baseline = await startRuntime();
    const candidate = await startRuntime();
    const client = createClient(32);
    t.after(async () => {
      await client.close();
      await baseline.stop();
      await candidate.stop('SIGKILL');
    });
    const gateway = await startGateway(
      rolloutConfig(
        { baseline: baseline.url, candidate: candidate.url },
        { name: 'v1b', version: '1' },
        {
          steps: [20, 50, 100],
          interval_s: 0.4,
          min_samples: 400,
          failure_limit: 3,
          criteria: { error_rate: { max_increase: 0.01 }, fallback_rate: { max_increase: 0.01 } },
        },
        { fallback: [{ variant: 'v1' }] },
      ),
    );
    t.after(() => gateway.stop());
    // The candidate serves its 20% first.
    const before = await sendDecisions(client, gateway.url, 400);
    assert.ok(before.some((a) => a.variant === 'v1b'));
    const killedAt = Date.now();
    await candidate.stop('SIGKILL');
    const { batches, final } = await driveUntil(client, gateway.url, (s) => s.status !== 'running', {
      batch: 200,
      timeoutMs: 30_000,
    });
    assert.equal(final.status, 'rolled_back', JSON.stringify(final.events));
    const rolledBack = final.events.find((e) => e.event === 'rolled_back')!;
    assert.equal(rolledBack.step, 20);
    // Within failure_limit intervals of the failure (and an interval's slack for a busy machine).
    const tookMs = Date.parse(rolledBack.at) - killedAt;
    assert.ok(tookMs <= (3 + 2) * 400, `rolled back ${tookMs} ms after the candidate died`);
    const answers = [...before, ...batches.flatMap((b) => b.answers)];
    assert.deepEqual(
      answers.filter((a) => a.status !== 200),
      [],
      'every caller answered, by the baseline or the fallback',
    );
    const after = await sendDecisions(client, gateway.url, 200, 3000);
    assert.ok(
      after.every((a) => a.variant === 'v1' && !a.fallback),
      'rolled back: the baseline serves everyone',
    );
    // Every answer has its prediction record.
    const sent = answers.length + after.length;
    const logPath = join(gateway.dir, 'predictions.jsonl');
    // The mirrored copies' shadow records share the log: count the prediction records alone.
    const predictions = async () => (await readJsonl(logPath)).filter((r) => r.kind === 'prediction');
    await waitFor('every record written', async () => (await predictions()).length >= sent);
    assert.equal((await predictions()).length, sent);
  },
);
