import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createRequestLog, type RequestLogFields } from './request-log.js';
import type { ErrorCode } from '../errors.js';

/** A pino logger writing into an array, and the lines without their `time` (which may differ by a ms). */
function capture(level: string) {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(line) });
  const parsed = () => lines.map((line) => ({ ...(JSON.parse(line) as object), time: 0 }));
  return { logger, lines, parsed };
}

const CASES: RequestLogFields[] = [
  {
    request_id: 'r-1',
    model: 'fraud',
    endpoint: 'decision',
    variant: 'v1',
    version: '1',
    status: 200,
    duration_ms: 0.412,
    fallback: null,
  },
  {
    // A client-chosen id with characters JSON must escape.
    request_id: 'a"b\\c\n\u2028\u0001é',
    model: 'fraud',
    endpoint: 'infer',
    variant: 'v2',
    version: undefined,
    status: 200,
    duration_ms: 12,
    fallback: 'default; reason=circuit_open',
  },
  {
    request_id: 'r-3',
    model: 'nope',
    endpoint: 'predict',
    status: 404,
    duration_ms: 0.05,
    fallback: null,
    code: 'SWY_ERR_MODEL_UNKNOWN' satisfies ErrorCode,
  },
];

test('the request line built by hand is the line pino writes for the same fields', () => {
  const byPino = capture('info');
  const byHand = capture('info');
  const requestLog = createRequestLog(byHand.logger);
  for (const fields of CASES) {
    byPino.logger.info(fields, 'request');
    requestLog(fields);
  }
  assert.equal(byHand.lines.length, CASES.length);
  assert.ok(byHand.lines.every((line) => line.endsWith('}\n')));
  assert.deepEqual(byHand.parsed(), byPino.parsed());
  // Same keys in the same order, so the lines read alike.
  assert.deepEqual(
    byHand.lines.map((l) => Object.keys(JSON.parse(l) as object)),
    byPino.lines.map((l) => Object.keys(JSON.parse(l) as object)),
  );
});

test('the request line follows the logger: its bindings, and nothing below its level', () => {
  const child = capture('info');
  createRequestLog(child.logger.child({ replica: 'gw-2' }))(CASES[0]!);
  assert.equal((JSON.parse(child.lines[0]!) as { replica: string }).replica, 'gw-2');
  const quiet = capture('warn');
  createRequestLog(quiet.logger)(CASES[0]!);
  assert.equal(quiet.lines.length, 0);
});
