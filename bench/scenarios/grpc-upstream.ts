import { readFileSync } from 'node:fs';
import { bodyFile, fraudDecisionBody } from '../lib/bodies.js';
import { BENCH_AUTH, fraudGatewayConfig } from '../lib/gateway-config.js';
import { checkTarget, interleaved, measure, progress, type Target } from '../lib/measure.js';
import type { Scenario } from '../lib/scenario.js';
import { gatewayOptions, numberList } from '../lib/settings.js';
import { median, ratio } from '../lib/stats.js';
import { startCli, startGateway, type Server } from '../lib/switchyard.js';
import { DEMO_REPOSITORY } from '../lib/switchyard.js';
import { httpStatus, waitUntil } from '../lib/net.js';
import { fmt, note, printTable } from '../lib/table.js';
import { printProfile, summarizeProfile } from '../lib/profile.js';
import { workDir } from '../lib/workdir.js';

const POOLS = ['http', 'grpc'] as const;
type PoolProtocol = (typeof POOLS)[number];

/** A runtime with its gRPC listener too (`--grpc-port 0`), and the port its log line gives. */
async function startGrpcRuntime(): Promise<{ runtime: Server; grpcPort: number }> {
  const runtime = await startCli('runtime', [
    ...['--repository', DEMO_REPOSITORY, '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0'],
    ...['--grace-ms', '2000', '--log-level', 'info'],
  ]);
  await waitUntil(
    'runtime ready',
    async () => (await httpStatus(`${runtime.url}/v2/health/ready`)) === 200,
    60_000,
  );
  for (const text of readFileSync(runtime.logFile, 'utf8').split('\n')) {
    if (!text.includes('grpc_port')) continue;
    const line = JSON.parse(text) as { msg?: string; grpc_port?: number };
    if (line.msg === 'switchyard listening' && typeof line.grpc_port === 'number') {
      return { runtime, grpcPort: line.grpc_port };
    }
  }
  throw new Error('the runtime logged no gRPC port');
}

/**
 * Issue 21's cost: the same gateway config and the same runtime, the fraud pool's endpoint given
 * as http:// (REST, undici) in one gateway and as grpc:// (inference.GRPCInferenceService over
 * grpc-js) in the other, decisions sent to both in turn, run by run (A B A B …): requests per
 * second, latency, and each gateway's CPU per request (its process tree, from /proc), paired per
 * repeat as grpc / http. The runtime's CPU per request is in the table too: it decodes protobuf
 * instead of JSON.
 */
export const grpcUpstream: Scenario = {
  name: 'grpc-upstream',
  async run({ settings }) {
    const connectionsList = numberList('BENCH_POOL_CONNECTIONS', [16]);
    const { runtime, grpcPort } = await startGrpcRuntime();
    const endpoint: Record<PoolProtocol, string> = {
      http: runtime.url,
      grpc: `grpc://127.0.0.1:${grpcPort}`,
    };
    // BENCH_CPU_PROF=1: the grpc pool's gateway runs under --cpu-prof (a profile makes it slower).
    const profileDir = process.env.BENCH_CPU_PROF === '1' ? workDir('profile') : undefined;
    const gateways = {} as Record<PoolProtocol, Server>;
    for (const pool of POOLS) {
      gateways[pool] = await startGateway(fraudGatewayConfig({ upstreams: { onnx: [endpoint[pool]] } }), {
        ...gatewayOptions(settings),
        ...(profileDir && pool === 'grpc' ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {}),
      });
    }
    const body = bodyFile('fraud-decision', fraudDecisionBody());
    const target = (pool: PoolProtocol): Target => ({
      name: pool,
      url: `${gateways[pool].url}/v1/decisions/fraud`,
      bodyFile: body,
      headers: BENCH_AUTH,
      userHeader: 'x-user-id',
      pids: [gateways[pool].pid, runtime.pid],
    });
    for (const pool of POOLS) await checkTarget(target(pool));

    if (settings.warmupSeconds > 0) {
      for (const pool of POOLS) await measure(target(pool), connectionsList[0]!, settings.warmupSeconds);
    }
    const key = (pool: PoolProtocol, connections: number) => `${pool}@${connections}`;
    const runs = await interleaved(
      settings.repeats,
      connectionsList.flatMap((connections) =>
        POOLS.map((pool) => ({
          key: key(pool, connections),
          run: () => measure(target(pool), connections, settings.seconds),
        })),
      ),
      progress,
    );

    const table = connectionsList.flatMap((connections) =>
      POOLS.map((pool) => {
        const list = runs.get(key(pool, connections)) ?? [];
        const http = runs.get(key('http', connections)) ?? [];
        return {
          pool,
          connections,
          rps: median(list.map((m) => m.rps)),
          rpsVsHttp: median(list.map((m, i) => ratio(m.rps, http[i]?.rps ?? NaN))),
          p50Ms: median(list.map((m) => m.p50Ms)),
          p99Ms: median(list.map((m) => m.p99Ms)),
          gatewayCpuUs: median(list.map((m) => m.cpuUsPerRequest[0]!)),
          gatewayCpuVsHttp: median(
            list.map((m, i) => ratio(m.cpuUsPerRequest[0]!, http[i]?.cpuUsPerRequest[0] ?? NaN)),
          ),
          runtimeCpuUs: median(list.map((m) => m.cpuUsPerRequest[1]!)),
          failed: list.reduce((total, m) => total + m.errors + m.non2xx, 0),
        };
      }),
    );
    printTable(
      `fraud decisions through an http:// pool and a grpc:// pool (medians of ${settings.repeats} interleaved runs; x http paired per repeat)`,
      [
        'pool',
        'conns',
        'rps',
        'x http',
        'p50 ms',
        'p99 ms',
        'gw cpu us/req',
        'x http',
        'rt cpu us/req',
        'failed',
      ],
      table.map((r) => [
        r.pool,
        r.connections,
        fmt(r.rps, 0),
        fmt(r.rpsVsHttp),
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        fmt(r.gatewayCpuUs, 0),
        fmt(r.gatewayCpuVsHttp),
        fmt(r.runtimeCpuUs, 0),
        r.failed,
      ]),
    );
    note('CPU from /proc utime+stime of each process tree over the run; one runtime serves both gateways.');
    if (profileDir) {
      await gateways.grpc.stop(); // the profile is written when the gateway exits
      printProfile(summarizeProfile(profileDir), "the grpc pool's gateway");
    }
    return { endpoints: endpoint, table, runs: Object.fromEntries(runs) };
  },
};
