import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { Registry } from 'prom-client';
import { parseDocument } from 'yaml';
import { ERRORS } from '../../src/errors.js';
import { ModelStates } from '../../src/gateway/model-state.js';
import { createGatewayMetrics } from '../../src/telemetry/metrics.js';
import { createRuntimeMetrics } from '../../runtimes/onnx/metrics.js';
import { DEMO_KEY, DEMO_KEY_SHA256, startGateway, type GatewayUnderTest } from '../harness/gateway.js';
import { CLI, PROJECT_ROOT, waitFor, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import {
  DEAD_KUBECONFIG,
  K8S,
  kubectl,
  kubectlMissing,
  renderOverlay,
  type K8sObject,
} from '../k8s/kubectl.js';
import { checkReferences, parseKubectl } from './kubectl-check.js';
import { pipeline, runbookBlocks, words } from './runbook-lines.js';

const RUNBOOK = await readFile(join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');
const blocks = runbookBlocks();
const shellLines = blocks.filter((b) => b.language === 'sh').flatMap((b) => b.lines);
const CLUSTER_CONFIG = join(K8S, 'base', 'gateway.yaml');
/** The variables the runbook's setup exports; the test gives each a value for its own processes. */
const SHELL_VARIABLES = ['GW', 'ADMIN_KEY', 'KEY'];
const PLACEHOLDER_VARIABLES = ['POD', 'RUNTIME'];
const kubectlSkip = kubectlMissing();
const curlSkip = spawnSync('curl', ['--version']).status === 0 ? undefined : 'curl is not installed';

let runtime: StartedProcess;
let gateway: GatewayUnderTest;
let dir: string;
let shellEnv: NodeJS.ProcessEnv;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-runbook-'));
  runtime = await startRuntime();
  // The cluster's own rollout file (shadows, cache, two tenants), on the test runtime and without
  // Redis; the admin tenant's key is the demo key.
  const doc = parseDocument(await readFile(CLUSTER_CONFIG, 'utf8'));
  doc.setIn(['upstreams', 'onnx'], { endpoints: [runtime.url], health: { interval_ms: 200 } });
  gateway = await startGateway(doc.toString(), {
    env: {
      SWITCHYARD_REDIS_URL: '',
      SWITCHYARD_KEY_SHA256_CHECKOUT: 'c'.repeat(64),
      SWITCHYARD_KEY_SHA256_ML_PLATFORM: DEMO_KEY_SHA256,
    },
  });
  // Gateways start before their first health check passes; the runbook's probes expect a model answer.
  await waitFor(
    'the runtime healthy in the gateway',
    async () => {
      const response = await fetch(`${gateway.url}/admin/upstreams`, {
        headers: { authorization: `Bearer ${DEMO_KEY}` },
      });
      return /"health":"healthy"/.test(await response.text());
    },
    20_000,
    100,
  );
  shellEnv = {
    ...process.env,
    GW: gateway.url,
    ADMIN_KEY: DEMO_KEY,
    KEY: DEMO_KEY,
    RUNTIME: new URL(runtime.url).host,
    KUBECONFIG: DEAD_KUBECONFIG,
  };
});
after(async () => {
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
  await rm(dir, { recursive: true, force: true });
});

