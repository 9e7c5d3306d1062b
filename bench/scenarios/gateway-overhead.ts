import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bodyFile, fraudInferBody } from '../lib/bodies.js';
import { BENCH_AUTH, fraudGatewayConfig } from '../lib/gateway-config.js';
import {
  checkTarget,
  interleaved,
  measure,
  progress,
  type Measurement,
  type Target,
} from '../lib/measure.js';
import { predictionLogTally, type PredictionLogTally } from '../lib/net.js';
import { printProfile, summarizeProfile } from '../lib/profile.js';
import { startHaproxy, startNginx } from '../lib/proxies.js';
import { startRedis } from '../lib/redis.js';
import { RESULTS_DIR } from '../lib/results.js';
import type { Scenario } from '../lib/scenario.js';
import { gatewayOptions } from '../lib/settings.js';
import { median, ratio } from '../lib/stats.js';
import {
  listeningUrl,
  PROJECT_ROOT,
  startGateway,
  startLogged,
  startRuntime,
  type Server,
} from '../lib/switchyard.js';
import { fmt, met, note, pct, printTable } from '../lib/table.js';
import { ToolMissingError } from '../lib/tools.js';
import { workDir } from '../lib/workdir.js';

/** v1's users split with a candidate (the same model) at a step that never passes: a running rollout. */
const ROLLOUT_MODEL = {
  variants: [
    { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 50 },
    { name: 'v2', upstream: 'onnx', model: 'fraud', version: '2', weight: 50 },
    { name: 'v1c', upstream: 'onnx', model: 'fraud', version: '1', weight: 0 },
  ],
  rollout: {
    candidate: 'v1c',
    baseline: 'v1',
    steps: [50],
    interval_s: 1,
    min_samples: 1_000_000_000,
    mirror_percent: 0,
    criteria: {
      error_rate: { max_increase: 0.01 },
      latency_p99: { max_ratio: 1.5 },
      fallback_rate: { max_increase: 0.01 },
      drift_psi: { max: 0.2 },
      decision_rate: { decision: 'decline', max_change: 0.02 },
    },
  },
};

const TARGETS = { throughputShare: 0.6, addedP50Ms: 0.4, addedP99Ms: 1.5, cpuUsPerRequest: 150 };
const CONNECTIONS = [32, 1] as const;

/** The Node floor (bench/lib/node-floor-proxy.ts) in front of `upstream`. */
function startNodeFloor(upstream: string): Promise<Server> {
  return startLogged(
    'node-floor',
    process.execPath,
    ['--import', 'tsx', join('bench', 'lib', 'node-floor-proxy.ts'), upstream],
    (log) => listeningUrl(log, 'node-floor'),
    { cwd: PROJECT_ROOT }, // from the project, where --import finds tsx
  );
}

/** Starts an optional comparison server; a missing program skips it with the reason said. */
async function optional(name: string, start: () => Promise<Server>): Promise<Server | undefined> {
  try {
    return await start();
  } catch (error) {
    if (!(error instanceof ToolMissingError)) throw error;
    process.stdout.write(`  SKIPPED ${name}: ${error.message}\n`);
    return undefined;
  }
}

interface Row {
  target: string;
  rps32: number;
  rpsVsNginx: number;
  p50At1: number;
  p99At1: number;
  p50At32: number;
  p99At32: number;
  p50At1VsNginx: number;
  p99At1VsNginx: number;
  p50At32VsNginx: number;
  p99At32VsNginx: number;
  cpuUsPerRequest: number;
  extraCpuUsPerRequest?: number;
  addedP50At1: number;
  addedP99At1: number;
  failed: number;
}

/**
 * The same runtime reached directly, through nginx, HAProxy, switchyard (memory state) and
 * switchyard (Redis state): throughput at 32 connections, p50/p99 at 1 and 32, each against nginx
 * in the same repeat, and the gateway's CPU time per request.
 */
