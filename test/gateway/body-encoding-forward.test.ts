import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { CODINGS, postBytes } from '../harness/coded-bodies.js';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

// Issue 19: the gateway decodes a compressed body and sends the runtime the decoded body,
// uncompressed. A recording hop between the gateway and a real runtime sees what is sent.
const client = createClient();
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
const seen: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
const hop = createServer((incoming, outgoing) => {
  const chunks: Buffer[] = [];
  incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
  incoming.on('end', () => {
    const body = Buffer.concat(chunks);
    if (incoming.method === 'POST') seen.push({ headers: incoming.headers, body });
    const { host: _host, connection: _connection, ...headers } = incoming.headers;
    request(`${runtime.url}${incoming.url}`, {
      method: incoming.method as 'GET' | 'POST',
      headers,
      body: incoming.method === 'POST' ? body : undefined,
    }).then(
      async (answer) => {
        const bytes = Buffer.from(await answer.body.arrayBuffer());
        outgoing.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(bytes);
      },
      () => outgoing.writeHead(502).end(),
    );
  });
});

before(async () => {
  runtime = await startRuntime();
  hop.listen(0, '127.0.0.1');
  await once(hop, 'listening');
  const hopUrl = `http://127.0.0.1:${(hop.address() as AddressInfo).port}`;
  gateway = await startGateway(fraudGatewayConfig([hopUrl]));
  await upstreamHealthy(client, gateway.url);
});
after(async () => {
  await client.close();
  assert.equal(await gateway.stop(), 0);
  hop.closeAllConnections();
  hop.close();
  assert.equal(await runtime.stop(), 0);
});

test('a compressed request reaches the runtime decoded, without a Content-Encoding', async () => {
  const text = JSON.stringify({
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: fraudRows(1, 4)[0] }],
  });
  for (const coding of CODINGS) {
    seen.length = 0;
    const response = await postBytes(client, `${gateway.url}/v2/models/fraud/infer`, coding.encode(text), {
      ...AUTH,
      'content-encoding': coding.header,
    });
    assert.equal(response.status, 200, response.bytes.toString());
    const forwarded = seen.find(
      (entry) => entry.headers['x-request-id'] === response.headers['x-request-id'],
    );
    assert.ok(forwarded, 'the infer request went through the hop');
    assert.equal(forwarded.headers['content-encoding'], undefined, coding.header);
    const sent = JSON.parse(forwarded.body.toString()) as { inputs: { data: number[] }[] };
    assert.equal(sent.inputs[0]?.data.length, 8);
  }
});
