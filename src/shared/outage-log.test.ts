import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutageLog } from './outage-log.js';

function recorder() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    logger: {
      info: (fields: object, msg: string) =>
        lines.push({ level: 'info', msg, fields: fields as Record<string, unknown> }),
      warn: (fields: object, msg: string) =>
        lines.push({ level: 'warn', msg, fields: fields as Record<string, unknown> }),
    },
  };
}

test('an outage of 10,000 failures over 25 s is four lines: start, two counts, end', () => {
  const { lines, logger } = recorder();
  let now = 1_000_000;
  const outage = new OutageLog(logger, {
    subject: 'result cache',
    consequence: 'lookups are misses',
    unit: 'requests',
    fields: () => ({ model: 'fraud' }),
    now: () => now,
  });
  outage.recovered(); // not down: nothing to say
  for (let i = 0; i < 10_000; i++) {
    outage.failed(new Error('connect ECONNREFUSED'));
    now += 2.5; // 400 failures a second
  }
  outage.recovered();
  outage.recovered(); // once per outage
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      ['warn', 'result cache: Redis unreachable; lookups are misses'],
      ['warn', 'result cache: Redis still unreachable'],
      ['warn', 'result cache: Redis still unreachable'],
      ['info', 'result cache: Redis reachable again'],
    ],
  );
  assert.deepEqual(lines[0]!.fields, { model: 'fraud', err: 'connect ECONNREFUSED' });
  assert.deepEqual(lines[1]!.fields, {
    model: 'fraud',
    affected: 4000,
    affected_total: 4001,
    unit: 'requests',
    down_ms: 10_000,
  });
  assert.equal(lines[2]!.fields.affected, 4000);
  assert.deepEqual(lines[3]!.fields, {
    model: 'fraud',
    affected_total: 10_000,
    unit: 'requests',
    down_ms: 25_000,
  });

  // The next outage starts afresh.
  outage.failed('timeout', 3);
  outage.affected(2);
  outage.recovered();
  assert.equal(lines.length, 6);
  assert.equal(lines[4]!.fields.err, 'timeout');
  assert.equal(lines[5]!.fields.affected_total, 5);
});

test('affected() counts only during an outage; the names of the states are the caller’s', () => {
  const { lines, logger } = recorder();
  const outage = new OutageLog(logger, {
    subject: 'prediction log',
    dependency: 'file writes',
    failing: 'failing',
    recovered: 'succeeding again',
    consequence: 'records are held and retried',
    unit: 'records',
  });
  outage.affected(100);
  assert.equal(outage.down, false);
  outage.failed(new Error('ENOSPC'), 7);
  assert.equal(outage.down, true);
  outage.recovered();
  assert.deepEqual(
    lines.map((l) => l.msg),
    [
      'prediction log: file writes failing; records are held and retried',
      'prediction log: file writes succeeding again',
    ],
  );
  assert.equal(lines[1]!.fields.affected_total, 7);
});
