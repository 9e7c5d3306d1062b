/**
 * What the progressive-delivery scenarios share: a gateway config with a rollout policy, a bounded
 * decision load that records who answered each user, and the admin API's view of the rollout.
 */
import type { Agent } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig } from '../harness/gateway.js';
import { getJson, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';

export interface RolloutStatusView {
  status: string;
  step: string | number;
  candidate_share_percent: number;
  waiting_for: string | null;
  last_judgement: { verdict: string; checks: { check: string; verdict: string; reason: string }[] } | null;
  events: { at: string; event: string; step: string | number; detail: string }[];
}

/** Fraud with v1 (baseline, all users) and a candidate at weight 0, run by `rollout`. */
export function rolloutConfig(
  runtimes: { baseline: string; candidate?: string },
  candidate: { name: string; version: string },
  rollout: object,
  model: object = {},
) {
  const config = fraudGatewayConfig([runtimes.baseline], {
    weights: [100, 0],
    model: {
      variants: [
        { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 100 },
        {
          name: candidate.name,
          upstream: runtimes.candidate ? 'candidate' : 'onnx',
          model: 'fraud',
          version: candidate.version,
          weight: 0,
        },
      ],
      shadow_max_concurrency: 1024,
      rollout: { baseline: 'v1', candidate: candidate.name, ...rollout },
      ...model,
    },
  });
  return runtimes.candidate
    ? {
        ...config,
        upstreams: {
          ...config.upstreams,
          candidate: { ...config.upstreams.onnx, endpoints: [runtimes.candidate] },
        },
      }
    : config;
}

export async function rolloutStatus(client: Agent, gatewayUrl: string): Promise<RolloutStatusView> {
  const response = await getJson(client, `${gatewayUrl}/admin/rollouts/fraud`, AUTH);
  if (response.status !== 200)
    throw new Error(`GET /admin/rollouts/fraud: ${response.status} ${response.text}`);
  return response.body as RolloutStatusView;
}

export interface Answered {
  user: string;
  status: number;
  variant: string | undefined;
  fallback: string | undefined;
}

const ROWS = fraudRows(4000, 11);

/** `count` decisions from users `u-<offset+i>`, 16 at a time, bounded in time. */
export async function sendDecisions(
  client: Agent,
  gatewayUrl: string,
  count: number,
  offset = 0,
  timeoutMs = 30_000,
): Promise<Answered[]> {
  return runBounded(
    count,
    16,
    async (i) => {
      const user = `u-${offset + i}`;
      const response = await postJson(
        client,
        `${gatewayUrl}/v1/decisions/fraud`,
        decisionBody(ROWS[(offset + i) % ROWS.length]!, user),
        AUTH,
      );
      const header = (name: string) => {
        const value = response.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      return {
        user,
        status: response.status,
        variant: header('x-switchyard-variant'),
        fallback: header('x-switchyard-fallback'),
      };
    },
    timeoutMs,
  );
}

/**
 * Sends batches of decisions until `done` says so (checked between batches) or `timeoutMs` runs
 * out; returns every answer with the rollout status seen before and after its batch.
 */
export async function driveUntil(
  client: Agent,
  gatewayUrl: string,
  done: (status: RolloutStatusView) => boolean,
  options: { batch?: number; timeoutMs?: number } = {},
): Promise<{
  batches: { before: RolloutStatusView; after: RolloutStatusView; answers: Answered[] }[];
  final: RolloutStatusView;
}> {
  const batch = options.batch ?? 400;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const batches = [];
  let status = await rolloutStatus(client, gatewayUrl);
  let offset = 0;
  while (!done(status)) {
    if (Date.now() > deadline)
      throw new Error(`the rollout did not get there in time: ${JSON.stringify(status.events.slice(-5))}`);
    const before = status;
    const answers = await sendDecisions(client, gatewayUrl, batch, offset);
    offset = (offset + batch) % 2000; // the same users again: each one is seen at every step
    status = await rolloutStatus(client, gatewayUrl);
    batches.push({ before, after: status, answers });
  }
  return { batches, final: status };
}

export { postJson };
