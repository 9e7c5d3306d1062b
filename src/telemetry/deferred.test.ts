import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDeferredTasks, type DeferredTask } from './deferred.js';

/** A counter and a logger that remember what they were told, and a clock the test moves. */
function recorded() {
  const counts = new Map<DeferredTask, number>();
  const lines: Record<string, unknown>[] = [];
  const clock = { now: 1_000_000 };
  const tasks = createDeferredTasks(
    {
      inc: ({ task }: { task: DeferredTask }) => void counts.set(task, (counts.get(task) ?? 0) + 1),
    },
    { error: (fields) => void lines.push(fields as Record<string, unknown>) },
    () => clock.now,
  );
  return { tasks, counts, lines, clock };
}

test('a task that throws in a later turn is counted and logged, and the process goes on', async () => {
  const { tasks, counts, lines } = recorded();
  let ranAfter = false;
  tasks.later('shadow_send', () => {
    throw new RangeError('Maximum call stack size exceeded');
  });
  tasks.later('shadow_send', () => {
    ranAfter = true;
  });
  // Unguarded, the throw would reach the event loop and end this test process.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(counts.get('shadow_send'), 1);
  assert.equal(ranAfter, true, 'the next deferred task still ran');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.task, 'shadow_send');
  assert.ok(lines[0]!.err instanceof RangeError);
});

test('run never rethrows; a task that succeeds is not counted', () => {
  const { tasks, counts } = recorded();
  assert.doesNotThrow(() =>
    tasks.run('cache_write', () => {
      throw new TypeError('Converting circular structure to JSON');
    }),
  );
  let ran = false;
  tasks.run('request_log', () => (ran = true));
  assert.equal(ran, true);
  assert.deepEqual([...counts], [['cache_write', 1]]);
});

test('logged at most once per task every 10 s, with the failures between lines counted', () => {
  const { tasks, counts, lines, clock } = recorded();
  for (let i = 0; i < 100; i++) tasks.failed('prediction_record', new Error(`failure ${i}`));
  tasks.failed('shadow_compare', new Error('another task has its own line'));
  assert.equal(counts.get('prediction_record'), 100, 'every failure is counted');
  assert.deepEqual(
    lines.map((line) => [line.task, line.failures_since_last_line]),
    [
      ['prediction_record', 0],
      ['shadow_compare', 0],
    ],
  );
  clock.now += 9_999;
  tasks.failed('prediction_record', new Error('still within the interval'));
  assert.equal(lines.length, 2);
  clock.now += 1;
  tasks.failed('prediction_record', new Error('the interval has passed'));
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.failures_since_last_line, 100, '99 after the first line, 1 within the interval');
});

test('a logger that throws does not make the failure escape', () => {
  const tasks = createDeferredTasks(
    { inc: () => {} },
    {
      error: () => {
        throw new Error('stdout is gone');
      },
    },
  );
  assert.doesNotThrow(() => tasks.failed('rollout_notify', new Error('x')));
  assert.doesNotThrow(() =>
    tasks.run('rollout_evidence', () => {
      throw new Error('y');
    }),
  );
});
