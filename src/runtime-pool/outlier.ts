import type { OutlierConfig } from './config.js';
import type { EndpointState, Outcome } from './endpoint.js';

export interface OutlierDetector {
  /** Feed one released request's outcome; may eject the endpoint. */
  record(endpoint: EndpointState, outcome: Outcome): void;
}

export interface OutlierDeps {
  /** Every endpoint of the pool, for the max-ejected-percent cap. */
  endpoints: () => Iterable<EndpointState>;
  now: () => number;
  onEject?: (endpoint: EndpointState, durationMs: number) => void;
  /** Told when the cap keeps a failing endpoint in rotation (once per run of errors). */
  onEjectRefused?: (endpoint: EndpointState, ejected: number, max: number) => void;
}

/**
 * Passive ejection. `consecutive_errors` errors in a row take an endpoint out of rotation for
 * `eject_ms × 2^(n-1)` (n = its ejections in a row), capped at `max_eject_ms`. The endpoint
 * returns on its own when the time is up; no timer is needed because eligibility compares
 * against the clock.
 *
 * The exponent resets once the endpoint has stayed in rotation for `max_eject_ms` after its
 * last ejection: long enough that a flapping endpoint keeps backing off, short enough that an
 * endpoint that recovered starts fresh next time.
 */
export function createOutlierDetector(config: OutlierConfig, deps: OutlierDeps): OutlierDetector {
  return {
    record(endpoint, outcome) {
      const now = deps.now();
      // Answers to requests sent before the ejection say nothing new; counting them would
      // re-eject the endpoint the moment it returns.
      if (endpoint.isEjected(now)) return;
      if (outcome === 'ok') {
        endpoint.consecutiveErrors = 0;
        return;
      }
      endpoint.consecutiveErrors += 1;
      if (endpoint.consecutiveErrors < config.consecutive_errors) return;

      const max = maxEjectable(countEndpoints(deps.endpoints()), config.max_ejected_percent);
      const ejected = countEjected(deps.endpoints(), now);
      if (ejected >= max) {
        if (endpoint.consecutiveErrors === config.consecutive_errors) {
          deps.onEjectRefused?.(endpoint, ejected, max);
        }
        return;
      }

      const lastEjectionEnded = endpoint.ejectedUntil;
      if (lastEjectionEnded > 0 && now - lastEjectionEnded >= config.max_eject_ms) {
        endpoint.ejectionStreak = 0;
      }
      endpoint.ejectionStreak += 1;
      const durationMs = ejectionTime(config, endpoint.ejectionStreak);
      endpoint.ejectedUntil = now + durationMs;
      endpoint.ejections += 1;
      endpoint.consecutiveErrors = 0;
      deps.onEject?.(endpoint, durationMs);
    },
  };
}

/** `eject_ms × 2^(n-1)`, capped at `max_eject_ms`. */
export function ejectionTime(config: OutlierConfig, streak: number): number {
  // The exponent is clamped so a long streak cannot overflow to Infinity before the cap applies.
  const factor = 2 ** Math.min(Math.max(streak - 1, 0), 40);
  return Math.min(config.eject_ms * factor, config.max_eject_ms);
}

/**
 * How many of `total` endpoints may be ejected at once: `max_ejected_percent` of them rounded
 * down, but at least one when the pool has two or more (so a 10% cap on a small pool still
 * protects it from its one bad endpoint, as Envoy does), and never the last one: with a single
 * endpoint (or every other one already out) a failing endpoint stays in rotation, because
 * passive ejection that leaves nothing to call turns errors into certain failure; the breaker
 * and fallback stages handle that case. 0% turns ejection off.
 */
export function maxEjectable(total: number, maxEjectedPercent: number): number {
  if (maxEjectedPercent <= 0 || total <= 1) return 0;
  const byPercent = Math.floor((total * maxEjectedPercent) / 100);
  return Math.min(total - 1, Math.max(1, byPercent));
}

function countEndpoints(endpoints: Iterable<EndpointState>): number {
  let n = 0;
  for (const endpoint of endpoints) if (!endpoint.drainReasons.has('removed')) n += 1;
  return n;
}

function countEjected(endpoints: Iterable<EndpointState>, now: number): number {
  let n = 0;
  for (const endpoint of endpoints) {
    if (endpoint.isEjected(now) && !endpoint.drainReasons.has('removed')) n += 1;
  }
  return n;
}
