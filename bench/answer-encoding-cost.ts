/**
 * What answer compression (src/shared/http/answer-encoding.ts, issue 19) costs a small answer on
 * the fast path: the fraud decision, about 250 bytes, which must go out as before. A paired,
 * interleaved A/B in one process: A is the fast path as it was before the change (its
 * src/shared from git commit BENCH_ANSWER_BASE, default the merge base with main), B this
 * checkout's; both serve one hot route answering the same decision JSON, with the client asking
 * for gzip (Accept-Encoding: gzip, deflate, as curl --compressed and browsers do), so B takes
 * every decision the change added. wrk loads one server at a time (A B, then B A, ...); the
 * process's CPU time over each run, divided by the requests answered, is the figure: ns of CPU
 * per request. Only that route's server runs: no pipeline, no runtime, so the difference is not
 * lost in their cost.
 *
 *     npx tsx bench/answer-encoding-cost.ts
 *
 * BENCH_SECONDS (10), BENCH_REPEATS (5), BENCH_CONNECTIONS (16), BENCH_ANSWER_CONTROL (below).
 * Run it on a quiet machine.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, symlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { silentLogger } from '../src/shared/logger.js';
import { CLIENT_LIMITS_DEFAULTS } from '../src/shared/http/client-limits.js';
import * as current from '../src/shared/http/fast-path-server.js';
import { bodyFile, fraudDecisionBody } from './lib/bodies.js';
import { runLoad } from './lib/load.js';
import { numberSetting } from './lib/settings.js';
import { median } from './lib/stats.js';
import { PROJECT_ROOT } from './lib/switchyard.js';
import { workDir } from './lib/workdir.js';

const SECONDS = numberSetting('BENCH_SECONDS', 10, 1);
const REPEATS = numberSetting('BENCH_REPEATS', 5, 1);
const CONNECTIONS = numberSetting('BENCH_CONNECTIONS', 16, 1);

/** The decision answer as the gateway writes it (src/http/model-request.ts), about 250 bytes. */
const DECISION = JSON.stringify({
  decision: 'review',
  score: 0.8213,
  threshold: 0.75,
  model_version: '2',
  variant: 'v2',
  request_id: '5f0c3e6a-9d7c-4b1e-8a55-0d2f6c1b7e42',
  decision_id: 'd-5f0c3e6a-9d7c-4b1e-8a55-0d2f6c1b7e42',
  fallback: null,
});

type CreateServer = typeof current.createFastPathServer;

/** The fast path's server from git commit `base`, extracted beside this project's node_modules. */
async function baselineServer(base: string): Promise<CreateServer> {
  const dir = workDir(`baseline-${base.slice(0, 12)}`);
  const archive = execFileSync('git', ['archive', base, 'src/shared'], { cwd: PROJECT_ROOT });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  mkdirSync(join(dir, 'src'), { recursive: true });
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'));
  const module = (await import(pathToFileURL(join(dir, 'src/shared/http/fast-path-server.ts')).href)) as {
    createFastPathServer: CreateServer;
  };
  return module.createFastPathServer;
}

/** A fast-path server on a free loopback port whose one hot route answers DECISION. */
async function serve(create: CreateServer): Promise<{ server: Server; url: string }> {
  const answer = (json: string) => ({ status: 200, json });
  // A superset of both versions' options: the older one ignores what it does not know.
  const server = create((_request, response) => response.writeHead(404).end(), {
    routes: [{ path: /^\/v1\/decisions\/fraud$/, handle: (_request, reply) => reply.send(answer(DECISION)) }],
    bodyLimit: 1 << 20,
    parse: (bytes) => (bytes.length === 0 ? undefined : (JSON.parse(bytes.toString()) as unknown)),
    failure: () => ({ answer: { status: 500, json: '{}' }, unexpected: false }),
    tooLarge: () => ({ status: 413, json: '{}' }),
    undecodable: () => ({ status: 400, json: '{}' }),
    lingerOnTooLarge: false,
    draining: () => false,
    logger: silentLogger,
    keepAliveTimeout: 65_000,
    clientLimits: CLIENT_LIMITS_DEFAULTS,
    refused: () => ({ status: 400, json: '{}' }),
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/decisions/fraud` };
}

const base =
  process.env.BENCH_ANSWER_BASE ??
  execFileSync('git', ['merge-base', 'HEAD', 'main'], { cwd: PROJECT_ROOT }).toString().trim();
// BENCH_ANSWER_CONTROL=1: B against itself (an A/A run), to see how far apart two identical
// servers measure on this machine.
const control = process.env.BENCH_ANSWER_CONTROL === '1';
const variants = {
  A: await serve(control ? current.createFastPathServer : await baselineServer(base)),
  B: await serve(current.createFastPathServer),
};
const body = bodyFile('decision.json', fraudDecisionBody());
const headers = { 'accept-encoding': 'gzip, deflate' };

/** ns of this process's CPU per answered request over one wrk run against `url`. */
async function nsPerRequest(url: string, seconds: number): Promise<{ ns: number; rps: number }> {
  const started = process.cpuUsage();
  const result = await runLoad({ url, connections: CONNECTIONS, seconds, bodyFile: body, headers });
  const used = process.cpuUsage(started);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { ns: ((used.user + used.system) * 1000) / result.requests, rps: result.rps };
}

console.log(
  `A: ${control ? 'this checkout (A/A control)' : `fast path at ${base.slice(0, 12)}`}; B: this checkout. ${CONNECTIONS} connections, ${SECONDS} s a run.`,
);
for (const variant of Object.values(variants)) await nsPerRequest(variant.url, 2); // warm-up, unrecorded
const differences: number[] = [];
const rows: string[] = [];
for (let repeat = 0; repeat < REPEATS; repeat++) {
  const order = repeat % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
  const runs: Partial<Record<'A' | 'B', { ns: number; rps: number }>> = {};
  for (const name of order) runs[name] = await nsPerRequest(variants[name].url, SECONDS);
  const a = runs.A!;
  const b = runs.B!;
  differences.push(b.ns - a.ns);
  rows.push(
    `| ${repeat + 1} | ${order.join(' ')} | ${a.ns.toFixed(0)} | ${b.ns.toFixed(0)} | ${(b.ns - a.ns).toFixed(0)} | ${a.rps.toFixed(0)} | ${b.rps.toFixed(0)} |`,
  );
}
console.log('| repeat | order | A ns CPU/req | B ns CPU/req | B − A | A req/s | B req/s |');
console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
const sorted = [...differences].sort((x, y) => x - y);
console.log(
  `median B − A: ${median(differences).toFixed(0)} ns/request (range ${sorted[0]!.toFixed(0)} .. ${sorted.at(-1)!.toFixed(0)})`,
);
for (const variant of Object.values(variants)) variant.server.close();
process.exit(0);
