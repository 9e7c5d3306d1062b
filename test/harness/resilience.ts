/**
 * Helpers of the resilience scenarios (test/resilience): decision bodies, latency percentiles,
 * breaker and fallback metrics, the variant a user key is routed to, and a recording proxy that
 * shows what the gateway sent a runtime.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { bucketOf, cumulativeBounds, variantForBucket } from '../../src/stages/route/assign.js';
import { AUTH } from './gateway.js';
import { getJson, metricValue } from './http.js';

/** What POST /v1/decisions answers. */
export type { DecisionBody as DecisionAnswer } from '../../src/stages/respond/render.js';
import type { DecisionBody as DecisionAnswer } from '../../src/stages/respond/render.js';

/** A decision body without the ids that differ on every request, for comparing two answers. */
export function withoutIds(body: DecisionAnswer): Omit<DecisionAnswer, 'request_id' | 'decision_id'> {
  const { request_id: _requestId, decision_id: _decisionId, ...rest } = body;
  return rest;
}

/** The `p`-quantile (0..1) of `values` by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

/** "p50 x ms, p99 y ms, max z ms (n)" for logs. */
export function describeLatency(values: readonly number[]): string {
  const ms = (v: number) => v.toFixed(1);
  return (
    `p50 ${ms(percentile(values, 0.5))} ms, p99 ${ms(percentile(values, 0.99))} ms, ` +
    `max ${ms(percentile(values, 1))} ms (n=${values.length})`
  );
}

/** The variant the gateway assigns `userKey` to: murmur3 of the salted key against cumulative weights. */
export function variantFor(
  salt: string,
  userKey: string,
  variants: readonly string[],
  weights: readonly number[],
): string {
  return variants[variantForBucket(cumulativeBounds(weights), bucketOf(salt, userKey))]!;
}

/** The gateway's /metrics text. */
export async function gatewayMetrics(client: Agent, gatewayUrl: string): Promise<string> {
  const response = await getJson(client, `${gatewayUrl}/metrics`);
  if (response.status !== 200) throw new Error(`${gatewayUrl}/metrics answered ${response.status}`);
  return response.text;
}

/** switchyard_breaker_state of one variant: 0 closed, 1 half-open, 2 open; NaN when absent. */
export function breakerState(metrics: string, model: string, variant: string): number {
  const line = metrics
    .split('\n')
    .find(
      (l) =>
        l.startsWith('switchyard_breaker_state{') &&
        l.includes(`model="${model}"`) &&
        l.includes(`variant="${variant}"`),
    );
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** switchyard_fallbacks_total summed over the labels given. */
export function fallbacks(metrics: string, labels: Record<string, string>): number {
  return metricValue(metrics, 'switchyard_fallbacks_total', labels);
}

/** One (primary, shadow) row of GET /admin/stats. */
export type { ShadowPairReport } from '../../src/stages/shadow/stats.js';
import type { ShadowPairReport } from '../../src/stages/shadow/stats.js';

/** GET /admin/stats → models[model].shadows, the pair (primary, shadow). */
export async function shadowPair(
  client: Agent,
  gatewayUrl: string,
  model: string,
  primary: string,
  shadow: string,
): Promise<ShadowPairReport | undefined> {
  const response = await getJson(client, `${gatewayUrl}/admin/stats`, AUTH);
  if (response.status !== 200) throw new Error(`/admin/stats answered ${response.status}: ${response.text}`);
  const stats = response.body as { models: Record<string, { shadows: ShadowPairReport[] }> };
  return stats.models[model]?.shadows.find((s) => s.primary === primary && s.shadow === shadow);
}

/** A real HTTP hop in front of a runtime that keeps the headers of every inference request it forwards. */
export interface RecordingProxy {
  readonly url: string;
  /** Headers of each POST …/infer, in arrival order. */
  readonly inferHeaders: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Forwards every request to `target` unchanged (method, path, headers, body) and relays the answer. */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const agent = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  const inferHeaders: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    if (req.method === 'POST' && req.url?.endsWith('/infer')) inferHeaders.push({ ...req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers.connection;
      delete headers['content-length'];
      request(`${target}${req.url ?? '/'}`, {
        method: (req.method ?? 'GET') as 'GET',
        headers: headers as Record<string, string>,
        body: chunks.length > 0 ? Buffer.concat(chunks) : null,
        dispatcher: agent,
      })
        .then(async (answer) => {
          const body = Buffer.from(await answer.body.arrayBuffer());
          const out: Record<string, string> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (
              typeof value === 'string' &&
              !['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(name)
            )
              out[name] = value;
          }
          res.writeHead(answer.statusCode, out).end(body);
        })
        .catch(() => {
          if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    inferHeaders,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await agent.close();
    },
  };
}
