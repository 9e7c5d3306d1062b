import type { GatewayError } from '../../errors.js';

/** Why the model path failed, as fallback metrics and headers name it; undefined: no fallback. */
export function fallbackReason(error: GatewayError): string | undefined {
  switch (error.code) {
    case 'SWY_ERR_UPSTREAM_CIRCUIT_OPEN':
      return 'circuit_open';
    case 'SWY_ERR_BUDGET_EXHAUSTED':
      return 'budget_exhausted';
    case 'SWY_ERR_UPSTREAM_NO_ENDPOINT':
      return 'no_endpoint';
    case 'SWY_ERR_UPSTREAM_FAILED':
    case 'SWY_ERR_UPSTREAM_MALFORMED_ANSWER':
    case 'SWY_ERR_UPSTREAM_REFUSED':
      return 'upstream_error';
    default:
      return undefined;
  }
}
