import { createServer } from 'node:http';
import { Pool } from 'undici';
import { listenAndAnnounce } from './listen.js';

/**
 * The Node floor of the gateway-overhead scenario: the least a Node proxy can do per request with
 * the gateway's own parts — node:http in, undici's `dispatch` out (as src/stages/upstream/call.ts),
 * the body gathered whole both ways and passed through untouched. No JSON, no auth, no routing,
 * no metrics, no logs. Whatever switchyard costs above this row is its features; what this row
 * costs above nginx is Node itself.
 *
 * Usage: node --import tsx bench/lib/node-floor-proxy.ts UPSTREAM_URL
 */
const upstream = process.argv[2];
if (!upstream) {
  process.stderr.write('usage: node-floor-proxy.ts UPSTREAM_URL\n');
  process.exit(2);
}

const pool = new Pool(upstream, { connections: 64 });

function gather(chunks: Buffer[]): Buffer {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

const server = createServer((request, response) => {
  const body: Buffer[] = [];
  request.on('data', (chunk: Buffer) => body.push(chunk));
  request.on('end', () => {
    const answer: Buffer[] = [];
    let status = 502;
    pool.dispatch(
      {
        path: request.url!,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: gather(body),
      },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          status = statusCode;
        },
        onResponseData(_controller, chunk) {
          answer.push(chunk);
        },
        onResponseEnd() {
          const bytes = gather(answer);
          response.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
          response.end(bytes);
        },
        onResponseError(_controller, error) {
          response.writeHead(502, { 'content-type': 'text/plain' }).end(String(error));
        },
      },
    );
  });
});
// As the gateway's: longer than the load generator's keep-alive.
server.keepAliveTimeout = 65_000;
listenAndAnnounce(server, 'node-floor');
process.on('SIGTERM', () => server.close(() => void pool.close().then(() => process.exit(0))));