export const gatewayOverhead: Scenario = {
  name: 'gateway-overhead',
  async run({ settings, machine }) {
    const body = bodyFile('fraud-infer', fraudInferBody());
    const runtime = await startRuntime();
    const nginx = await optional('nginx', () => startNginx(runtime.url));
    const haproxy = await optional('haproxy', () => startHaproxy(runtime.url));
    const floor = await startNodeFloor(runtime.url);

    const profileDir = process.env.BENCH_CPU_PROF === '1' ? workDir('profile') : undefined;
    const gateway = await startGateway(fraudGatewayConfig({ upstreams: { onnx: [runtime.url] } }), {
      ...gatewayOptions(settings),
      nodeArgs: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
    });
    // BENCH_BASELINE: another checkout, built, whose gateway runs beside this one on the same
    // runtime, interleaved with it: a paired before/after of a change.
    const baselineCli = process.env.BENCH_BASELINE
      ? join(resolve(process.env.BENCH_BASELINE), 'dist', 'src', 'cli', 'main.js')
      : undefined;
    const baseline = baselineCli
      ? await startGateway(fraudGatewayConfig({ upstreams: { onnx: [runtime.url] } }), {
          ...gatewayOptions(settings),
          cli: baselineCli,
        })
      : undefined;
    // The same gateway with a rollout running (a canary step that never ends: evidence is
    // collected and judged every second, nothing mirrored): what the evidence costs a request.
    const gatewayRollout = await startGateway(
      fraudGatewayConfig({ upstreams: { onnx: [runtime.url] }, model: { ...ROLLOUT_MODEL } }),
      gatewayOptions(settings),
    );
    const redis = await optional('redis-server', () => startRedis());
    const gatewayRedis = redis
      ? await startGateway(
          fraudGatewayConfig({ upstreams: { onnx: [runtime.url] }, redisUrl: redis.url }),
          gatewayOptions(settings),
        )
      : undefined;

    // Every target gets the same request bytes apart from the path: the key and a user id that
    // changes per request (the runtime and the proxies ignore both).
    const common = { bodyFile: body, headers: BENCH_AUTH, userHeader: 'x-user-id' };
    const runtimePath = '/v2/models/fraud/versions/1/infer';
    const targets: Target[] = [
      { name: 'direct', url: `${runtime.url}${runtimePath}`, pids: [runtime.pid], ...common },
      ...(nginx ? [{ name: 'nginx', url: `${nginx.url}${runtimePath}`, pids: [nginx.pid], ...common }] : []),
      ...(haproxy
        ? [{ name: 'haproxy', url: `${haproxy.url}${runtimePath}`, pids: [haproxy.pid], ...common }]
        : []),
      { name: 'node-floor', url: `${floor.url}${runtimePath}`, pids: [floor.pid], ...common },
      { name: 'switchyard', url: `${gateway.url}/v2/models/fraud/infer`, pids: [gateway.pid], ...common },
      {
        name: 'switchyard+rollout',
        url: `${gatewayRollout.url}/v2/models/fraud/infer`,
        pids: [gatewayRollout.pid],
        ...common,
      },
      ...(baseline
        ? [
            {
              name: 'switchyard@baseline',
              url: `${baseline.url}/v2/models/fraud/infer`,
              pids: [baseline.pid],
              ...common,
            },
          ]
        : []),
      ...(gatewayRedis && redis
        ? [
            {
              name: 'switchyard+redis',
              url: `${gatewayRedis.url}/v2/models/fraud/infer`,
              pids: [gatewayRedis.pid, redis.pid],
              ...common,
            },
          ]
        : []),
    ];
    for (const target of targets) {
      const headers = await checkTarget(target);
      if (target.name === 'switchyard')
        note(`switchyard answer: server-timing: ${headers.get('server-timing')}`);
    }

    if (settings.warmupSeconds > 0)
      for (const target of targets) await measure(target, 32, settings.warmupSeconds);

    const steps = CONNECTIONS.flatMap((connections) =>
      targets.map((target) => ({
        key: `${target.name}@${connections}`,
        run: () => measure(target, connections, settings.seconds),
      })),
    );
    // The gateways' prediction-log counters over the measured runs show it was on and kept up.
    const gateways = [
      { name: 'switchyard', server: gateway },
      { name: 'switchyard+rollout', server: gatewayRollout },
      ...(baseline ? [{ name: 'switchyard@baseline', server: baseline }] : []),
      ...(gatewayRedis ? [{ name: 'switchyard+redis', server: gatewayRedis }] : []),
    ];
    const tallies = async () => Promise.all(gateways.map(({ server }) => predictionLogTally(server.url)));
    const logBefore = await tallies();
    const runs = await interleaved(settings.repeats, steps, progress);
    await sleep(300); // the log writes in batches at least every 50 ms
    const logAfter = await tallies();
    const predictionLog: Record<string, PredictionLogTally & { answered: number }> = Object.fromEntries(
      gateways.map(({ name }, i) => [
        name,
        {
          stored: logAfter[i]!.stored - logBefore[i]!.stored,
          spilled: logAfter[i]!.spilled - logBefore[i]!.spilled,
          lost: logAfter[i]!.lost - logBefore[i]!.lost,
          answered: [...(runs.get(`${name}@32`) ?? []), ...(runs.get(`${name}@1`) ?? [])].reduce(
            (sum, m) => sum + m.requests,
            0,
          ),
        },
      ]),
    );

    const at = (name: string, connections: number): Measurement[] => runs.get(`${name}@${connections}`) ?? [];
    // Ratios and differences are taken within each repeat (same minute, same machine state), then
    // the median over repeats is reported.
    const perRepeat = (
      name: string,
      other: string,
      connections: number,
      pick: (m: Measurement) => number,
      op: (a: number, b: number) => number,
    ) =>
      median(
        at(name, connections).map((m, i) => {
          const base = at(other, connections)[i];
          return base ? op(pick(m), pick(base)) : NaN;
        }),
      );
    const diff = (a: number, b: number) => a - b;

    const rows: Row[] = targets.map(({ name }) => ({
      target: name,
      rps32: median(at(name, 32).map((m) => m.rps)),
      rpsVsNginx: perRepeat(name, 'nginx', 32, (m) => m.rps, ratio),
      p50At1: median(at(name, 1).map((m) => m.p50Ms)),
      p99At1: median(at(name, 1).map((m) => m.p99Ms)),
      p50At32: median(at(name, 32).map((m) => m.p50Ms)),
      p99At32: median(at(name, 32).map((m) => m.p99Ms)),
      p50At1VsNginx: perRepeat(name, 'nginx', 1, (m) => m.p50Ms, ratio),
      p99At1VsNginx: perRepeat(name, 'nginx', 1, (m) => m.p99Ms, ratio),
      p50At32VsNginx: perRepeat(name, 'nginx', 32, (m) => m.p50Ms, ratio),
      p99At32VsNginx: perRepeat(name, 'nginx', 32, (m) => m.p99Ms, ratio),
      cpuUsPerRequest: median(at(name, 32).map((m) => m.cpuUsPerRequest[0]!)),
      ...(name === 'switchyard+redis'
        ? { extraCpuUsPerRequest: median(at(name, 32).map((m) => m.cpuUsPerRequest[1]!)) }
        : {}),
      addedP50At1: perRepeat(name, 'direct', 1, (m) => m.p50Ms, diff),
      addedP99At1: perRepeat(name, 'direct', 1, (m) => m.p99Ms, diff),
      failed: [...at(name, 32), ...at(name, 1)].reduce((sum, m) => sum + m.errors + m.non2xx, 0),
    }));

    printTable(
      `gateway overhead (medians of ${settings.repeats}; "x nginx" = ratio to nginx in the same repeat; ms)`,
      [
        'target',
        'rps@32',
        'x nginx',
        'p50@1',
        'x nginx',
        'p99@1',
        'x nginx',
        'p50@32',
        'x nginx',
        'p99@32',
        'x nginx',
        'cpu us/req',
        'failed',
      ],
      rows.map((r) => [
        r.target,
        fmt(r.rps32, 0),
        fmt(r.rpsVsNginx),
        fmt(r.p50At1, 3),
        fmt(r.p50At1VsNginx),
        fmt(r.p99At1, 3),
        fmt(r.p99At1VsNginx),
        fmt(r.p50At32, 3),
        fmt(r.p50At32VsNginx),
        fmt(r.p99At32, 3),
        fmt(r.p99At32VsNginx),
        fmt(r.cpuUsPerRequest, 0),
        r.failed,
      ]),
    );
    note(
      'cpu us/req: the process tree of the target (direct: the runtime itself) over the 32-connection runs.',
    );
    note(
      settings.predictionLog
        ? `prediction log on (file in the temp dir; a Redis stream with Redis state), records over the runs: ${Object.entries(
            predictionLog,
          )
            .map(
              ([name, t]) =>
                `${name} ${t.stored} stored (${t.spilled} spilled to the file), ${t.lost} lost, for ${t.answered} answers`,
            )
            .join('; ')}`
        : 'prediction log off (BENCH_PREDICTION_LOG=off): production has it on.',
    );
    note(
      'node-floor: node:http in, undici dispatch out, bytes passed through (bench/lib/node-floor-proxy.ts): no gateway feature, what Node itself costs.',
    );
    const redisRow = rows.find((r) => r.target === 'switchyard+redis');
    if (redisRow)
      note(
        `switchyard+redis: redis-server used ${fmt(redisRow.extraCpuUsPerRequest, 0)} us/req besides the gateway.`,
      );
    printTable(
      'added over direct at 1 connection (median of the per-repeat differences; ms)',
      ['target', '+p50', '+p99'],
      rows
        .filter((r) => r.target !== 'direct')
        .map((r) => [r.target, fmt(r.addedP50At1, 3), fmt(r.addedP99At1, 3)]),
    );

    note(
      `switchyard+rollout: a rollout collecting evidence on every request, judged every second; against switchyard in the same repeat: ${fmt(
        perRepeat('switchyard+rollout', 'switchyard', 32, (m) => m.cpuUsPerRequest[0]!, diff),
        1,
      )} us/req of gateway CPU, ${fmt(
        perRepeat('switchyard+rollout', 'switchyard', 32, (m) => m.rps, ratio),
        3,
      )} x rps @32`,
    );
    if (baseline) {
      // Within each repeat (the two gateways ran back to back), then the median over repeats.
      const vs = (
        connections: number,
        pick: (m: Measurement) => number,
        op: (a: number, b: number) => number,
      ) => perRepeat('switchyard', 'switchyard@baseline', connections, pick, op);
      printTable(
        `switchyard against switchyard@baseline (${process.env.BENCH_BASELINE}); medians of per-repeat figures`,
        ['figure', 'this / baseline', 'this - baseline'],
        (
          [
            ['rps @32', 32, (m: Measurement) => m.rps, 0],
            ['cpu us/req @32', 32, (m: Measurement) => m.cpuUsPerRequest[0]!, 1],
            ['p50 @1 (ms)', 1, (m: Measurement) => m.p50Ms, 3],
            ['p99 @1 (ms)', 1, (m: Measurement) => m.p99Ms, 3],
          ] as const
        ).map(([figure, connections, pick, digits]) => [
          figure,
          fmt(vs(connections, pick, ratio), 3),
          fmt(vs(connections, pick, diff), digits),
        ]),
      );
    }

    const checks = rows
      .filter((r) => r.target.startsWith('switchyard'))
      .flatMap((r) => [
        [
          r.target,
          'throughput @32 vs nginx',
          pct(r.rpsVsNginx),
          `>= ${pct(TARGETS.throughputShare)}`,
          met(Number.isFinite(r.rpsVsNginx) ? r.rpsVsNginx >= TARGETS.throughputShare : undefined),
        ],
        [
          r.target,
          'added p50 @1 vs direct (ms)',
          fmt(r.addedP50At1, 3),
          `<= ${TARGETS.addedP50Ms}`,
          met(r.addedP50At1 <= TARGETS.addedP50Ms),
        ],
        [
          r.target,
          'added p99 @1 vs direct (ms)',
          fmt(r.addedP99At1, 3),
          `<= ${TARGETS.addedP99Ms}`,
          met(r.addedP99At1 <= TARGETS.addedP99Ms),
        ],
        [
          r.target,
          'gateway CPU per request (us)',
          fmt(r.cpuUsPerRequest, 0),
          `<= ${TARGETS.cpuUsPerRequest}`,
          met(r.cpuUsPerRequest <= TARGETS.cpuUsPerRequest),
        ],
      ]);
    printTable(
      'targets (issue 9; they apply to switchyard with memory state, the Redis row is for information)',
      ['target', 'figure', 'measured', 'target', 'met'],
      checks,
    );

    let profile;
    if (profileDir) {
      // The profile is written when the gateway exits.
      await gateway.stop();
      profile = summarizeProfile(profileDir);
      // Kept beside the results (and ignored by git like them); DevTools opens it as a .cpuprofile.
      const kept = join(
        RESULTS_DIR,
        `gateway-overhead-${machine.date.replace(/[:.]/g, '-')}.cpuprofile.json`,
      );
      copyFileSync(profile.file, kept);
      profile.file = kept;
      printProfile(profile, 'gateway CPU profile');
    }

    return { targets: TARGETS, rows, predictionLog, runs: Object.fromEntries(runs), profile };
  },
};
