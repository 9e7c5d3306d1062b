import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { createClient } from '../harness/http.js';
import { startRuntime } from '../harness/runtime.js';

test('SIGTERM under load: not ready at once, every accepted request answered 200, exit 0', async () => {
  const runtime = await startRuntime({ args: ['--drain-delay-ms', '400'] });
  const client = createClient(16);
  const body = JSON.stringify(fraudRequest(fraudRows(1)));
  const statuses = new Map<number, number>();
  let refused = 0;
  const stopAt = Date.now() + 8_000;

  // 16 clients in a loop, each bounded in count and time; a refused connection ends a client.
  const worker = async () => {
    for (let i = 0; i < 3_000 && Date.now() < stopAt; i++) {
      try {
        const response = await request(`${runtime.url}/v2/models/fraud/versions/1/infer`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          dispatcher: client,
        });
        await response.body.dump();
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      } catch {
        refused++; // never reached the server: the listener is closed
        return;
      }
    }
  };
  const load = Promise.all(Array.from({ length: 16 }, worker));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const exit = runtime.stop('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const ready = await request(`${runtime.url}/v2/health/ready`, { dispatcher: client });
  await ready.body.dump();
  assert.equal(ready.statusCode, 503, 'ready must turn 503 as soon as SIGTERM arrives');

  assert.equal(await exit, 0);
  await load;
  await client.close();

  const ok = statuses.get(200) ?? 0;
  assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
  const stopped = runtime.logs.find((l) => l.msg === 'runtime stopped');
  assert.ok(stopped, 'no "runtime stopped" line');
  assert.equal(stopped.finished, true);
  assert.equal(stopped.accepted, ok, 'every request the runtime accepted was answered 200 to a client');
  assert.equal(stopped.answered, ok);
  assert.ok(ok > 100, `only ${ok} requests under load`);
  assert.equal(refused, 16, 'every client ends on a refused connection after the listener closed');
});
