import { Counter, type Registry } from 'prom-client';

/**
 * Why a server refused a request or connection on its own, before any handler answered: a
 * request Node's parser rejects, one that arrives too slowly, a connection over the cap.
 * Counted by these names (a fixed list, so a metric label stays bounded).
 */
export const REFUSAL_REASONS = [
  'malformed',
  'headers_too_large',
  'header_timeout',
  'request_timeout',
  'body_timeout',
  'connection_cap',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The refusals answered with a status; a connection over the cap is closed without one. */
export type AnsweredRefusal = Exclude<RefusalReason, 'connection_cap'>;

/** The counter of refusals by reason, every reason starting at 0 so a rate over it exists at once. */
export function createRefusalCounter(registry: Registry, name: string): Counter<'reason'> {
  const counter = new Counter({
    name,
    help: `Requests and connections refused before a handler answered them, by reason (${REFUSAL_REASONS.join(' | ')}).`,
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of REFUSAL_REASONS) counter.inc({ reason }, 0);
  return counter;
}
