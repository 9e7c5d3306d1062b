import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';
import { Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { healthService, type HealthCheckResponse } from '../shared/grpc/inference.js';
import { createStaticDiscovery, originOf } from './discovery.js';
import { createUpstreamMetrics } from './metrics.js';
import { createUpstreamPool } from './pool.js';
import {
  infer,
  recordingLogger,
  settlesWithin,
  startRuntime,
  testConfig,
  waitFor,
  type TestRuntime,
} from '../../test/harness/upstream-servers.js';

const NAME = 'runtime.switchyard.test';

/** `which`, plus the sbin directories a non-root PATH often lacks. */
function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A port free for both UDP and TCP on 127.0.0.1 right now (dnsmasq listens on both). */
async function freePort(): Promise<number> {
  const tcp = createServer();
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  const { port } = tcp.address() as AddressInfo;
  const udp = createSocket('udp4');
  try {
    udp.bind(port, '127.0.0.1');
    await once(udp, 'listening');
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    return port;
  } catch {
    udp.close();
    return await freePort();
  } finally {
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }
}

interface Dnsmasq {
  port: number;
  /** Rewrites the hosts file and makes dnsmasq reread it (SIGHUP). */
  setRecords(addresses: readonly string[]): void;
  stop(): Promise<void>;
}

async function startDnsmasq(binary: string, dir: string, addresses: readonly string[]): Promise<Dnsmasq> {
  const hostsFile = join(dir, 'hosts');
  const write = (list: readonly string[]) =>
    writeFileSync(hostsFile, list.map((address) => `${address} ${NAME}\n`).join(''));
  write(addresses);
  // Another process may take the port between the probe and dnsmasq's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchDnsmasq(binary, dir, await freePort(), write);
    } catch (err) {
      if (attempt >= 5 || !String(err).includes('Address already in use')) throw err;
    }
  }
}

