import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { request } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import {
  DEMO_KEY,
  DEMO_KEY_SHA256,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, wireError } from '../harness/http.js';
import { tenantWithKey } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorName } from '../../src/errors.js';

/**
 * Who may call what: a key in `Authorization: Bearer` or `x-api-key`, looked up by its sha256;
 * the tenant's scopes decide between the model endpoints (infer) and /admin/* (admin). No key
 * string — valid or not — is ever repeated in an answer, a log line or /metrics.
 */

interface Case {
  what: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  status: number;
  /** SWY_ERR_… of an error answer. */
  code?: ErrorName;
  body?: unknown;
}

interface Seen {
  what: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

test('auth: missing, unknown and malformed keys, both headers, scopes, and no key ever echoed', async (t) => {
  const ops = tenantWithKey('ops', ['admin']);
  const checkout = tenantWithKey('checkout', ['infer']);
  const demo = { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer', 'admin', 'debug'] };
  const unknownKey = `sk-test-unknown-${randomBytes(12).toString('hex')}`;
  const secrets = [DEMO_KEY, ops.key, checkout.key, unknownKey];
  const row = fraudRows(1)[0]!;
  const decision = decisionBody(row, 'u-auth');
  const tensors = {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, row.length], data: row }],
  };
  const bodyFor = (path: string): unknown =>
    path.includes(':predict') ? { instances: [row] } : path.endsWith('/infer') ? tensors : decision;

  const client = createClient(16);
  const started: StartedProcess[] = [];
  const seen: Seen[] = [];
  try {
    const runtime = await startRuntime();
    started.push(runtime);
    const gateway: GatewayUnderTest = await startGateway(
      fraudGatewayConfig([runtime.url], { tenants: [demo, ops.tenant, checkout.tenant] }),
    );
    started.push(gateway);

    const send = async (c: Omit<Case, 'status'>): Promise<Seen> => {
      const hasBody = c.method === 'POST';
      const response = await request(`${gateway.url}${c.path}`, {
        method: c.method,
        dispatcher: client,
        headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...c.headers },
        body: hasBody ? JSON.stringify(c.body ?? bodyFor(c.path)) : undefined,
      });
      const answer = {
        what: c.what,
        status: response.statusCode,
        headers: response.headers,
        text: await response.body.text(),
      };
      seen.push(answer);
      return answer;
    };
    // The tensor checks need the runtime's metadata; wait until a good call goes through.
    await waitFor('the gateway serves the demo key', async () => {
      const answer = await send({
        what: 'warm-up',
        method: 'POST',
        path: '/v2/models/fraud/infer',
        headers: { authorization: `Bearer ${DEMO_KEY}` },
      });
      return answer.status === 200;
    });

    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    const apiKey = (key: string) => ({ 'x-api-key': key });
    const modelPaths = ['/v1/decisions/fraud', '/v2/models/fraud/infer', '/v1/models/fraud:predict'];
    const adminRoutes: [Case['method'], string][] = [
      ['GET', '/admin/config'],
      ['GET', '/admin/upstreams'],
      ['GET', '/admin/stats'],
      ['POST', '/admin/upstreams/onnx/drain'],
    ];
    const drainBody = { endpoint: runtime.url };
    const cases: Case[] = [
      // No key at all, on every kind of route.
      ...modelPaths.map((path): Case => ({
        what: `no key: POST ${path}`,
        method: 'POST',
        path,
        headers: {},
        status: 401,
        code: 'AUTH_MISSING_KEY',
      })),
      {
        what: 'no key: GET model metadata',
        method: 'GET',
        path: '/v2/models/fraud',
        headers: {},
        status: 401,
        code: 'AUTH_MISSING_KEY',
      },
      ...adminRoutes.map(([method, path]): Case => ({
        what: `no key: ${method} ${path}`,
        method,
        path,
        headers: {},
        status: 401,
        code: 'AUTH_MISSING_KEY',
        body: drainBody,
      })),
      // Keys nobody issued.
      ...[bearer(unknownKey), apiKey(unknownKey)].flatMap((headers): Case[] => [
        {
          what: `unknown key in ${Object.keys(headers)[0]}: decision`,
          method: 'POST' as const,
          path: '/v1/decisions/fraud',
          headers,
          status: 401,
          code: 'AUTH_UNKNOWN_KEY',
        },
        {
          what: `unknown key in ${Object.keys(headers)[0]}: admin config`,
          method: 'GET' as const,
          path: '/admin/config',
          headers,
          status: 401,
          code: 'AUTH_UNKNOWN_KEY',
        },
      ]),
      {
        what: 'a valid key with a character appended',
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: bearer(`${checkout.key}x`),
        status: 401,
        code: 'AUTH_UNKNOWN_KEY',
      },
      {
        what: "the key's sha256 instead of the key",
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: bearer(DEMO_KEY_SHA256),
        status: 401,
        code: 'AUTH_UNKNOWN_KEY',
      },
      // Schemes and header shapes that carry no API key.
      {
        what: 'Authorization: Basic',
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: { authorization: `Basic ${Buffer.from(`user:${checkout.key}`).toString('base64')}` },
        status: 401,
        code: 'AUTH_MISSING_KEY',
      },
      {
        what: 'Authorization: Basic on /admin',
        method: 'GET',
        path: '/admin/config',
        headers: { authorization: `Basic ${Buffer.from(`admin:${ops.key}`).toString('base64')}` },
        status: 401,
        code: 'AUTH_MISSING_KEY',
      },
      {
        what: 'Authorization: Bearer with no token',
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: { authorization: 'Bearer ' },
        status: 401,
        code: 'AUTH_MISSING_KEY',
      },
      {
        what: 'Authorization: the bare key without a scheme',
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: { authorization: checkout.key },
        status: 401,
        code: 'AUTH_MISSING_KEY',
      },
      {
        what: 'Authorization: Bearer with two tokens',
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: { authorization: `Bearer ${checkout.key} ${checkout.key}` },
        status: 401,
        code: 'AUTH_MISSING_KEY',
      },
      // Both headers work, on every model endpoint; the scheme is case-insensitive (RFC 6750).
      ...modelPaths.flatMap((path): Case[] => [
        {
          what: `Bearer: ${path}`,
          method: 'POST' as const,
          path,
          headers: bearer(checkout.key),
          status: 200,
        },
        {
          what: `x-api-key: ${path}`,
          method: 'POST' as const,
          path,
          headers: apiKey(checkout.key),
          status: 200,
        },
      ]),
      {
        what: 'lower-case "bearer"',
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: { authorization: `bearer ${checkout.key}` },
        status: 200,
      },
      {
        what: 'x-api-key: model metadata',
        method: 'GET',
        path: '/v2/models/fraud',
        headers: apiKey(checkout.key),
        status: 200,
      },
      // Scopes: admin-only keys cannot call models, infer-only keys cannot administer.
      ...modelPaths.map((path): Case => ({
        what: `admin-only key: POST ${path}`,
        method: 'POST',
        path,
        headers: bearer(ops.key),
        status: 403,
        code: 'AUTH_FORBIDDEN',
      })),
      {
        what: 'admin-only key: GET model metadata',
        method: 'GET',
        path: '/v2/models/fraud',
        headers: apiKey(ops.key),
        status: 403,
        code: 'AUTH_FORBIDDEN',
      },
      ...adminRoutes.map(([method, path]): Case => ({
        what: `infer-only key: ${method} ${path}`,
        method,
        path,
        headers: bearer(checkout.key),
        status: 403,
        code: 'AUTH_FORBIDDEN',
        body: drainBody,
      })),
      {
        what: 'admin-only key: GET /admin/config',
        method: 'GET',
        path: '/admin/config',
        headers: apiKey(ops.key),
        status: 200,
      },
      {
        what: 'infer-only key forcing a variant (needs debug)',
        method: 'POST',
        path: '/v1/decisions/fraud',
        headers: { ...bearer(checkout.key), 'x-switchyard-force-variant': 'v2' },
        status: 403,
        code: 'ROUTE_FORCE_FORBIDDEN',
      },
    ];

