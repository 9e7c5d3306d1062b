import assert from 'node:assert/strict';
import type { write as fsWrite } from 'node:fs';
import { test } from 'node:test';
import { LogSink } from './log-sink.js';

type Step = { error: string } | { accept: number } | 'all';

/** An fs.write that answers as scripted, step by step, then accepts everything; what it took, in order. */
function scriptedWrite(steps: Step[]) {
  const written: Buffer[] = [];
  const write = ((
    _fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    _pos: null,
    done: (e: NodeJS.ErrnoException | null, n: number) => void,
  ) => {
    const step = steps.shift() ?? 'all';
    setImmediate(() => {
      if (typeof step === 'object' && 'error' in step) {
        done(Object.assign(new Error(step.error), { code: step.error }), 0);
        return;
      }
      const n = step === 'all' ? length : Math.min(step.accept, length);
      written.push(Buffer.from(buffer.subarray(offset, offset + n)));
      done(null, n);
    });
  }) as unknown as typeof fsWrite;
  return { write, text: () => Buffer.concat(written).toString() };
}

/** Resolves once the sink is idle; holds the event loop open meanwhile (the sink's timers do not). */
const idle = (sink: LogSink) =>
  new Promise<void>((resolve) => {
    const hold = setInterval(() => {}, 1000);
    sink.whenIdle(() => {
      clearInterval(hold);
      resolve();
    });
  });

test('a short write and an EAGAIN keep every line whole and in order', async () => {
  const fake = scriptedWrite([{ accept: 5 }, { error: 'EAGAIN' }, { accept: 3 }]);
  const sink = new LogSink(1, { flushBytes: 1, flushMs: 5, maxBufferedBytes: 1 << 20, write: fake.write });
  const lines = Array.from({ length: 20 }, (_, i) => `{"line":${i}}\n`);
  for (const line of lines) sink.line(line);
  await idle(sink);
  assert.equal(fake.text(), lines.join(''));
  assert.equal(sink.stats.dropped, 0);
});

test('a reader that is gone: what waited and every later line are dropped and counted, nothing thrown', async () => {
  const fake = scriptedWrite([{ error: 'EPIPE' }]);
  const sink = new LogSink(1, {
    flushBytes: 1 << 20,
    flushMs: 5,
    maxBufferedBytes: 1 << 20,
    write: fake.write,
  });
  sink.line('a\n');
  sink.line('b\n');
  await idle(sink);
  sink.line('c\n');
  await idle(sink);
  assert.deepEqual(sink.stats, { lines: 3, dropped: 3, broken: true });
  assert.equal(fake.text(), '');
});

test('a reader that does not keep up: lines past the buffer bound are dropped, the rest written', async () => {
  const fake = scriptedWrite(Array.from({ length: 5 }, () => ({ error: 'EAGAIN' })));
  const sink = new LogSink(1, { flushBytes: 1, flushMs: 5, maxBufferedBytes: 40, write: fake.write });
  // 11 bytes each: the first is taken by the write in flight, 3 more fit in the 40 bytes that wait.
  for (let i = 0; i < 10; i++) sink.line(`line-${i}-xxx\n`);
  await idle(sink);
  assert.equal(sink.stats.dropped, 6);
  assert.equal(fake.text(), 'line-0-xxx\nline-1-xxx\nline-2-xxx\nline-3-xxx\n');
});
