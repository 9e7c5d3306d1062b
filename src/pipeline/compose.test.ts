import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gatewayError } from '../errors.js';
import { createContext } from '../http/context.js';
import { compose, RESPOND_STAGE, type Lifecycle } from './compose.js';
import { refuse, type Finished, type NamedStage, type Reply, type RequestContext } from './stage.js';

const ANSWER: Reply = { ok: true, response: undefined, variant: 'v1', version: '1' };

function context(stageCount: number): RequestContext {
  return createContext({
    requestId: 'r-1',
    endpoint: 'infer',
    model: 'm',
    headers: {},
    body: {},
    receivedAt: performance.now(),
    budgetMs: 1000,
    stageCount,
  });
}

function lifecycle(stages: NamedStage[], after: Lifecycle['after'] = []): Lifecycle {
  return {
    stages,
    respond: (_ctx, reply) => ({ status: reply.ok ? 200 : reply.error.status, body: { ok: reply.ok } }),
    after,
  };
}

async function run(stages: NamedStage[], after: Lifecycle['after'] = []) {
  const pipeline = compose(lifecycle(stages, after));
  const ctx = context(pipeline.stageNames.length);
  return { pipeline, ctx, finished: await pipeline.run(ctx) };
}

test('stages run in order, each may act on the way back; respond then every after-step sees the result', async () => {
  const order: string[] = [];
  const stage = (name: string): NamedStage => ({
    name,
    async run(_ctx, next) {
      order.push(`${name}>`);
      const reply = await next();
      order.push(`<${name}`);
      return reply;
    },
  });
  const seen: Finished[] = [];
  const { pipeline, finished } = await run(
    [stage('a'), stage('b'), { name: 'c', run: async () => (order.push('c'), ANSWER) }],
    [(f) => void seen.push(f), (f) => void order.push(`after ${f.response.status}`)],
  );
  assert.deepEqual(order, ['a>', 'b>', 'c', '<b', '<a', 'after 200']);
  assert.deepEqual(pipeline.stageNames, ['a', 'b', 'c', RESPOND_STAGE]);
  assert.equal(finished.reply, ANSWER);
  assert.deepEqual(finished.response, { status: 200, body: { ok: true } });
  assert.equal(seen[0], finished, 'each after-step is given the finished request');
  assert.equal(finished.stageNames, pipeline.stageNames);
  assert.ok(finished.pipelineMs >= 0 && finished.finishedAt >= finished.ctx.receivedAt);
});

test('a refusing stage ends the chain: later stages never run, respond answers the refusal', async () => {
  let reached = false;
  const { finished, ctx } = await run([
    { name: 'gate', run: async () => refuse(gatewayError('RATELIMIT_EXCEEDED')) },
    { name: 'never', run: async () => ((reached = true), ANSWER) },
  ]);
  assert.equal(reached, false);
  assert.equal(finished.response.status, 429);
  assert.equal(ctx.stageMs[1], 0, 'a stage that never ran has no time');
});

test('a throwing stage becomes a refusal: its GatewayError kept, anything else INTERNAL with the cause', async () => {
  const boom = new Error('boom');
  const thrown = await run([
    {
      name: 'x',
      run: () => {
        throw boom;
      },
    },
  ]);
  assert.equal(!thrown.finished.reply.ok && thrown.finished.reply.error.code, 'SWY_ERR_INTERNAL');
  assert.equal(!thrown.finished.reply.ok && thrown.finished.reply.error.cause, boom);
  const rejected = await run([{ name: 'y', run: () => Promise.reject(gatewayError('INPUT_INVALID')) }]);
  assert.equal(!rejected.finished.reply.ok && rejected.finished.reply.error.code, 'SWY_ERR_INPUT_INVALID');
  assert.equal(rejected.finished.response.status, 400);
});

test('next() called twice is refused; the last stage calling next() gets an internal refusal', async () => {
  const twice = await run([
    {
      name: 'twice',
      async run(_ctx, next) {
        await next();
        return next();
      },
    },
    { name: 'end', run: async () => ANSWER },
  ]);
  assert.equal(!twice.finished.reply.ok && twice.finished.reply.error.code, 'SWY_ERR_INTERNAL');
  const past = await run([{ name: 'only', run: (_ctx, next) => next() }]);
  assert.match(!past.finished.reply.ok ? past.finished.reply.error.message : '', /without an answer/);
});

test("each stage's own time excludes the stages after it; respond has its own slot", async () => {
  const { ctx } = await run([
    {
      name: 'outer',
      async run(_ctx, next) {
        await sleep(20);
        return next();
      },
    },
    {
      name: 'inner',
      async run() {
        await sleep(40);
        return ANSWER;
      },
    },
  ]);
  const [outer, inner, respond] = ctx.stageMs;
  assert.ok(outer! >= 15 && outer! < 38, `outer's own time ${outer}`);
  assert.ok(inner! >= 35, `inner ${inner}`);
  assert.ok(respond! >= 0 && respond! < 15, `respond ${respond}`);
});

test('malformed lifecycles are refused when built, not mid-request', () => {
  const ok: NamedStage = { name: 'ok', run: async () => ANSWER };
  const bad = [
    [{ name: 'Upper', run: ok.run }],
    [ok, ok],
    [{ name: RESPOND_STAGE, run: ok.run }],
    [{ name: 'x' } as NamedStage],
    [
      {
        name: 'three',
        run: (_a: unknown, _b: unknown, _c: unknown) => Promise.resolve(ANSWER),
      } as NamedStage,
    ],
  ];
  for (const stages of bad) assert.throws(() => compose(lifecycle(stages)), TypeError);
  assert.throws(() => compose({ ...lifecycle([ok]), after: ['x' as never] }), /after-step 0/);
  assert.throws(() => compose({ ...lifecycle([ok]), respond: undefined as never }), /respond/);
});