    for (const c of cases) {
      await t.test(`${c.what} → ${c.status}${c.code ? ` SWY_ERR_${c.code}` : ''}`, async () => {
        const answer = await send(c);
        assert.equal(answer.status, c.status, answer.text);
        if (c.code) {
          const error = wireError(answer.text);
          assert.equal(error?.code, `SWY_ERR_${c.code}`, answer.text);
          assert.equal(typeof error.message, 'string');
          assert.equal(answer.headers['content-type']?.toString().split(';')[0], 'application/json');
        }
      });
    }

    await t.test('the refused drain changed nothing', async () => {
      const answer = await send({
        what: 'upstreams',
        method: 'GET',
        path: '/admin/upstreams',
        headers: bearer(ops.key),
      });
      assert.equal(answer.status, 200, answer.text);
      const pools = JSON.parse(answer.text) as Record<string, { url: string; draining: boolean }[]>;
      assert.deepEqual(
        pools.onnx!.map((e) => e.draining),
        [false],
      );
    });

    await t.test('no key string appears in any answer, log line or /metrics', async () => {
      const metrics = await request(`${gateway.url}/metrics`, { dispatcher: client });
      const metricsText = await metrics.body.text();
      assert.equal(metrics.statusCode, 200);
      // Let the last request lines reach the log.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const places: [string, string][] = [
        ...seen.map((s): [string, string] => [
          `answer to "${s.what}"`,
          `${JSON.stringify(s.headers)}\n${s.text}`,
        ]),
        ['/metrics', metricsText],
        ...gateway.logs.map((line, i): [string, string] => [`gateway log line ${i}`, JSON.stringify(line)]),
        ...runtime.logs.map((line, i): [string, string] => [`runtime log line ${i}`, JSON.stringify(line)]),
      ];
      assert.ok(seen.length >= cases.length, `${seen.length} answers kept`);
      assert.ok(
        gateway.logs.some((l) => l.msg === 'request'),
        'the gateway logged its requests (so the log check looked at something)',
      );
      for (const secret of secrets) {
        for (const [where, text] of places) {
          assert.ok(!text.includes(secret), `a key appears in ${where}`);
        }
      }
    });
  } finally {
    await client.close();
    const exits: (number | string)[] = [];
    for (const child of started.reverse()) exits.push(await child.stop());
    assert.deepEqual(
      exits,
      started.map(() => 0),
      'every process exits 0',
    );
  }
});
