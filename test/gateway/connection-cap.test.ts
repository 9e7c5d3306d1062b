import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { Agent, setGlobalDispatcher } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { getJson, postJson } from '../harness/http.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { closedWithin, openSocket, parseRawResponse } from '../harness/raw-http.js';
import { startRuntime } from '../harness/runtime.js';

// limits.max_connections: a connection over the cap is closed as it arrives, the ones already
// open go on being served, and once connections close new ones are taken again.
const MAX_CONNECTIONS = 4;
// The test's one pooled connection to the gateway, also the harness's (its fetch), so the test
// knows every connection the gateway holds: this one and the idle ones it opens.
const caller = new Agent({ connections: 1, pipelining: 1 });
setGlobalDispatcher(caller);
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
const idle: Socket[] = [];
const body = decisionBody(fraudRows(1, 9)[0]!, 'u-cap-1');

before(async () => {
  runtime = await startRuntime();
  gateway = await startGateway({
    ...fraudGatewayConfig([runtime.url]),
    limits: { max_connections: MAX_CONNECTIONS },
  });
  await upstreamHealthy(caller, gateway.url);
});
after(async () => {
  for (const socket of idle) socket.destroy();
  await caller.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

const LIVEZ = 'GET /livez HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n';

/** Asks for /livez on an open connection; the status of the answer (the connection then closes). */
async function livez(socket: Socket): Promise<number | undefined> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.write(LIVEZ);
  await closedWithin(socket, 3000);
  socket.destroy();
  return parseRawResponse(received)?.status;
}

test('with the cap reached a new connection is closed at once; open ones are served; closing frees room', async () => {
  // The pooled connection is open (it asked for readiness); idle connections fill the cap.
  assert.equal((await postJson(caller, `${gateway.url}/v1/decisions/fraud`, body, AUTH)).status, 200);
  for (let i = 1; i < MAX_CONNECTIONS; i++) idle.push(await openSocket(gateway.url));

  const over = await openSocket(gateway.url);
  let received = '';
  over.on('data', (chunk: Buffer) => (received += chunk.toString()));
  assert.ok(await closedWithin(over, 3000), 'the connection over the cap is closed');
  assert.equal(received, '', 'closed without an answer');
  over.destroy();

  // The caller already connected goes on being served.
  for (let i = 0; i < 5; i++) {
    const answer = await postJson(caller, `${gateway.url}/v1/decisions/fraud`, body, AUTH);
    assert.equal(answer.status, 200);
  }

  // The idle connections were held all along: each is answered, then closes.
  for (const [i, socket] of idle.splice(0).entries()) assert.equal(await livez(socket), 200, `idle ${i}`);

  // With room again, a new connection is served (once the gateway has seen the others close).
  await waitFor('a new connection served', async () => (await livez(await openSocket(gateway.url))) === 200);

  const metrics = await getJson(caller, `${gateway.url}/metrics`);
  assert.match(metrics.text, /^switchyard_http_refused_total\{reason="connection_cap"\} 1$/m);
});
