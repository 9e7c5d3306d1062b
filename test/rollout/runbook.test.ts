import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fraudGatewayConfig, startGateway, DEMO_KEY, type GatewayUnderTest } from '../harness/gateway.js';
import { PROJECT_ROOT, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { byKind, kubectlMissing, renderOverlay } from '../k8s/kubectl.js';

/** Every shell line of the runbook's fenced code blocks, continuation lines joined. */
async function runbookLines(): Promise<string[]> {
  const text = await readFile(join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');
  const lines: string[] = [];
  let fence: string | undefined; // the open block's language, when inside one
  for (const raw of text.replace(/\\\n\s*/g, ' ').split('\n')) {
    const opener = /^```(\w*)/.exec(raw.trim());
    if (opener) {
      fence = fence === undefined ? opener[1]! : undefined;
      continue;
    }
    const line = raw.trim();
    if (fence !== undefined && ['', 'sh', 'bash', 'shell'].includes(fence) && line && !line.startsWith('#'))
      lines.push(line);
  }
  return lines;
}

let runtime: StartedProcess;
let gateway: GatewayUnderTest;
let dir: string;
before(async () => {
  runtime = await startRuntime();
  gateway = await startGateway(fraudGatewayConfig([runtime.url]));
  dir = await mkdtemp(join(tmpdir(), 'switchyard-runbook-'));
});
after(async () => {
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
  await rm(dir, { recursive: true, force: true });
});

test('every switchyard command in the runbook exists and accepts its arguments', async () => {
  const commands = (await runbookLines()).filter((l) => l.startsWith('switchyard '));
  assert.ok(commands.length >= 5, `only ${commands.length} switchyard commands found`);
  for (const command of commands) {
    // Run against a copy of the file it names, so the repository's config is never edited.
    const config = join(dir, 'gateway.yaml');
    await copyFile(join(PROJECT_ROOT, 'k8s', 'base', 'gateway.yaml'), config);
    const args = command.split(/\s+/).slice(1);
    const at = args.indexOf('--config');
    if (at >= 0) args[at + 1] = config;
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    // 0 is success; 1 is a refusal the operator should read (e.g. nothing to roll back); 2 would be a usage error.
    assert.ok(
      result.status === 0 || result.status === 1,
      `${command} → exit ${result.status}: ${result.stderr}`,
    );
    assert.doesNotMatch(result.stderr, /usage|unknown command/i, command);
  }
});

test('every gateway path the runbook curls is a real route', async () => {
  const curls = (await runbookLines()).filter((l) => l.startsWith('curl '));
  assert.ok(curls.length >= 5);
  for (const line of curls) {
    const path = /"\$GW(\/[^"]*)"/.exec(line)?.[1];
    if (!path) continue;
    // curl posts when told to or when it sends data; the runbook's own body where it is literal JSON.
    const post = /-X POST|\s-d\s/.test(line);
    const literal = /-d '(\{.*?\})'/.exec(line)?.[1];
    const response = await fetch(`${gateway.url}${path}`, {
      method: post ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
      ...(post ? { body: literal ?? JSON.stringify({ endpoint: runtime.url }) } : {}),
    });
    assert.notEqual(response.status, 404, `${path} is not a route (${line})`);
    assert.ok(response.status < 500, `${path} → ${response.status}`);
  }
});

test(
  'every Kubernetes object and label the runbook names exists in the rendered manifests',
  { skip: kubectlMissing() },
  async () => {
    const objects = renderOverlay('gpu');
    const names = new Set(objects.map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`));
    const labels = new Set(
      objects.flatMap((o) => {
        const template = (o as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } })
          .spec?.template?.metadata?.labels;
        return Object.entries({ ...o.metadata.labels, ...template }).map(([k, v]) => `${k}=${v}`);
      }),
    );
    const kinds: Record<string, string> = {
      svc: 'service',
      hpa: 'horizontalpodautoscaler',
      pdb: 'poddisruptionbudget',
      configmap: 'configmap',
      deployment: 'deployment',
    };
    for (const line of (await runbookLines()).filter((l) => l.startsWith('kubectl '))) {
      for (const match of line.matchAll(/\b(svc|hpa|pdb|configmap|deployment)[/ ]([a-z0-9-]+)/g)) {
        assert.ok(names.has(`${kinds[match[1]!]}/${match[2]}`), `${match[1]} ${match[2]} in: ${line}`);
      }
      for (const match of line.matchAll(/-l ([\w./-]+=[\w.-]+)/g)) {
        assert.ok(labels.has(match[1]!), `label ${match[1]} in: ${line}`);
      }
    }
    assert.ok(byKind(objects, 'Deployment').length >= 2);
  },
);
