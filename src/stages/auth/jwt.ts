import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors as joseErrors, jwtVerify } from 'jose';
import { gatewayError, type GatewayError } from '../../errors.js';
import type { JwtConfig, TenantConfig } from './config.js';

export type JwtVerifier = (token: string) => Promise<TenantConfig | GatewayError>;

/** A compact JWS: three base64url parts. Anything else presented as a bearer is an API key. */
export const looksLikeJwt = (token: string): boolean => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);

/**
 * Verifies tokens with `jose` (signature, algorithm, expiry, and issuer/audience when set) and
 * maps the tenant claim to a configured tenant. The key is read once, when the config is built.
 */
export function createJwtVerifier(config: JwtConfig, tenants: readonly TenantConfig[]): JwtVerifier {
  const text = readFileSync(config.key_file, 'utf8');
  // A secret file usually ends with a newline that is not part of the secret.
  const key: KeyObject | Uint8Array =
    config.algorithm === 'HS256' ? new TextEncoder().encode(text.trim()) : createPublicKey(text);
  const byName = new Map(tenants.map((t) => [t.name, t]));
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [config.algorithm],
        ...(config.issuer ? { issuer: config.issuer } : {}),
        ...(config.audience ? { audience: config.audience } : {}),
      });
      const name = payload[config.tenant_claim];
      const tenant = typeof name === 'string' ? byName.get(name) : undefined;
      return (
        tenant ??
        gatewayError('AUTH_UNKNOWN_KEY', `the token's "${config.tenant_claim}" claim names no tenant`)
      );
    } catch (error) {
      const why = error instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is not valid';
      return gatewayError('AUTH_UNKNOWN_KEY', why);
    }
  };
}
