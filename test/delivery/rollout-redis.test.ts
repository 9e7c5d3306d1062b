import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Agent } from 'undici';
import { bucketOf } from '../../src/stages/route/assign.js';
import { AUTH, startGateway, type GatewayUnderTest } from '../harness/gateway.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { waitFor } from '../harness/process.js';
import { REDIS_NOT_FOUND, startRedis, type StartedRedis } from '../harness/redis.js';
import { startRuntime } from '../harness/runtime.js';
import { rolloutConfig, sendDecisions, type Answered, type RolloutStatusView } from './harness.js';

const SALT = 'fraud-test'; // fraudGatewayConfig's routing salt
const INTERVAL_MS = 400;
const LEASE_MS = 3 * INTERVAL_MS; // about three intervals, at least a second

type SharedStatusView = RolloutStatusView & { leader: boolean; step_index: number };

async function statusOf(client: Agent, gateway: GatewayUnderTest): Promise<SharedStatusView> {
  const response = await getJson(client, `${gateway.url}/admin/rollouts/fraud`, AUTH);
  if (response.status !== 200)
    throw new Error(`GET /admin/rollouts/fraud: ${response.status} ${response.text}`);
  return response.body as SharedStatusView;
}

/** Sends a batch to every gateway (the same users to each) until `done` holds on the first one. */
async function driveAll(
  client: Agent,
  gateways: GatewayUnderTest[],
  done: (status: SharedStatusView) => boolean,
  timeoutMs: number,
): Promise<{ answers: Answered[]; final: SharedStatusView }> {
  const deadline = Date.now() + timeoutMs;
  const answers: Answered[] = [];
  let offset = 0;
  for (;;) {
    const status = await statusOf(client, gateways[0]!);
    if (done(status)) return { answers, final: status };
    if (Date.now() > deadline)
      throw new Error(`the rollout did not get there in time: ${JSON.stringify(status.events.slice(-5))}`);
    for (const gateway of gateways) answers.push(...(await sendDecisions(client, gateway.url, 300, offset)));
    offset = (offset + 300) % 2000;
  }
}

test(
  'two gateways share one rollout through Redis; the leader dies and the other continues from its step',
  { timeout: 240_000 },
  async (t) => {
    let redis: StartedRedis;
    try {
      redis = await startRedis();
    } catch (error) {
      if (String(error).includes(REDIS_NOT_FOUND)) return t.skip(REDIS_NOT_FOUND);
      throw error;
    }
    const runtime = await startRuntime();
    const client = createClient(32);
    t.after(async () => {
      await client.close();
      await runtime.stop();
      await redis.stop();
    });

    // A candidate that decides like the baseline, so every judgement can pass; the step before 70
    // waits for an operator, which holds the rollout mid-way while the leader is killed.
    const config = {
      ...rolloutConfig(
        { baseline: runtime.url },
        { name: 'v1b', version: '1' },
        {
          steps: [10, 40, 70, 100],
          pause_before: [70],
          interval_s: INTERVAL_MS / 1000,
          min_samples: 60,
          criteria: { error_rate: { max_increase: 0.05 } },
        },
      ),
      state: { redis_url: redis.url },
    };
    const first = await startGateway(config);
    t.after(() => first.stop());
    const second = await startGateway(config);
    t.after(() => second.stop());
    const gateways = [first, second];

    // One leader, which every replica agrees on.
    const [a, b] = await waitFor('one leader', async () => {
      const statuses = await Promise.all(gateways.map((g) => statusOf(client, g)));
      return statuses.filter((s) => s.leader).length === 1 ? statuses : undefined;
    });
    const leader = a!.leader ? first : second;
    const follower = leader === first ? second : first;
    assert.notEqual(a!.leader, b!.leader);

    // Both gateways' traffic is the evidence; the rollout walks 10 → 40 and waits before 70.
    const walked = await driveAll(client, gateways, (s) => s.status === 'paused', 90_000);
    assert.equal(walked.final.step, 40, JSON.stringify(walked.final.events));
    assert.deepEqual(
      walked.answers.filter((x) => x.status !== 200),
      [],
      'no caller request failed',
    );

    // Both apply the same step: their admin APIs agree, and each user gets the same variant on both.
    const views = await waitFor('both replicas on step 40', async () => {
      const statuses = await Promise.all(gateways.map((g) => statusOf(client, g)));
      return statuses.every((s) => s.step === 40 && s.status === 'paused') ? statuses : undefined;
    });
    for (const view of views) assert.equal(view.candidate_share_percent, 40);
    const onFirst = await sendDecisions(client, first.url, 400, 3000);
    const onSecond = await sendDecisions(client, second.url, 400, 3000);
    for (let i = 0; i < onFirst.length; i++) {
      const user = onFirst[i]!.user;
      const onTop = bucketOf(SALT, user) >= 10_000 - 4_000;
      assert.equal(onFirst[i]!.variant, onTop ? 'v1b' : 'v1', `user ${user} on the first gateway`);
      assert.equal(onSecond[i]!.variant, onFirst[i]!.variant, `user ${user}: the same variant on both`);
    }

    // The leader dies without a word; the follower takes the lease once it expires.
    const killedAt = Date.now();
    await leader.stop('SIGKILL');
    const took = await waitFor(
      'the follower to lead',
      async () => {
        const status = await statusOf(client, follower);
        return status.leader ? status : undefined;
      },
      10_000,
    );
    const tookMs = Date.now() - killedAt;
    // The lease's TTL, an interval for the follower's next cycle, and an interval's slack for a busy machine.
    assert.ok(tookMs <= LEASE_MS + 2 * INTERVAL_MS, `took over ${tookMs} ms after the leader died`);
    assert.equal(took.step, 40, 'it continues from the step in Redis, not from the start');
    assert.equal(took.status, 'paused');
    console.log(`# the follower took over ${tookMs} ms after the leader died`);

    // An operator resumes on the survivor; it judges 70 on its own traffic and completes.
    const resumed = await postJson(client, `${follower.url}/admin/rollouts/fraud/resume`, {}, AUTH);
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal((resumed.body as SharedStatusView).step, 70);
    const done = await driveAll(client, [follower], (s) => s.status !== 'running', 90_000);
    assert.equal(done.final.status, 'completed', JSON.stringify(done.final.events));
    // Nothing started again after the leader died: the survivor went on 40 → 70 → 100.
    const since = done.final.events.filter((e) => Date.parse(e.at) >= killedAt);
    const kinds = since.map((e) => `${e.event}:${e.step}`);
    assert.ok(!kinds.some((k) => k.startsWith('started') || k.endsWith(':10')), kinds.join(' '));
    assert.deepEqual(
      since.filter((e) => e.event === 'advanced').map((e) => e.step),
      [70, 100],
    );
    const after = await sendDecisions(client, follower.url, 200, 5000);
    assert.ok(
      after.every((x) => x.variant === 'v1b' && x.status === 200),
      'completed: every user on the candidate',
    );
  },
);