async function launchDnsmasq(
  binary: string,
  dir: string,
  port: number,
  write: (list: readonly string[]) => void,
): Promise<Dnsmasq> {
  const hostsFile = join(dir, 'hosts');
  const args = [
    '--keep-in-foreground',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    `--addn-hosts=${hostsFile}`,
    // Authoritative for the test domain: a missing record is NXDOMAIN/NODATA, not REFUSED.
    '--local=/switchyard.test/',
    '--local-ttl=0',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    '--log-facility=-',
  ];
  // Without --user, dnsmasq started as root switches to nobody; as non-root it cannot switch.
  if (process.getuid?.() === 0) args.push('--user=root');
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + 4000;
  for (;;) {
    if (child.exitCode !== null) {
      await new Promise((resolve) => setImmediate(resolve)); // let its last stderr arrive
      throw new Error(`dnsmasq exited: ${stderr}`);
    }
    try {
      await resolver.resolve4(NAME);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`dnsmasq did not answer: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  return {
    port,
    setRecords(list) {
      write(list);
      child.kill('SIGHUP');
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      if (!(await settlesWithin(exited, 2000))) {
        child.kill('SIGKILL');
        await settlesWithin(exited, 2000);
      }
    },
  };
}

/** dnsmasq's path; undefined, and the test skipped, when it is not installed. */
function dnsmasqOrSkip(t: { skip(message: string): void }): string | undefined {
  const binary = findExecutable('dnsmasq');
  if (binary === undefined) t.skip('dnsmasq not installed: apt-get install dnsmasq-base');
  return binary;
}

/** A second runtime on another loopback address with the same port, as pods behind one Service. */
async function startPair(): Promise<[TestRuntime, TestRuntime]> {
  for (let attempt = 0; ; attempt++) {
    const first = await startRuntime({ host: '127.0.0.1' });
    try {
      return [first, await startRuntime({ host: '127.0.0.2', port: first.port })];
    } catch (err) {
      await first.close();
      if (attempt >= 5) throw err;
    }
  }
}

describe('discovery', () => {
  it('static: origins, deduplicated', async () => {
    const seen: (readonly string[])[] = [];
    await createStaticDiscovery(['http://b:80/', 'http://a:8000', 'http://b']).start((o) => seen.push(o));
    assert.deepEqual(seen, [['http://a:8000', 'http://b']]);
    assert.equal(originOf('10.0.0.1', 8000), 'http://10.0.0.1:8000');
    assert.equal(originOf('fd00::1', 8000), 'http://[fd00::1]:8000');
  });

  it('static and dns: grpc endpoints keep their scheme (WHATWG URL gives grpc: the origin "null")', async () => {
    const seen: (readonly string[])[] = [];
    await createStaticDiscovery([
      'grpc://b:8001/',
      'http://b:8000',
      'grpc://[fd00::1]:8001',
      'grpc://b:8001',
    ]).start((o) => seen.push(o));
    assert.deepEqual(seen, [['grpc://[fd00::1]:8001', 'grpc://b:8001', 'http://b:8000']]);
    assert.equal(originOf('10.0.0.1', 8001, 'grpc'), 'grpc://10.0.0.1:8001');
    assert.equal(originOf('fd00::1', 8001, 'grpc'), 'grpc://[fd00::1]:8001');
  });

  it('dns: adds and drains endpoints as records change, keeps the last set when lookups fail', async (t) => {
    const binary = dnsmasqOrSkip(t);
    if (binary === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-dns-'));
    const [one, two] = await startPair();
    let dns: Dnsmasq | undefined;
    const registry = new Registry();
    const logger = recordingLogger();
    let pool: ReturnType<typeof createUpstreamPool> | undefined;
    try {
      dns = await startDnsmasq(binary, dir, ['127.0.0.1']);
      pool = createUpstreamPool(
        'onnx',
        testConfig({
          dns: {
            name: NAME,
            port: one.port,
            protocol: 'http',
            interval_ms: 100,
            servers: [`127.0.0.1:${dns.port}`],
          },
        }),
        { metrics: createUpstreamMetrics(registry), logger },
      );
      const p = pool;
      const urls = () => p.endpoints().map((e) => e.url);
      await pool.start();
      assert.deepEqual(urls(), [one.url], 'the first lookup ran in start()');
      assert.equal(pool.status()[0]?.health, 'healthy', 'and the first health check');

      dns.setRecords(['127.0.0.1', '127.0.0.2']);
      await waitFor('second endpoint added', () => urls().length === 2);
      assert.deepEqual(urls(), [one.url, two.url]);

      // Removal with a request in flight: drained first, closed once it finishes.
      one.infer = 'hold';
      const leaving = p.endpoints().find((e) => e.url === one.url);
      assert.ok(leaving);
      leaving.acquire();
      const inFlight = infer(leaving);
      await waitFor('request held', () => one.held === 1);
      dns.setRecords(['127.0.0.2']);
      await waitFor('first endpoint draining', () =>
        p.status().some((s) => s.url === one.url && s.drainReasons.includes('removed')),
      );
      for (let i = 0; i < 20; i++) {
        const picked = p.pick();
        assert.equal(picked?.url, two.url);
        picked?.release('ok');
      }
      assert.ok(urls().includes(one.url), 'still listed while its request runs');
      one.releaseHeld();
      assert.equal((await inFlight).status, 200);
      await waitFor('first endpoint gone', () => urls().length === 1);
      assert.deepEqual(urls(), [two.url]);
      assert.equal(leaving.dispatcher?.closed, true);

      // A name without records, then no DNS server at all: the last set stays.
      dns.setRecords([]);
      await waitFor('an empty answer', () =>
        logger.entries.some((e) => e.msg === 'dns name has no A/AAAA records'),
      );
      await dns.stop();
      await waitFor('a failed lookup', () => logger.entries.some((e) => e.msg === 'dns lookup failed'));
      assert.deepEqual(urls(), [two.url]);
      const picked = p.pick();
      assert.equal(picked?.url, two.url);
      picked?.release('ok');

      const text = await registry.metrics();
      assert.match(text, /switchyard_upstream_dns_resolutions_total\{upstream="onnx",outcome="ok"\} \d+/);
      assert.match(text, /switchyard_upstream_dns_resolutions_total\{upstream="onnx",outcome="empty"\} \d+/);
      assert.match(text, /switchyard_upstream_dns_resolutions_total\{upstream="onnx",outcome="fail"\} \d+/);
    } finally {
      await pool?.close();
      await dns?.stop();
      await one.close();
      await two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dns with protocol grpc: grpc:// endpoints, health-checked over gRPC, their channel closed when they leave', async (t) => {
    const binary = dnsmasqOrSkip(t);
    if (binary === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-dns-'));
    // A grpc.health.v1 server on 127.0.0.1 only: the record 127.0.0.2 finds nothing there.
    const server = new Server();
    server.addService(healthService(), {
      Check: (_call: unknown, done: sendUnaryData<HealthCheckResponse>) => done(null, { status: 'SERVING' }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    let dns: Dnsmasq | undefined;
    let pool: ReturnType<typeof createUpstreamPool> | undefined;
    try {
      dns = await startDnsmasq(binary, dir, ['127.0.0.1']);
      pool = createUpstreamPool(
        'onnx',
        testConfig({
          dns: { name: NAME, port, protocol: 'grpc', interval_ms: 100, servers: [`127.0.0.1:${dns.port}`] },
        }),
      );
      const p = pool;
      await pool.start();
      const [first] = pool.endpoints();
      assert.deepEqual(
        [first?.url, first?.protocol, first?.dispatcher, pool.status()[0]?.health],
        [`grpc://127.0.0.1:${port}`, 'grpc', undefined, 'healthy'],
      );

      dns.setRecords(['127.0.0.2']);
      await waitFor('first endpoint gone', () => p.endpoints().every((e) => e.url !== first?.url));
      assert.deepEqual(
        p.endpoints().map((e) => e.url),
        [`grpc://127.0.0.2:${port}`],
      );
      assert.equal(first?.grpc?.closed, true, 'its channel is closed');
      await waitFor('nothing serves 127.0.0.2', () => p.status()[0]?.health === 'unhealthy');
    } finally {
      await pool?.close();
      await dns?.stop();
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
