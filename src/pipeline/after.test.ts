import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeferredTask } from '../telemetry/deferred.js';
import { guarded } from './after.js';
import type { Finished } from './stage.js';

test('an after-step that throws is counted under its task, and the steps after it still run', () => {
  const failed: DeferredTask[] = [];
  const deferred = { failed: (task: DeferredTask) => void failed.push(task) };
  const ran: string[] = [];
  const steps = [
    guarded(deferred, 'rollout_evidence', () => {
      throw new TypeError("Cannot read properties of undefined (reading 'data')");
    }),
    guarded(deferred, 'request_log', () => void ran.push('request_log')),
  ];
  const finished = {} as Finished;
  assert.doesNotThrow(() => {
    for (const step of steps) step(finished);
  });
  assert.deepEqual(failed, ['rollout_evidence']);
  assert.deepEqual(ran, ['request_log']);
});
