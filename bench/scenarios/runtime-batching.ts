import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bodyFile, fraudInferBody, textdirInferBody } from '../lib/bodies.js';
import {
  checkTarget,
  interleaved,
  measure,
  progress,
  type Measurement,
  type Target,
} from '../lib/measure.js';
import { metricValue, postJson, scrape } from '../lib/net.js';
import { repositoryWithoutBatching } from '../lib/repository.js';
import type { Scenario } from '../lib/scenario.js';
import { sessionLoop, type SessionLoopResult } from '../lib/session-loop.js';
import { numberList } from '../lib/settings.js';
import { median, ratio } from '../lib/stats.js';
import { listeningUrl, PROJECT_ROOT, startLogged, startRuntime, type Server } from '../lib/switchyard.js';
import { fmt, met, note, pct, printTable } from '../lib/table.js';
import { freshDir } from '../lib/workdir.js';

const TARGETS = { shareOfHttpCeiling: 0.8, speedupOverNoBatching: 1.3 };
const MODELS = ['fraud', 'textdir'] as const;
type Model = (typeof MODELS)[number];

interface BatchingRun extends Measurement {
  /** Mean rows per session.run over the run, from the runtime's batch-size histogram. */
  meanBatch?: number;
}

/** Rows per session.run so far, as {sum, count} of the runtime's histogram for version 1. */
async function batchTally(runtime: Server, model: Model): Promise<{ sum: number; count: number }> {
  const text = await scrape(runtime.url);
  const labels = { model, version: '1' };
  return {
    sum: metricValue(text, 'switchyard_runtime_batch_size_sum', labels),
    count: metricValue(text, 'switchyard_runtime_batch_size_count', labels),
  };
}

/** A plain node:http server answering each model's canned runtime answer (the HTTP ceiling). */
async function startHttpCeiling(answers: Record<Model, string>): Promise<Server> {
  const dir = freshDir('http-ceiling-answers');
  for (const model of MODELS) writeFileSync(join(dir, `${model}.json`), answers[model]);
  return startLogged(
    'http-ceiling',
    process.execPath,
    ['--import', 'tsx', join('bench', 'lib', 'http-ceiling-server.ts'), dir, ...MODELS],
    (log) => listeningUrl(log, 'http-ceiling'),
    // From the project, where --import finds tsx.
    { cwd: PROJECT_ROOT },
  );
}

/**
 * The runtime alone: batching on and off at 1, 8 and 64 concurrent clients for fraud (tiny
 * compute) and textdir (a real CNN), against two ceilings: a plain node:http server with the same
 * request and response sizes, and session.run in a loop in-process.
 */
