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
import { metricValue, scrape } from '../lib/net.js';
import type { Scenario } from '../lib/scenario.js';
import { gatewayOptions, numberList, numberSetting } from '../lib/settings.js';
import { median, ratio } from '../lib/stats.js';
import { startGateway, startRuntime, type Server } from '../lib/switchyard.js';
import { fmt, met, note, pct, printTable } from '../lib/table.js';

const TARGETS = { p99WithinFraction: 0.1, throughputWithinFraction: 0.15 };
const OUTCOMES = ['ok', 'error', 'dropped'] as const;
const EVERY_COPY = 'shadow 100%, no drops';
/** Far above the copies in flight at these rates (~7000 rps x ~25 ms): none is dropped. */
const EVERY_COPY_CAP = 4096;

interface ShadowRun extends Measurement {
  /** Mirrored calls by outcome over the run. */
  shadow: Record<(typeof OUTCOMES)[number], number>;
}

async function shadowTally(gateway: Server): Promise<Record<(typeof OUTCOMES)[number], number>> {
  const text = await scrape(gateway.url);
  const tally = { ok: 0, error: 0, dropped: 0 };
  for (const outcome of OUTCOMES)
    tally[outcome] = metricValue(text, 'switchyard_shadow_requests_total', { outcome });
  return tally;
}

/**
 * What mirroring costs the caller: two identical gateways in front of the same runtime, one with
 * the shadow at 0% and one at 100%; the shadow's upstream is a second runtime that answers 20 ms
 * late (--added-latency-ms), so copies stay in flight long after the caller's answer left.
 */
export const shadowCost: Scenario = {
  name: 'shadow-cost',
  async run({ settings }) {
    const addedLatencyMs = numberSetting('BENCH_SHADOW_LATENCY_MS', 20);
    const connectionsList = numberList('BENCH_SHADOW_CONNECTIONS', [32, 1]);
    const body = bodyFile('fraud-infer', fraudInferBody());
    const primary = await startRuntime();
    const slow = await startRuntime({ addedLatencyMs });
    const config = (percent: number, maxConcurrency?: number) =>
      fraudGatewayConfig({
        upstreams: { onnx: [primary.url], slow: [slow.url] },
        model: {
          shadows: [{ name: 'v3', upstream: 'slow', model: 'fraud', version: '3', percent }],
          ...(maxConcurrency === undefined ? {} : { shadow_max_concurrency: maxConcurrency }),
        },
      });
    const gateways = {
      'shadow 0%': await startGateway(config(0), gatewayOptions(settings)),
      'shadow 100%': await startGateway(config(100), gatewayOptions(settings)),
      // The default cap drops the copies beyond 64 in flight; this one mirrors every request.
      [EVERY_COPY]: await startGateway(config(100, EVERY_COPY_CAP), gatewayOptions(settings)),
    };
    const names = Object.keys(gateways) as (keyof typeof gateways)[];
    const target = (name: keyof typeof gateways): Target => ({
      name,
      url: `${gateways[name].url}/v2/models/fraud/infer`,
      bodyFile: body,
      headers: BENCH_AUTH,
      userHeader: 'x-user-id',
      pids: [gateways[name].pid],
    });
    for (const name of names) await checkTarget(target(name));

    const runOnce = async (
      name: keyof typeof gateways,
      connections: number,
      seconds: number,
    ): Promise<ShadowRun> => {
      const before = await shadowTally(gateways[name]);
      const result = await measure(target(name), connections, seconds);
      const after = await shadowTally(gateways[name]);
      return {
        ...result,
        shadow: {
          ok: after.ok - before.ok,
          error: after.error - before.error,
          dropped: after.dropped - before.dropped,
        },
      };
    };
    if (settings.warmupSeconds > 0) for (const name of names) await runOnce(name, 32, settings.warmupSeconds);

    const key = (name: string, connections: number) => `${name}@${connections}`;
    const steps = connectionsList.flatMap((connections) =>
      names.map((name) => ({
        key: key(name, connections),
        run: () => runOnce(name, connections, settings.seconds),
      })),
    );
    const runs = await interleaved(settings.repeats, steps, progress);
    const at = (name: string, connections: number) => runs.get(key(name, connections)) ?? [];

    const rows = connectionsList.flatMap((connections) =>
      names.map((name) => {
        const list = at(name, connections);
        const base = at('shadow 0%', connections);
        const sum = (pick: (m: ShadowRun) => number) => list.reduce((total, m) => total + pick(m), 0);
        return {
          gateway: name,
          connections,
          rps: median(list.map((m) => m.rps)),
          p50Ms: median(list.map((m) => m.p50Ms)),
          p99Ms: median(list.map((m) => m.p99Ms)),
          rpsVsOff: median(list.map((m, i) => ratio(m.rps, base[i]?.rps ?? NaN))),
          p99VsOff: median(list.map((m, i) => ratio(m.p99Ms, base[i]?.p99Ms ?? NaN))),
          cpuUsPerRequest: median(list.map((m) => m.cpuUsPerRequest[0]!)),
          mirroredOk: sum((m) => m.shadow.ok),
          mirroredError: sum((m) => m.shadow.error),
          dropped: sum((m) => m.shadow.dropped),
          failed: sum((m) => m.errors + m.non2xx),
        };
      }),
    );
    printTable(
      `shadow cost (medians of ${settings.repeats}; shadow upstream answers ${addedLatencyMs} ms late; ms)`,
      [
        'gateway',
        'conns',
        'rps',
        'x off',
        'p50',
        'p99',
        'x off',
        'cpu us/req',
        'mirrored ok',
        'err',
        'dropped',
        'failed',
      ],
      rows.map((r) => [
        r.gateway,
        r.connections,
        fmt(r.rps, 0),
        fmt(r.rpsVsOff),
        fmt(r.p50Ms, 3),
        fmt(r.p99Ms, 3),
        fmt(r.p99VsOff),
        fmt(r.cpuUsPerRequest, 0),
        r.mirroredOk,
        r.mirroredError,
        r.dropped,
        r.failed,
      ]),
    );
    note(
      `mirrored/dropped: switchyard_shadow_requests_total over the measured runs; copies beyond shadow_max_concurrency (64 by default, ${EVERY_COPY_CAP} for "${EVERY_COPY}") are dropped by design.`,
    );

    const most = Math.max(...connectionsList);
    const checks = ['shadow 100%', EVERY_COPY].flatMap((name) => {
      const on = rows.find((r) => r.gateway === name && r.connections === most);
      if (!on) return [];
      return [
        [
          `${name}: caller p99 change`,
          pct(on.p99VsOff - 1),
          `within +${pct(TARGETS.p99WithinFraction)}`,
          met(on.p99VsOff - 1 <= TARGETS.p99WithinFraction),
        ],
        [
          `${name}: throughput change`,
          pct(on.rpsVsOff - 1),
          `within -${pct(TARGETS.throughputWithinFraction)}`,
          met(1 - on.rpsVsOff <= TARGETS.throughputWithinFraction),
        ],
      ];
    });
    printTable(
      `targets at ${most} connections, shadow 100% vs 0% (issue 9)`,
      ['figure', 'measured', 'target', 'met'],
      checks,
    );
    return { targets: TARGETS, addedLatencyMs, rows, runs: Object.fromEntries(runs) };
  },
};
