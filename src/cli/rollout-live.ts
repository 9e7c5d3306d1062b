import type { Env } from '../config/interpolate.js';
import { parseCommandLine, renderUsage, type CommandSpec, type FlagSpec } from './command-spec.js';
import type { TextSink } from './validate.js';

export const LIVE_ACTIONS = ['status', 'pause', 'resume', 'abort'] as const;
export type LiveAction = (typeof LIVE_ACTIONS)[number];

const DEFAULT_URL = 'http://127.0.0.1:8080';

const LIVE_FLAGS = [
  {
    name: 'url',
    value: 'URL',
    default: `the SWITCHYARD_URL variable, else ${DEFAULT_URL}`,
    description: "the gateway's address; the admin key is read from SWITCHYARD_ADMIN_KEY",
  },
  { name: 'json', description: "print the gateway's answer as it came" },
] as const satisfies FlagSpec[];

const LIVE_SUMMARIES: Record<LiveAction, string> = {
  status: "a running gateway's rollout of MODEL: its step, the last checks with their numbers, recent events",
  pause: 'holds the rollout at its step (failed checks still roll it back)',
  resume: 'lifts a pause, or starts the step of pause_before that waits',
  abort: 'rolls the candidate back at once',
};

/** `rollout status|pause|resume|abort MODEL`: a running gateway's admin API, not the file. */
export const ROLLOUT_LIVE_SPECS = LIVE_ACTIONS.map(
  (action) =>
    ({
      name: `rollout ${action}`,
      operands: 'MODEL',
      summary: LIVE_SUMMARIES[action],
      flags: LIVE_FLAGS,
    }) as const satisfies CommandSpec,
);

interface RolloutStatusBody {
  model: string;
  candidate: string;
  baseline: string;
  status: string;
  waiting_for: string | null;
  steps: (string | number)[];
  step: string | number;
  candidate_share_percent: number;
  failures_in_a_row: number;
  failure_limit: number;
  last_judgement: {
    verdict: string;
    abort?: string;
    checks: { check: string; subject?: string; verdict: string; value: number | null; reason: string }[];
  } | null;
  events: { at: string; event: string; step: string | number; detail: string }[];
  /** Set when the rollout is shared through Redis (older gateways send neither). */
  leader?: boolean;
  shared?: { holding: string | null } | null;
}

/**
 * `switchyard rollout status|pause|resume|abort MODEL`: asks a running gateway's admin API about
 * the model's rollout, or acts on it. Exit codes: 0 done, 1 refused (the gateway said no, or
 * could not be reached), 2 usage error.
 */
export async function runRolloutLive(
  action: LiveAction,
  argv: string[],
  out: TextSink,
  err: TextSink,
  env: Env = process.env,
): Promise<number> {
  const spec = ROLLOUT_LIVE_SPECS[LIVE_ACTIONS.indexOf(action)]!;
  let parsed;
  try {
    parsed = parseCommandLine(spec, argv, { positionals: true });
  } catch (error) {
    err.write(`switchyard rollout: ${(error as Error).message}\n${renderUsage(spec)}`);
    return 2;
  }
  const [model, ...extra] = parsed.positionals;
  if (!model || extra.length > 0) {
    err.write(`switchyard rollout: give one model\n${renderUsage(spec)}`);
    return 2;
  }
  const key = env.SWITCHYARD_ADMIN_KEY;
  if (!key) {
    err.write('switchyard rollout: set SWITCHYARD_ADMIN_KEY to a key with the admin scope\n');
    return 2;
  }
  const base = (parsed.values.url ?? env.SWITCHYARD_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  const path = `/admin/rollouts/${encodeURIComponent(model)}${action === 'status' ? '' : `/${action}`}`;
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method: action === 'status' ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    err.write(`switchyard rollout: cannot reach ${base}: ${(error as Error).message}\n`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      const body = JSON.parse(text) as { error?: { message?: string } };
      message = body.error?.message ?? text;
    } catch {
      // not JSON: say what came
    }
    err.write(`switchyard rollout: ${response.status} ${message}\n`);
    return 1;
  }
  if (parsed.values.json) {
    out.write(`${text}\n`);
    return 0;
  }
  out.write(describe(JSON.parse(text) as RolloutStatusBody));
  return 0;
}

/** The rollout for a person: where it is, the last verdicts with their numbers, recent events. */
export function describe(status: RolloutStatusBody): string {
  const track = status.steps
    .map((step) => (step === status.step ? `[${String(step)}]` : String(step)))
    .join(' → ');
  const lines = [
    `${status.model}: ${status.candidate} against ${status.baseline}, ${status.status}${status.waiting_for ? ` (waiting for ${status.waiting_for})` : ''}`,
    `steps: ${track}; the candidate serves ${status.candidate_share_percent}% of ${status.baseline}'s users`,
    `failed checks in a row: ${status.failures_in_a_row} of ${status.failure_limit}`,
  ];
  if (status.shared)
    lines.push(
      `shared through Redis: ${status.leader ? 'this gateway leads (judges it)' : 'another gateway leads'}${status.shared.holding ? `; holding: ${status.shared.holding}` : ''}`,
    );
  const judgement = status.last_judgement;
  if (judgement) {
    lines.push(`last judgement: ${judgement.verdict}${judgement.abort ? ` (${judgement.abort})` : ''}`);
    for (const check of judgement.checks) {
      const name = `${check.check}${check.subject ? `(${check.subject})` : ''}`;
      const value = check.value === null ? '-' : Number(check.value.toPrecision(4)).toString();
      lines.push(`  ${check.verdict.padEnd(12)} ${name.padEnd(28)} ${value.padStart(10)}  ${check.reason}`);
    }
  }
  lines.push('events:');
  for (const event of status.events.slice(-10))
    lines.push(
      `  ${event.at} ${event.event.padEnd(11)} step ${String(event.step).padEnd(6)} ${event.detail}`,
    );
  return `${lines.join('\n')}\n`;
}