export const runtimeBatching: Scenario = {
  name: 'runtime-batching',
  async run({ settings }) {
    const clients = numberList('BENCH_BATCHING_CLIENTS', [1, 8, 64]);
    const bodies: Record<Model, string> = {
      fraud: bodyFile('fraud-infer', fraudInferBody()),
      textdir: bodyFile('textdir-infer', textdirInferBody()),
    };
    const on = await startRuntime();
    const off = await startRuntime({ repository: await repositoryWithoutBatching(MODELS) });
    const path = (model: Model) => `/v2/models/${model}/versions/1/infer`;

    // The ceiling answers exactly what the runtime answered for the same request.
    const answers = {} as Record<Model, string>;
    for (const model of MODELS) {
      const answer = await postJson(
        `${on.url}${path(model)}`,
        readFileSync(bodies[model], 'utf8'),
        {},
        30_000,
      );
      if (answer.status !== 200)
        throw new Error(`${model}: the runtime answered ${answer.status}: ${answer.text}`);
      answers[model] = answer.text;
    }
    const ceiling = await startHttpCeiling(answers);

    const servers = { on, off, ceiling } as const;
    type Config = keyof typeof servers;
    const configs: Config[] = ['on', 'off', 'ceiling'];
    const target = (model: Model, config: Config): Target => ({
      name: `${model} ${config}`,
      url: `${servers[config].url}${path(model)}`,
      bodyFile: bodies[model],
      pids: [servers[config].pid],
      timeoutSeconds: model === 'textdir' ? 15 : 5,
    });
    for (const model of MODELS) for (const config of configs) await checkTarget(target(model, config));

    const runOnce = async (
      model: Model,
      config: Config,
      connections: number,
      seconds: number,
    ): Promise<BatchingRun> => {
      if (config === 'ceiling') return measure(target(model, config), connections, seconds);
      const before = await batchTally(servers[config], model);
      const result = await measure(target(model, config), connections, seconds);
      const after = await batchTally(servers[config], model);
      return { ...result, meanBatch: ratio(after.sum - before.sum, after.count - before.count) };
    };

    if (settings.warmupSeconds > 0)
      for (const model of MODELS)
        for (const config of configs) await runOnce(model, config, 8, settings.warmupSeconds);

    const key = (model: Model, config: Config, connections: number) => `${model} ${config}@${connections}`;
    const steps = MODELS.flatMap((model) =>
      clients.flatMap((connections) =>
        configs.map((config) => ({
          key: key(model, config, connections),
          run: () => runOnce(model, config, connections, settings.seconds),
        })),
      ),
    );
    const runs = await interleaved(settings.repeats, steps, progress);
    const at = (model: Model, config: Config, connections: number): BatchingRun[] =>
      runs.get(key(model, config, connections)) ?? [];

    const rows = MODELS.flatMap((model) =>
      configs.flatMap((config) =>
        clients.map((connections) => {
          const list = at(model, config, connections);
          return {
            model,
            config,
            connections,
            rps: median(list.map((m) => m.rps)),
            p50Ms: median(list.map((m) => m.p50Ms)),
            p99Ms: median(list.map((m) => m.p99Ms)),
            meanBatch: median(list.map((m) => m.meanBatch ?? NaN)),
            cpuUsPerRequest: median(list.map((m) => m.cpuUsPerRequest[0]!)),
            failed: list.reduce((sum, m) => sum + m.errors + m.non2xx, 0),
          };
        }),
      ),
    );
    const label: Record<Config, string> = { on: 'batching on', off: 'batching off', ceiling: 'HTTP ceiling' };
    printTable(
      `runtime over HTTP (medians of ${settings.repeats}; one row per request; ms)`,
      ['model', 'server', 'clients', 'rps', 'p50', 'p99', 'rows/run', 'cpu us/req', 'failed'],
      rows.map((r) => [
        r.model,
        label[r.config],
        r.connections,
        fmt(r.rps, 0),
        fmt(r.p50Ms, 3),
        fmt(r.p99Ms, 3),
        fmt(r.meanBatch, 1),
        fmt(r.cpuUsPerRequest, 0),
        r.failed,
      ]),
    );
    note(
      "rows/run: mean rows per session.run from the runtime's batch-size histogram (1 when batching is off).",
    );

    // In-process ceilings: batch 1, and the batch size batching reached at the most clients.
    const most = Math.max(...clients);
    const loops: SessionLoopResult[] = [];
    for (const model of MODELS) {
      const reached = Math.max(
        1,
        Math.round(median(at(model, 'on', most).map((m) => m.meanBatch ?? NaN)) || 1),
      );
      const sizes = reached > 1 ? [1, reached] : [1];
      for (const batch of sizes) {
        const repeats: SessionLoopResult[] = [];
        for (let r = 0; r < settings.repeats; r++)
          repeats.push(await sessionLoop(model, batch, settings.seconds));
        const best = {
          ...repeats[0]!,
          runsPerSecond: median(repeats.map((x) => x.runsPerSecond)),
          rowsPerSecond: median(repeats.map((x) => x.rowsPerSecond)),
          p50Ms: median(repeats.map((x) => x.p50Ms)),
          p99Ms: median(repeats.map((x) => x.p99Ms)),
        };
        loops.push(best);
      }
    }
    printTable(
      'in-process session.run loop, one call at a time, no HTTP (medians; ms per call)',
      ['model', 'batch', 'runs/s', 'rows/s', 'p50', 'p99'],
      loops.map((l) => [
        l.model,
        l.batch,
        fmt(l.runsPerSecond, 0),
        fmt(l.rowsPerSecond, 0),
        fmt(l.p50Ms, 3),
        fmt(l.p99Ms, 3),
      ]),
    );

    const perRepeat = (model: Model, a: Config, b: Config) =>
      median(at(model, a, most).map((m, i) => ratio(m.rps, at(model, b, most)[i]?.rps ?? NaN)));
    const checks = MODELS.map((model) => ({
      model,
      shareOfCeiling: perRepeat(model, 'on', 'ceiling'),
      speedup: perRepeat(model, 'on', 'off'),
    }));
    printTable(
      `targets at ${most} clients (issue 9: fraud; textdir for information)`,
      ['model', 'figure', 'measured', 'target', 'met'],
      checks.flatMap((c) => [
        [
          c.model,
          'batching on vs HTTP ceiling (rps)',
          pct(c.shareOfCeiling),
          `>= ${pct(TARGETS.shareOfHttpCeiling)}`,
          c.model === 'fraud' ? met(c.shareOfCeiling >= TARGETS.shareOfHttpCeiling) : '-',
        ],
        [
          c.model,
          'batching on vs off (rps)',
          `${fmt(c.speedup)}x`,
          `>= ${TARGETS.speedupOverNoBatching}x`,
          c.model === 'fraud' ? met(c.speedup >= TARGETS.speedupOverNoBatching) : '-',
        ],
      ]),
    );
    return { targets: TARGETS, clients, rows, sessionLoops: loops, checks, runs: Object.fromEntries(runs) };
  },
};
