import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { gatewayError, type ErrorCode } from '../errors.js';
import { compose } from './compose.js';
import { refuse, type Answer, type NamedStage, type Reply, type RequestContext } from './stage.js';

const ANSWER: Answer = { ok: true, response: undefined, variant: 'v1', version: '1' };

function context(stageCount: number): RequestContext {
  const now = performance.now();
  return {
    requestId: 'r-1',
    endpoint: 'infer',
    model: 'fraud',
    headers: {},
    body: undefined,
    receivedAt: now,
    deadline: now + 1000,
    tenant: undefined,
    userKey: undefined,
    variant: undefined,
    inference: undefined,
    inferenceText: undefined,
    stageMs: new Float64Array(stageCount),
    runtimeTiming: undefined,
    headersOut: {},
    response: undefined,
    cacheKeys: undefined,
  };
}

/** A stage that writes when it enters and leaves, and passes on. */
function passing(name: string, trail: string[]): NamedStage {
  return {
    name,
    async run(_ctx, next) {
      trail.push(`${name}>`);
      const reply = await next();
      trail.push(`<${name}`);
      return reply;
    },
  };
}

const answering: NamedStage = { name: 'answer', run: () => Promise.resolve(ANSWER) };

const codeOf = (reply: Reply): ErrorCode | undefined => (reply.ok ? undefined : reply.error.code);

test('stages run in the order given, each around the ones after it', async () => {
  const trail: string[] = [];
  const pipeline = compose([passing('a', trail), passing('b', trail), answering]);
  assert.deepEqual(pipeline.stageNames, ['a', 'b', 'answer']);
  assert.equal(await pipeline.run(context(3)), ANSWER);
  assert.deepEqual(trail, ['a>', 'b>', '<b', '<a']);
});

test('a stage that refuses answers for the rest: later stages never run', async () => {
  const trail: string[] = [];
  const refusing: NamedStage = {
    name: 'auth',
    run: () => Promise.resolve(refuse(gatewayError('AUTH_MISSING_KEY'))),
  };
  const ctx = context(3);
  const reply = await compose([passing('a', trail), refusing, passing('c', trail)]).run(ctx);
  assert.equal(codeOf(reply), 'SWY_ERR_AUTH_MISSING_KEY' satisfies ErrorCode);
  assert.deepEqual(trail, ['a>', '<a'], 'the stage before sees the refusal; the one after never ran');
  assert.equal(ctx.stageMs[2], 0);
});

test('a throwing stage becomes a refusal: INTERNAL with the cause, or the GatewayError it threw', async () => {
  const boom = new Error('boom');
  const throwsSync: NamedStage = {
    name: 'sync',
    run: () => {
      throw boom;
    },
  };
  const internal = await compose([throwsSync]).run(context(1));
  assert.equal(codeOf(internal), 'SWY_ERR_INTERNAL' satisfies ErrorCode);
  assert.equal(!internal.ok && internal.error.cause, boom);
  assert.equal(!internal.ok && internal.error.status, 500);

  const seen: Reply[] = [];
  const outer: NamedStage = {
    name: 'outer',
    async run(_ctx, next) {
      const reply = await next();
      seen.push(reply);
      return reply;
    },
  };
  const rejects: NamedStage = {
    name: 'limit',
    run: () => Promise.reject(gatewayError('RATELIMIT_EXCEEDED', 'tenant limit')),
  };
  const limited = await compose([outer, rejects]).run(context(2));
  assert.equal(codeOf(limited), 'SWY_ERR_RATELIMIT_EXCEEDED' satisfies ErrorCode);
  assert.equal(!limited.ok && limited.error.status, 429);
  assert.equal(seen[0], limited, 'the stage before gets the refusal from next(), not a rejection');
});

test('calling next() twice is refused and the later stages run once', async () => {
  let runs = 0;
  let second: unknown;
  const twice: NamedStage = {
    name: 'twice',
    async run(_ctx, next) {
      const reply = await next();
      second = await next().then(
        () => 'resolved',
        (error: unknown) => error,
      );
      return reply;
    },
  };
  const counted: NamedStage = {
    name: 'counted',
    run: () => {
      runs++;
      return Promise.resolve(ANSWER);
    },
  };
  assert.equal(await compose([twice, counted]).run(context(2)), ANSWER);
  assert.ok(second instanceof Error);
  assert.match(second.message, /"twice" called next\(\) twice/);
  assert.equal(runs, 1);
});

test('malformed stages are refused when the pipeline is built', () => {
  const run = answering.run;
  const cases: [string, unknown[], RegExp][] = [
    ['no run function', [{ name: 'a' }], /stage 0 has no run function/],
    ['a missing stage', [answering, undefined], /stage 1 has no run function/],
    ['an upper-case name', [{ name: 'Auth', run }], /lower-case name/],
    ['an empty name', [{ name: '', run }], /lower-case name/],
    ['a name twice', [answering, { name: 'answer', run }], /"answer" appears twice/],
    [
      'a run of three parameters',
      [{ name: 'a', run: (_c: unknown, _n: unknown, _x: unknown) => _x }],
      /not more/,
    ],
  ];
  for (const [what, stages, message] of cases) {
    assert.throws(() => compose(stages as NamedStage[]), { name: 'TypeError', message }, what);
  }
  assert.doesNotThrow(() => compose([]));
});

test("each stage's own time excludes the stages after it", async () => {
  const waits = [10, 60];
  const waiting = (name: string, ms: number): NamedStage => ({
    name,
    async run(_ctx, next) {
      await sleep(ms);
      return next();
    },
  });
  const ctx = context(3);
  const started = performance.now();
  await compose([waiting('outer', waits[0]!), waiting('inner', waits[1]!), answering]).run(ctx);
  const total = performance.now() - started;
  const [outer, inner, last] = ctx.stageMs;
  // Timers may fire a little early against performance.now(); a whole millisecond is plenty.
  assert.ok(outer! >= waits[0]! - 1, `outer ${outer}`);
  assert.ok(outer! < waits[1]!, `outer ${outer} must not include inner's ${waits[1]} ms`);
  assert.ok(inner! >= waits[1]! - 1, `inner ${inner}`);
  assert.ok(last! > 0 && last! < inner!, `answer ${last}`);
  assert.ok(Math.abs(outer! + inner! + last! - total) < 10, `stages ${outer! + inner! + last!} vs ${total}`);
});
