import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY,
  DEMO_KEY_SHA256,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, postJson, type JsonResponse, wireError } from '../harness/http.js';
import { runBounded, runtimeRequests, tenantWithKey } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

/**
 * Two runtimes behind one upstream: the admin API shows the effective config and the endpoints,
 * and drain/undrain take an endpoint out of rotation and put it back.
 */

interface EndpointStatus {
  url: string;
  health: string;
  draining: boolean;
  drainReasons: string[];
  ejected: boolean;
  inFlight: number;
}

function errorCode(response: JsonResponse): string | undefined {
  return wireError(response.body)?.code;
}

test('admin: config and its hash, upstream endpoints, drain and undrain', async (t) => {
  const checkout = tenantWithKey('checkout', ['infer', 'debug']);
  const demo = { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer', 'admin', 'debug'] };
  const started: StartedProcess[] = [];
  const client = createClient(32);
  try {
    const runtimes = await Promise.allSettled([startRuntime(), startRuntime()]);
    for (const result of runtimes) if (result.status === 'fulfilled') started.push(result.value);
    for (const result of runtimes) if (result.status === 'rejected') throw result.reason;
    const [kept, drained] = started as [StartedProcess, StartedProcess];
    const gateway: GatewayUnderTest = await startGateway(
      fraudGatewayConfig([kept.url, drained.url], { tenants: [demo, checkout.tenant] }),
    );
    started.push(gateway);

    const admin = (path: string, body?: unknown, headers: Record<string, string> = AUTH) =>
      body === undefined
        ? getJson(client, `${gateway.url}${path}`, headers)
        : postJson(client, `${gateway.url}${path}`, body, headers);
    const upstreams = async (): Promise<EndpointStatus[]> => {
      const response = await admin('/admin/upstreams');
      assert.equal(response.status, 200, response.text);
      const pools = response.body as Record<string, EndpointStatus[]>;
      assert.deepEqual(Object.keys(pools), ['onnx']);
      return pools.onnx!;
    };
    const statusOf = async (url: string) => (await upstreams()).find((e) => e.url === url);
    const rows = fraudRows(16);
    /** `count` decisions through the gateway, all answered 200. */
    const send = (count: number, concurrency = 8) =>
      runBounded(count, concurrency, async (i) => {
        const response = await postJson(
          client,
          `${gateway.url}/v1/decisions/fraud`,
          decisionBody(rows[i % rows.length]!, `user-${i}`),
          AUTH,
        );
        assert.equal(response.status, 200, response.text);
      });
    /** Inference requests each runtime has answered so far, by its own /metrics. */
    const counts = async () =>
      Promise.all([runtimeRequests(client, kept.url), runtimeRequests(client, drained.url)]);

    await t.test(
      'GET /admin/config shows the effective config and the hash /readyz and /metrics report',
      async () => {
        const response = await admin('/admin/config');
        assert.equal(response.status, 200, response.text);
        const body = response.body as {
          hash: string;
          file_hash: string;
          source: string;
          loaded_at: string;
          config: {
            upstreams: Record<string, { endpoints: string[] }>;
            models: Record<string, { variants: { name: string; weight: number }[] }>;
            tenants: { name: string; keys: { sha256: string }[] }[];
          };
        };
        assert.match(body.hash, /^[0-9a-f]{16}$/);
        assert.match(body.file_hash, /^[0-9a-f]{16}$/);
        assert.equal(body.source, gateway.configPath);
        assert.ok(!Number.isNaN(Date.parse(body.loaded_at)));
        assert.deepEqual(body.config.upstreams.onnx!.endpoints, [kept.url, drained.url]);
        assert.deepEqual(
          body.config.models.fraud!.variants.map((v) => [v.name, v.weight]),
          [
            ['v1', 90],
            ['v2', 10],
          ],
        );
        assert.deepEqual(
          body.config.tenants.map((tenant) => tenant.name),
          ['demo', 'checkout'],
        );
        assert.ok(!response.text.includes(DEMO_KEY) && !response.text.includes(checkout.key), 'digests only');

        const ready = await getJson(client, `${gateway.url}/readyz`);
        assert.deepEqual(ready.body, { status: 'ready', config: body.hash });
        const metrics = (await getJson(client, `${gateway.url}/metrics`)).text;
        const info = metrics.split('\n').filter((line) => line.startsWith('switchyard_config_info{'));
        assert.deepEqual(info, [
          `switchyard_config_info{hash="${body.hash}",file_hash="${body.file_hash}"} 1`,
        ]);
      },
    );

    await t.test('GET /admin/upstreams lists both endpoints with their health', async () => {
      const endpoints = await waitFor('both endpoints healthy', async () => {
        const list = await upstreams();
        return list.length === 2 && list.every((e) => e.health === 'healthy') ? list : undefined;
      });
      // The pool lists endpoints sorted by URL, not in config order.
      assert.deepEqual(endpoints.map((e) => e.url).sort(), [kept.url, drained.url].sort());
      for (const endpoint of endpoints) {
        assert.equal(endpoint.draining, false);
        assert.deepEqual(endpoint.drainReasons, []);
        assert.equal(endpoint.ejected, false);
        assert.equal(typeof endpoint.inFlight, 'number');
      }
      // Both take traffic before any drain.
      const [keptBefore, drainedBefore] = await counts();
      await send(60);
      const [keptAfter, drainedAfter] = await counts();
      assert.equal(keptAfter - keptBefore + (drainedAfter - drainedBefore), 60);
      assert.ok(keptAfter > keptBefore && drainedAfter > drainedBefore, 'both runtimes served requests');
    });

    await t.test('a drained endpoint gets no new requests', async () => {
      const response = await admin('/admin/upstreams/onnx/drain', { endpoint: drained.url });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body, { endpoint: drained.url, draining: true, in_flight: 0 });
      const status = await statusOf(drained.url);
      assert.equal(status?.draining, true);
      assert.deepEqual(status?.drainReasons, ['admin']);
      assert.equal((await statusOf(kept.url))?.draining, false);

      const [keptBefore, drainedBefore] = await counts();
      await send(100);
      const [keptAfter, drainedAfter] = await counts();
      assert.equal(drainedAfter - drainedBefore, 0, 'nothing reached the drained runtime');
      assert.equal(keptAfter - keptBefore, 100);
    });

    await t.test('undrain puts the endpoint back in rotation', async () => {
      // host:port names the endpoint as well as its URL does.
      const hostPort = drained.url.replace(/^http:\/\//, '');
      const response = await admin('/admin/upstreams/onnx/undrain', { endpoint: hostPort });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body, { endpoint: hostPort, draining: false });
      assert.equal((await statusOf(drained.url))?.draining, false);

      const [keptBefore, drainedBefore] = await counts();
      await send(100);
      const [keptAfter, drainedAfter] = await counts();
      assert.equal(keptAfter - keptBefore + (drainedAfter - drainedBefore), 100);
      assert.ok(drainedAfter > drainedBefore, 'the undrained runtime serves again');
    });

    await t.test('?wait=true answers drained:true once the endpoint has nothing in flight', async () => {
      // Traffic keeps flowing while the drain is asked for, so some requests may be in flight on it.
      let draining: Promise<JsonResponse> | undefined;
      const traffic = runBounded(200, 16, async (i) => {
        if (i === 40) draining = admin('/admin/upstreams/onnx/drain?wait=true', { endpoint: drained.url });
        const response = await postJson(
          client,
          `${gateway.url}/v1/decisions/fraud`,
          decisionBody(rows[i % rows.length]!, `wait-${i}`),
          AUTH,
        );
        assert.equal(response.status, 200, response.text);
      });
      await waitFor('the drain request to be sent', () => draining !== undefined);
      const answer = await draining!;
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.body, { endpoint: drained.url, draining: true, drained: true });
      // Everything the drained runtime will ever get from this gateway has been answered now.
      const [, atDrain] = await counts();
      assert.equal((await statusOf(drained.url))?.inFlight, 0);
      await traffic;
      await send(50);
      const [, afterwards] = await counts();
      assert.equal(afterwards, atDrain, 'no request reached it after drained:true');

      const again = await admin('/admin/upstreams/onnx/drain?wait=true', { endpoint: drained.url });
      assert.deepEqual(again.body, { endpoint: drained.url, draining: true, drained: true });
      const back = await admin('/admin/upstreams/onnx/undrain', { endpoint: drained.url });
      assert.equal(back.status, 200, back.text);
    });

    await t.test('an unknown endpoint or upstream is 404, a missing endpoint 400', async () => {
      for (const path of ['/admin/upstreams/onnx/drain', '/admin/upstreams/onnx/undrain']) {
        for (const endpoint of ['http://127.0.0.1:1', '127.0.0.1:1', 'not a url']) {
          const response = await admin(path, { endpoint });
          assert.equal(response.status, 404, `${path} ${endpoint}: ${response.text}`);
          assert.equal(errorCode(response), 'SWY_ERR_ADMIN_UNKNOWN_ENDPOINT' satisfies ErrorCode);
        }
      }
      const noUpstream = await admin('/admin/upstreams/nope/drain', { endpoint: kept.url });
      assert.equal(noUpstream.status, 404, noUpstream.text);
      assert.equal(errorCode(noUpstream), 'SWY_ERR_ADMIN_UNKNOWN_ENDPOINT' satisfies ErrorCode);
      const noEndpoint = await admin('/admin/upstreams/onnx/drain', {});
      assert.equal(noEndpoint.status, 400, noEndpoint.text);
      assert.equal(errorCode(noEndpoint), 'SWY_ERR_INPUT_INVALID' satisfies ErrorCode);
      for (const status of await upstreams()) assert.equal(status.draining, false, status.url);
    });

    await t.test('without the admin scope: 403, and nothing changes', async () => {
      const calls: [string, unknown][] = [
        ['/admin/config', undefined],
        ['/admin/upstreams', undefined],
        ['/admin/upstreams/onnx/drain', { endpoint: kept.url }],
        ['/admin/upstreams/onnx/drain?wait=true', { endpoint: kept.url }],
        ['/admin/upstreams/onnx/undrain', { endpoint: kept.url }],
      ];
      for (const [path, body] of calls) {
        const forbidden = await admin(path, body, checkout.auth);
        assert.equal(forbidden.status, 403, `${path}: ${forbidden.text}`);
        assert.equal(errorCode(forbidden), 'SWY_ERR_AUTH_FORBIDDEN' satisfies ErrorCode);
        const anonymous = await admin(path, body, {});
        assert.equal(anonymous.status, 401, `${path}: ${anonymous.text}`);
        assert.equal(errorCode(anonymous), 'SWY_ERR_AUTH_MISSING_KEY' satisfies ErrorCode);
      }
      for (const status of await upstreams()) assert.equal(status.draining, false, status.url);
    });
  } finally {
    await client.close();
    // The gateway first, then the runtimes; every one must exit cleanly.
    const codes: (number | string)[] = [];
    for (const child of started.reverse()) codes.push(await child.stop());
    assert.deepEqual(
      codes,
      codes.map(() => 0),
      'every process exits 0',
    );
  }
});
