import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { listenAndAnnounce } from './listen.js';

/**
 * The HTTP ceiling of the runtime-batching scenario: a plain node:http server that reads the whole
 * request body and answers `POST /v2/models/<model>/...` with the runtime's real answer for that
 * model, captured once (`<dir>/<model>.json`). No JSON parsing, no inference: what one Node event
 * loop can do over HTTP with these request and response sizes, which the runtime cannot beat.
 *
 * Usage: node --import tsx bench/lib/http-ceiling-server.ts DIR MODEL...
 */
const [dir, ...models] = process.argv.slice(2);
if (!dir || models.length === 0) {
  process.stderr.write('usage: http-ceiling-server.ts DIR MODEL...\n');
  process.exit(2);
}

const answers = new Map(models.map((model) => [model, readFileSync(join(dir, `${model}.json`))]));

const server = createServer((request, response) => {
  const model = /^\/v2\/models\/([^/]+)\//.exec(request.url ?? '')?.[1];
  const answer = model === undefined ? undefined : answers.get(model);
  // Consume the body as the runtime must, then answer.
  request.on('data', () => {});
  request.on('end', () => {
    if (!answer) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
    response.end(answer);
  });
});
// The same keep-alive window as Fastify's default in the runtime.
server.keepAliveTimeout = 72_000;
listenAndAnnounce(server, 'http-ceiling');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