function bash(line: string, cwd = dir) {
  return spawnSync('bash', ['-c', `set -o pipefail\n${line}`], {
    cwd,
    env: shellEnv,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('every shell line of the runbook is a command this test knows how to check', () => {
  assert.ok(shellLines.length >= 25, `only ${shellLines.length} commands`);
  for (const line of shellLines) {
    const first = words(line).find((w) => !/^[A-Z_][A-Z0-9_]*=/.test(w));
    assert.ok(
      ['switchyard', 'curl', 'kubectl', 'export'].includes(first ?? ''),
      `unchecked command: ${line}`,
    );
  }
  const exported = shellLines.filter((l) => l.startsWith('export ')).map((l) => words(l)[1]!.split('=')[0]);
  assert.deepEqual(exported.sort(), [...SHELL_VARIABLES].sort());
  for (const match of RUNBOOK.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)) {
    if (match[1]!.startsWith('SWITCHYARD_')) continue; // set inline where used
    assert.ok(
      [...SHELL_VARIABLES, ...PLACEHOLDER_VARIABLES].includes(match[1]!),
      `$${match[1]} is never explained`,
    );
  }
});

test('every switchyard command in the runbook runs and succeeds, in order, on a copy of the file it names', async () => {
  const isSwitchyard = (l: string) => words(l).find((w) => !w.includes('=')) === 'switchyard';
  const commands = blocks
    .filter((b) => b.language === 'sh')
    .flatMap((b, block) => b.lines.filter(isSwitchyard).map((line) => ({ line, block })));
  assert.ok(commands.length >= 8);
  const cli = ['node', ...CLI].map((word) => JSON.stringify(word)).join(' ');
  // The commands of one block are a sequence (add a variant, then give it weight): they share a copy.
  const copies = new Map<string, string>();
  for (const [index, { line, block }] of commands.entries()) {
    const argv = words(line);
    const at = argv.indexOf('--config');
    assert.ok(at > 0, `${line}: names its file (the default is the example, not the cluster's)`);
    const named = argv[at + 1]!;
    let copy = copies.get(`${block}:${named}`);
    if (!copy) {
      // `gateway.yaml` in the no-checkout recipe is what `kubectl get configmap` saved: the cluster file.
      const source = existsSync(join(PROJECT_ROOT, named)) ? join(PROJECT_ROOT, named) : CLUSTER_CONFIG;
      copy = join(dir, `config-${index}.yaml`);
      await copyFile(source, copy);
      copies.set(`${block}:${named}`, copy);
      if (argv.includes('rollback')) {
        // A rollback follows a change; make the one it undoes.
        const promote = bash(`${cli} rollout fraud promote v2 --config ${copy}`, PROJECT_ROOT);
        assert.equal(promote.status, 0, promote.stderr);
      }
    }
    const rewritten = line
      .replace(`--config ${named}`, `--config ${copy}`)
      .replace(/\bswitchyard /, `${cli} `);
    const result = bash(rewritten, PROJECT_ROOT);
    assert.equal(result.status, 0, `${line}\n${result.stdout}${result.stderr}`);
    if (argv.includes('rollout') && !argv.includes('show')) assert.match(result.stdout, /^wrote /m, line);
    if (argv.includes('validate')) assert.match(result.stdout, /^ok /, line);
  }
});

test(
  'every curl in the runbook answers 2xx from a real gateway, with the demo key',
  { skip: curlSkip },
  () => {
    const curls = shellLines.filter((l) => l.startsWith('curl '));
    assert.ok(curls.length >= 7);
    assert.ok(
      curls.some((l) => l.includes('/drain?wait=true')),
      'the runbook drains an endpoint',
    );
    for (const line of curls) {
      const result = bash(line);
      assert.equal(result.status, 0, `${line}\nexit ${result.status}: ${result.stderr}`);
      // The drain finds the endpoint by the runbook's IP:port form and waits until it is idle.
      if (line.includes('/drain?wait=true')) assert.match(result.stdout, /"drained":true/);
    }
  },
);

test('the server-timing example lists entries a real answer has, and the error codes are real', async () => {
  const example = blocks.find((b) => b.language === 'text' && b.lines.join(' ').includes('rt-queue'));
  assert.ok(example, 'a server-timing example');
  const names = (header: string) => header.split(',').map((entry) => entry.trim().split(';')[0]);
  const decision = shellLines.find((l) => l.includes('/v1/decisions/fraud'))!;
  const result = bash(decision.replace('-o /dev/null', '-o /dev/null -s'));
  const header = /^server-timing: (.*)$/im.exec(result.stdout)?.[1];
  assert.ok(header, result.stdout);
  assert.deepEqual(names(example.lines.join(' ')), names(header!.trim()), result.stdout);
  for (const match of RUNBOOK.matchAll(/SWY_ERR_([A-Z_]+)/g)) {
    assert.ok(match[1]! in ERRORS, `SWY_ERR_${match[1]} is not in src/errors.ts`);
  }
});

/** Every metric of gateway and runtime, with its label names. */
function metricLabels(): Map<string, readonly string[]> {
  const registries: Registry[] = [
    createGatewayMetrics(new ModelStates()).registry,
    createRuntimeMetrics().registry,
  ];
  const labels = new Map<string, readonly string[]>();
  for (const registry of registries) {
    for (const { name } of registry.getMetricsAsArray()) {
      const metric = registry.getSingleMetric(name) as unknown as { labelNames?: readonly string[] };
      labels.set(name, metric.labelNames ?? []);
    }
  }
  return labels;
}

test('every metric the runbook names exists, and every label it groups or filters by is one of its labels', () => {
  const known = metricLabels();
  const family = (name: string) => (known.has(name) ? name : name.replace(/_(bucket|sum|count)$/, ''));
  for (const match of RUNBOOK.matchAll(/\bswitchyard_[a-z0-9_]+/g)) {
    assert.ok(known.has(family(match[0])), `${match[0]} is not a metric`);
  }
  const queries = blocks.filter((b) => b.language === 'promql').flatMap((b) => b.lines);
  assert.ok(queries.length >= 15);
  for (const query of queries) {
    const metrics = [...query.matchAll(/\bswitchyard_[a-z0-9_]+/g)].map((m) => family(m[0]));
    const allowed = new Set(metrics.flatMap((m) => known.get(m) ?? []));
    if (query.includes('_bucket')) allowed.add('le');
    const used = [
      ...[...query.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
      ...[...query.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
        [...m[1]!.matchAll(/(\w+)\s*=/g)].map((l) => l[1]!),
      ),
    ];
    for (const label of used)
      assert.ok(allowed.has(label), `${query}: ${label} is not a label of ${metrics.join(', ')}`);
  }
});

test(
  'every kubectl command uses flags kubectl has, and names objects, labels and directories that k8s/ renders',
  { skip: kubectlSkip },
  async () => {
    const objects: K8sObject[] = renderOverlay('gpu');
    const segments = shellLines.filter((l) => l.startsWith('kubectl ')).flatMap(pipeline);
    assert.ok(segments.length >= 15);
    for (const argv of segments) {
      assert.equal(argv[0], 'kubectl', `only kubectl in kubectl pipelines: ${argv.join(' ')}`);
      const parsed = parseKubectl(argv);
      const selected = checkReferences(parsed, objects);
      const command = parsed.path.join(' ');

      if (command === 'apply' && parsed.flags.has('k')) {
        // "Apply only the ConfigMap": the selector picks exactly the rollout file.
        assert.deepEqual(
          selected.map((o) => `${o.kind}/${o.metadata.name}`),
          ['ConfigMap/switchyard-gateway-config'],
        );
      }
      if (command === 'patch') {
        // The patched HPA is still a valid HPA.
        const [target] = selected;
        assert.ok(target, argv.join(' '));
        const patch = JSON.parse(String(parsed.flags.get('p'))) as { spec: Record<string, unknown> };
        const patched = { ...target, spec: { ...(target.spec as object), ...patch.spec } };
        new HorizontalPodAutoscaler(patched as never).validate();
      }
      if (command === 'port-forward') {
        const [, ports] = parsed.positionals;
        const remote = Number(ports!.split(':')[1]);
        assert.ok((selected[0]?.spec as { ports: { port: number }[] }).ports.some((p) => p.port === remote));
      }
      if (command === 'label') {
        // Removing this label takes the pod out of its ReplicaSet, the headless Service and the
        // runtime NetworkPolicy at once, as the runbook says.
        const key = parsed.positionals.find((p) => p.endsWith('-'))!.slice(0, -1);
        const deployment = objects.find(
          (o) => o.kind === 'Deployment' && o.metadata.name === 'onnx-runtime',
        )!;
        const selectors = [
          (deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
          (
            objects.find((o) => o.kind === 'Service' && o.metadata.name === 'onnx-runtime')!.spec as {
              selector: Record<string, string>;
            }
          ).selector,
          (
            objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'onnx-runtime-ingress')!
              .spec as {
              podSelector: { matchLabels: Record<string, string> };
            }
          ).podSelector.matchLabels,
        ];
        for (const selector of selectors) assert.ok(key in selector, `${key} is in every runtime selector`);
      }
      if (parsed.flags.get('dry-run') === 'client') {
        // Needs no cluster: run it, with the file it reads.
        await writeFile(join(dir, 'gateway.yaml'), await readFile(CLUSTER_CONFIG, 'utf8'));
        const result = kubectl(argv.slice(1), { cwd: dir });
        assert.equal(result.status, 0, result.stderr);
        const made = parseDocument(result.stdout).toJS() as K8sObject & { data: Record<string, string> };
        assert.equal(made.kind, 'ConfigMap');
        assert.equal(made.metadata.name, 'switchyard-gateway-config');
        assert.equal(made.data['gateway.yaml'], await readFile(CLUSTER_CONFIG, 'utf8'));
      }
    }
  },
);
