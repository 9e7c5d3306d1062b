import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  PATIENT_HEALTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson, type JsonResponse } from '../harness/http.js';
import { waitFor, type LogLine, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl, runCli } from '../telemetry/prediction-log-harness.js';

const RESET_MS = 1000;
/** pino's levels. */
const INFO = 30;
const WARN = 40;
const ERROR = 50;

const breakerLines = (logs: LogLine[]) => logs.filter((l) => String(l.msg).startsWith('breaker of fraud/v1'));
const poolLines = (logs: LogLine[]) =>
  logs.filter((l) => String(l.msg).startsWith('upstream "onnx": endpoints'));

interface Answered {
  phase: 'up' | 'down' | 'back';
  endpoint: 'decision' | 'infer';
  response: JsonResponse;
}

test(
  'a runtime outage logs each breaker and pool change once; the answers and records name what answered',
  { timeout: 120_000 },
  async (t) => {
    const logDir = await mkdtemp(join(tmpdir(), 'switchyard-outage-'));
    const logPath = join(logDir, 'predictions.jsonl');
    let runtime: StartedProcess | undefined;
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(8);
    const rows = fraudRows(20, 11);
    const answers: Answered[] = [];
    let phase: Answered['phase'] = 'up';
    let sending = true;
    try {
      runtime = await startRuntime();
      const port = new URL(runtime.url).port;
      gateway = await startGateway({
        ...fraudGatewayConfig([runtime.url], {
          // Everyone on v1: v2 is never called, so its breaker never changes.
          weights: [100, 0],
          upstream: { health: PATIENT_HEALTH },
          model: {
            breaker: {
              error_threshold_percent: 50,
              volume_threshold: 5,
              reset_ms: RESET_MS,
              rolling_window_ms: 5000,
            },
            fallback: [{ default: { decision: 'review' } }],
          },
        }),
        prediction_log: { path: logPath },
      });
      const gatewayUrl = gateway.url;
      await upstreamHealthy(client, gatewayUrl);

      // Two callers, one per endpoint, for the whole scenario: the decision endpoint can be
      // answered by the default decision, the tensor endpoint cannot.
      const send = async (endpoint: Answered['endpoint']) => {
        for (let i = 0; sending; i++) {
          const row = rows[i % rows.length]!;
          const at = phase;
          const response =
            endpoint === 'decision'
              ? await postJson(client, `${gatewayUrl}/v1/decisions/fraud`, decisionBody(row, `u-${i}`), AUTH)
              : await postJson(client, `${gatewayUrl}/v2/models/fraud/infer`, fraudRequest([row]), {
                  ...AUTH,
                  'x-user-id': `u-${i}`,
                });
          answers.push({ phase: at, endpoint, response });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      const load = Promise.all([send('decision'), send('infer')]);
      const settled = load.catch((error: unknown) => error);
      try {
        await waitFor('answers before the outage', () => answers.length >= 20);

        phase = 'down';
        await runtime.stop('SIGKILL');
        runtime = undefined;
        // The breaker opens on the failures, the pool empties on the health checks; then a few
        // half-open trials fail while the runtime stays away.
        await waitFor(
          'the breaker open and the pool empty, in the log',
          () =>
            breakerLines(gateway!.logs).length > 0 &&
            poolLines(gateway!.logs).length > 0 &&
            answers.filter((a) => a.phase === 'down').length >= 40,
          15_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 2.5 * RESET_MS));

        runtime = await startRuntime({ args: ['--port', port] });
        phase = 'back';
        await waitFor(
          'the model answering again, with the breaker closed',
          () =>
            breakerLines(gateway!.logs).some((l) => l.state === 'closed') &&
            answers.filter(
              (a) => a.phase === 'back' && a.response.headers['x-switchyard-fallback'] === undefined,
            ).length >= 10,
          20_000,
        );
      } finally {
        sending = false;
        await settled;
      }
      await load;
      assert.equal(await gateway.stop(), 0); // flushes the log and the prediction log
      const logs = gateway.logs;

      // The breaker: one line per change, never per call, each naming the model, variant and why.
      const breaker = breakerLines(logs);
      t.diagnostic(
        `breaker lines: ${breaker.map((l) => `${String(l.state)}(${String(l.reason)})`).join(' → ')}`,
      );
      t.diagnostic(`answers: ${answers.length}`);
      assert.ok(breaker.length >= 3, 'open, half-open, closed');
      for (const line of breaker) {
        assert.equal(line.model, 'fraud');
        assert.equal(line.variant, 'v1');
      }
      assert.deepEqual(
        { state: breaker[0]!.state, reason: breaker[0]!.reason, level: breaker[0]!.level },
        { state: 'open', reason: 'error_threshold', level: ERROR },
      );
      assert.match(String(breaker[0]!.last_failure), /^SWY_ERR_UPSTREAM_/);
      assert.ok(
        Number(breaker[0]!.failures) >= 1 && Number(breaker[0]!.calls) >= 5,
        JSON.stringify(breaker[0]),
      );
      const last = breaker.at(-1)!;
      assert.deepEqual(
        { state: last.state, reason: last.reason, level: last.level },
        { state: 'closed', reason: 'trial_succeeded', level: INFO },
      );
      assert.ok(Number(last.refused) > 0, 'the closing line counts the calls refused while open');
      // Changes alternate; a runtime that stays away through several trials costs one line for
      // its first failed trial, then a "still open" line per 10 s, and the count on closing.
      const changes = breaker.filter((l) => l.reason !== 'still_open');
      for (let i = 1; i < changes.length; i++) {
        assert.notEqual(changes[i]!.state, changes[i - 1]!.state, `line ${i} is a change`);
      }
      const count = (reason: string) => breaker.filter((l) => l.reason === reason).length;
      assert.ok(count('reset_elapsed') <= 1 && count('trial_failed') <= 1, 'only the first trial is logged');
      assert.ok(
        count('still_open') <= Math.ceil(Number(last.open_ms) / 10_000),
        `${count('still_open')} still open`,
      );
      assert.equal(
        Number(last.trials_failed) > 0,
        count('trial_failed') === 1,
        'the closing line counts failed trials',
      );
      for (const line of breaker.filter((l) => l.state === 'half_open')) assert.equal(line.level, WARN);
      for (const line of breaker.filter((l) => l.state === 'open').slice(1)) assert.equal(line.level, ERROR);
      assert.equal(breaker.filter((l) => l.reason === 'error_threshold').length, 1, 'opened once');
      assert.equal(breaker.filter((l) => l.state === 'closed').length, 1, 'closed once');
      assert.equal(logs.filter((l) => String(l.msg).startsWith('breaker of fraud/v2')).length, 0);

      // The pool: one line when its only endpoint left rotation, one when it came back.
      const pool = poolLines(logs);
      t.diagnostic(`pool lines: ${pool.map((l) => l.msg).join(' | ')}`);
      const emptied = pool.filter((l) => String(l.msg).includes('all out of rotation;'));
      const refilled = pool.filter((l) => String(l.msg).endsWith('back in rotation'));
      assert.equal(emptied.length, 1, 'one line when the pool emptied');
      assert.equal(refilled.length, 1, 'one line when it refilled');
      assert.equal(emptied[0]!.level, WARN);
      assert.deepEqual(emptied[0]!.endpoints, [`127.0.0.1:${port} unhealthy`]);
      assert.equal(refilled[0]!.level, INFO);
      assert.ok(
        Number(refilled[0]!.affected_total) > 0,
        'the recovery line counts the calls that found none',
      );
      assert.ok(pool.indexOf(emptied[0]!) < pool.indexOf(refilled[0]!));

      // The answers say what answered.
      const down = answers.filter((a) => a.phase === 'down');
      const decisions = down.filter((a) => a.endpoint === 'decision').map((a) => a.response);
      const tensors = down.filter((a) => a.endpoint === 'infer').map((a) => a.response);
      assert.ok(decisions.length > 10 && tensors.length > 10);
      const defaulted = decisions.filter((r) => r.headers['x-switchyard-fallback'] !== undefined);
      assert.ok(defaulted.length > 10, `${defaulted.length} default decisions while down`);
      for (const r of defaulted) {
        assert.equal(r.status, 200, r.text);
        assert.match(String(r.headers['x-switchyard-fallback']), /^default; reason=\w+$/);
        // No model answered: no variant or version says one did.
        assert.equal(r.headers['x-switchyard-variant'], undefined);
        assert.equal(r.headers['x-switchyard-model-version'], undefined);
        const body = r.body as { variant: unknown; model_version: unknown; fallback: { kind: string } };
        assert.deepEqual([body.variant, body.model_version, body.fallback.kind], [null, null, 'default']);
      }
      const failedTensors = tensors.filter((r) => r.status !== 200);
      assert.ok(failedTensors.length > 10, `${failedTensors.length} tensor requests failed while down`);
      for (const r of failedTensors) {
        // No fallback answered a tensor request: it gets the model path's own error.
        assert.equal(r.headers['x-switchyard-fallback'], undefined, r.text);
        assert.equal(r.headers['x-switchyard-variant'], undefined, r.text);
        assert.ok([502, 503, 504].includes(r.status), `${r.status} ${r.text}`);
        assert.match(String((r.body as { code?: string }).code ?? r.text), /SWY_ERR_(UPSTREAM|BUDGET)_/);
      }
      const answered = answers.filter(
        (a) => a.response.status === 200 && !a.response.headers['x-switchyard-fallback'],
      );
      for (const a of answered) assert.equal(a.response.headers['x-switchyard-variant'], 'v1');

      // The records and `log stats` say a default decision answered, not v1.
      // Default decisions go on after the runtime is back, until the breaker's trial succeeds.
      const allDefaulted = answers.filter(
        (a) => a.endpoint === 'decision' && a.response.headers['x-switchyard-fallback'] !== undefined,
      );
      const records = (await readJsonl(logPath)).filter((r) => r.kind === 'prediction');
      const defaults = records.filter((r) => (r.fallback as { kind?: string } | null)?.kind === 'default');
      assert.equal(defaults.length, allDefaulted.length, 'one record per default decision');
      for (const r of defaults) {
        assert.equal(r.variant, 'v1', 'the record keeps the assigned variant');
        const fallback = r.fallback as { variant: unknown; version: unknown };
        assert.deepEqual([fallback.variant, fallback.version], [null, null]);
      }
      assert.equal(
        records.filter((r) => r.endpoint === 'infer' && r.fallback !== null).length,
        0,
        'no tensor request is recorded as answered by a fallback',
      );
      const stats = await runCli(['log', 'stats', '--model', 'fraud', '--file', logPath, '--json']);
      assert.equal(stats.code, 0, stats.stderr);
      const fallbacks = (
        JSON.parse(stats.stdout) as { fallbacks: { kind: string; answered_by: string; count: number }[] }
      ).fallbacks;
      assert.ok(fallbacks.length > 0, stats.stdout);
      for (const f of fallbacks)
        assert.deepEqual([f.kind, f.answered_by], ['default', 'default'], stats.stdout);
      assert.equal(
        fallbacks.reduce((n, f) => n + f.count, 0),
        allDefaulted.length,
      );
    } finally {
      sending = false;
      await client.close();
      await gateway?.stop();
      if (runtime) assert.equal(await runtime.stop(), 0);
      await rm(logDir, { recursive: true, force: true });
    }
  },
);
