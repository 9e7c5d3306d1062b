import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEXTDIR_SHAPE, bodyFile } from '../lib/bodies.js';
import { BENCH_AUTH, UNLIMITED, benchTenant } from '../lib/gateway-config.js';
import { interleaved, measure, progress, type Target } from '../lib/measure.js';
import type { Scenario } from '../lib/scenario.js';
import { gatewayOptions, numberList, numberSetting } from '../lib/settings.js';
import { median, ratio } from '../lib/stats.js';
import { startGateway, startRuntime } from '../lib/switchyard.js';
import { fmt, note, printTable } from '../lib/table.js';
import { workDir } from '../lib/workdir.js';

const FORMS = ['json', 'binary'] as const;
type Form = (typeof FORMS)[number];

/**
 * textdir's pixels (-1..1, six decimals, as a client sends them after preprocessing) for `rows`
 * images, the same values in both forms: JSON numbers, or Float32 bytes after a JSON header (the
 * binary tensor extension, triton-inference-server/server docs/protocol/extension_binary_data.md).
 */
function textdirBodies(rows: number): { json: string; binary: Buffer; headerLength: number } {
  const shape = [rows, ...TEXTDIR_SHAPE.slice(1)];
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Array<number>(count);
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    data[i] = Math.round(((state / 2147483648) * 2 - 1) * 1e6) / 1e6;
  }
  const json = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape, data }] });
  const bytes = Buffer.alloc(count * 4);
  for (let i = 0; i < count; i++) bytes.writeFloatLE(data[i]!, i * 4);
  const head = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape, parameters: { binary_data_size: bytes.length } }],
    }),
  );
  return { json, binary: Buffer.concat([head, bytes]), headerLength: head.length };
}

/**
 * The textdir model (input x FP32 [N,3,48,192], 110 KB of floats an image) through one gateway
 * and one runtime, the same images sent as JSON and as binary tensors, interleaved run by run:
 * rows per second, and the gateway's and the runtime's CPU per row (every thread, from /proc).
 */
export const binaryTensors: Scenario = {
  name: 'binary-tensors',
  async run({ settings }) {
    const rows = Math.round(numberSetting('BENCH_BINARY_ROWS', 1, 1));
    const connectionsList = numberList('BENCH_BINARY_CONNECTIONS', [4]);
    const bodies = textdirBodies(rows);
    const files: Record<Form, string> = {
      json: bodyFile(`textdir-${rows}-json`, bodies.json),
      binary: join(workDir('bodies'), `textdir-${rows}.bin`),
    };
    writeFileSync(files.binary, bodies.binary);

    const runtime = await startRuntime();
    const gateway = await startGateway(
      {
        listen: { host: '127.0.0.1', port: 0 },
        tenants: [benchTenant(UNLIMITED)],
        upstreams: { onnx: { endpoints: [runtime.url] } },
        // A few JSON images are over the default body limit (1 MiB).
        limits: { body_bytes: 64 * 1024 * 1024 },
        models: {
          textdir: {
            budget_ms: 30_000,
            routing: { key: 'header:x-user-id', salt: 'textdir-bench' },
            variants: [{ name: 'v1', upstream: 'onnx', model: 'textdir', version: '1', weight: 100 }],
          },
        },
      },
      gatewayOptions(settings),
    );
    const target = (form: Form): Target => ({
      name: form,
      url: `${gateway.url}/v2/models/textdir/infer`,
      bodyFile: files[form],
      headers:
        form === 'json'
          ? BENCH_AUTH
          : {
              ...BENCH_AUTH,
              'Content-Type': 'application/octet-stream',
              'Inference-Header-Content-Length': String(bodies.headerLength),
            },
      userHeader: 'x-user-id',
      pids: [gateway.pid, runtime.pid],
      timeoutSeconds: 30,
    });

    // Both forms answer, and answer the same: the binary one is not measured doing something else.
    const answers: Record<Form, string> = { json: '', binary: '' };
    for (const form of FORMS) {
      const { headers } = target(form);
      const response = await fetch(target(form).url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: form === 'json' ? bodies.json : bodies.binary,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      if (response.status !== 200)
        throw new Error(`${form}: answered ${response.status}: ${text.slice(0, 300)}`);
      answers[form] = JSON.stringify((JSON.parse(text) as { outputs: unknown }).outputs);
    }
    if (answers.json !== answers.binary) {
      throw new Error(`the two forms answer differently: ${answers.json} vs ${answers.binary}`);
    }

    if (settings.warmupSeconds > 0) {
      for (const form of FORMS) await measure(target(form), connectionsList[0]!, settings.warmupSeconds);
    }
    const key = (form: Form, connections: number) => `${form}@${connections}`;
    const runs = await interleaved(
      settings.repeats,
      connectionsList.flatMap((connections) =>
        FORMS.map((form) => ({
          key: key(form, connections),
          run: () => measure(target(form), connections, settings.seconds),
        })),
      ),
      progress,
    );

    const table = connectionsList.flatMap((connections) =>
      FORMS.map((form) => {
        const list = runs.get(key(form, connections)) ?? [];
        const json = runs.get(key('json', connections)) ?? [];
        return {
          form,
          connections,
          rowsPerSecond: median(list.map((m) => m.rps * rows)),
          vsJson: median(list.map((m, i) => ratio(m.rps, json[i]?.rps ?? NaN))),
          p50Ms: median(list.map((m) => m.p50Ms)),
          p99Ms: median(list.map((m) => m.p99Ms)),
          gatewayCpuUsPerRow: median(list.map((m) => m.cpuUsPerRequest[0]! / rows)),
          gatewayCpuVsJson: median(
            list.map((m, i) => ratio(m.cpuUsPerRequest[0]!, json[i]?.cpuUsPerRequest[0] ?? NaN)),
          ),
          runtimeCpuUsPerRow: median(list.map((m) => m.cpuUsPerRequest[1]! / rows)),
          failed: list.reduce((total, m) => total + m.errors + m.non2xx, 0),
        };
      }),
    );
    printTable(
      `textdir through the gateway, JSON vs binary tensors (${rows} image(s) a request; medians of ${settings.repeats} interleaved runs)`,
      [
        'form',
        'conns',
        'rows/s',
        'x json',
        'p50 ms',
        'p99 ms',
        'gw cpu us/row',
        'x json',
        'rt cpu us/row',
        'failed',
      ],
      table.map((r) => [
        r.form,
        r.connections,
        fmt(r.rowsPerSecond, 1),
        fmt(r.vsJson),
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        fmt(r.gatewayCpuUsPerRow, 0),
        fmt(r.gatewayCpuVsJson),
        fmt(r.runtimeCpuUsPerRow, 0),
        r.failed,
      ]),
    );
    note(
      `bodies: JSON ${bodies.json.length} bytes, binary ${bodies.binary.length} bytes; CPU from /proc utime+stime of each process tree over the run.`,
    );
    return {
      rows,
      bodyBytes: { json: bodies.json.length, binary: bodies.binary.length },
      table,
      runs: Object.fromEntries(runs),
    };
  },
};
