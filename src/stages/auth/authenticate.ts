import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { gatewayError, type GatewayError } from '../../errors.js';
import type { Scope, TenantConfig } from './config.js';

interface KnownKey {
  digest: Buffer;
  tenant: TenantConfig;
}

export type Authenticator = (headers: IncomingHttpHeaders, scope: Scope) => TenantConfig | GatewayError;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The key from `Authorization: Bearer <key>` or `x-api-key`, whichever the caller sent. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : undefined;
}

/**
 * Looks API keys up by their sha256, as the config stores them. The map lookup compares digests,
 * which tell an attacker nothing about a key; the final comparison is constant-time all the
 * same. Errors never repeat the key.
 */
export function createAuthenticator(tenants: readonly TenantConfig[]): Authenticator {
  const keys = new Map<string, KnownKey>();
  for (const tenant of tenants) {
    for (const key of tenant.keys) keys.set(key.sha256, { digest: Buffer.from(key.sha256, 'hex'), tenant });
  }
  return (headers, scope) => {
    const key = presentedKey(headers);
    if (key === undefined) return gatewayError('AUTH_MISSING_KEY');
    const digest = createHash('sha256').update(key).digest();
    const known = keys.get(digest.toString('hex'));
    if (!known || !timingSafeEqual(known.digest, digest)) return gatewayError('AUTH_UNKNOWN_KEY');
    if (!known.tenant.scopes.includes(scope)) {
      return gatewayError('AUTH_FORBIDDEN', `tenant "${known.tenant.name}" lacks the "${scope}" scope`);
    }
    return known.tenant;
  };
}
