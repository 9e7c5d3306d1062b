import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SignJWT, importPKCS8 } from 'jose';
import { fraudRows } from '../harness/fraud.js';
import { decisionBody, fraudGatewayConfig, startGateway, type GatewayUnderTest } from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

const client = createClient();
const body = decisionBody(fraudRows(1)[0]!, 'u-1');
const tenants = [{ name: 'checkout', keys: [], scopes: ['infer'] }];
let runtime: StartedProcess;
let dir: string;

before(async () => {
  runtime = await startRuntime();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-jwt-'));
});
after(async () => {
  await client.close();
  assert.equal(await runtime.stop(), 0);
  await rm(dir, { recursive: true, force: true });
});

async function decide(gateway: GatewayUnderTest, token: string) {
  return postJson(client, `${gateway.url}/v1/decisions/fraud`, body, { authorization: `Bearer ${token}` });
}

test('HS256: a signed token naming a tenant is accepted; expired, forged or unknown-tenant tokens are 401', async () => {
  const secret = 'a-shared-secret-of-enough-length-for-hs256';
  await writeFile(join(dir, 'hs256.key'), `${secret}\n`);
  const config = {
    ...fraudGatewayConfig([runtime.url], { tenants }),
    auth: {
      jwt: { algorithm: 'HS256', key_file: join(dir, 'hs256.key'), tenant_claim: 'tenant', issuer: 'idp' },
    },
  };
  const gateway = await startGateway(config);
  try {
    const key = new TextEncoder().encode(secret);
    const sign = (claims: Record<string, unknown>, expires = '5m', issuer = 'idp') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(issuer)
        .setIssuedAt()
        .setExpirationTime(expires)
        .sign(key);
    const ok = await decide(gateway, await sign({ tenant: 'checkout' }));
    assert.equal(ok.status, 200, ok.text);
    const expired = await decide(gateway, await sign({ tenant: 'checkout' }, '-1m'));
    assert.equal(expired.status, 401);
    assert.match(expired.text, /expired/);
    const unknown = await decide(gateway, await sign({ tenant: 'nobody' }));
    assert.equal(unknown.status, 401);
    const wrongIssuer = await decide(gateway, await sign({ tenant: 'checkout' }, '5m', 'elsewhere'));
    assert.equal(wrongIssuer.status, 401);
    const forged = await new SignJWT({ tenant: 'checkout' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('idp')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('some-other-secret-of-enough-length!!'));
    assert.equal((await decide(gateway, forged)).status, 401);
  } finally {
    assert.equal(await gateway.stop(), 0);
  }
});

test('RS256: verified with the configured public key; the tenant scopes still apply', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'rs256.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const config = {
    ...fraudGatewayConfig([runtime.url], { tenants }),
    auth: { jwt: { algorithm: 'RS256', key_file: join(dir, 'rs256.pem'), tenant_claim: 'org' } },
  };
  const gateway = await startGateway(config);
  try {
    const signing = await importPKCS8(
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      'RS256',
    );
    const token = await new SignJWT({ org: 'checkout' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('5m')
      .sign(signing);
    assert.equal((await decide(gateway, token)).status, 200);
    // checkout has only the infer scope: the admin endpoints stay closed to its tokens.
    const admin = await fetch(`${gateway.url}/admin/config`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(admin.status, 403);
  } finally {
    assert.equal(await gateway.stop(), 0);
  }
});
