import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';
import type { IStatefulSet } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { INetworkPolicy, INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IConfigMap, IContainer, IProbe, IService } from 'kubernetes-models/v1';
import { parseDocument } from 'yaml';
import { parseGatewayArgs } from '../../src/cli/gateway.js';
import { parseRuntimeArgs } from '../../src/cli/runtime.js';
import { parseConfigText } from '../../src/config/load.js';
import { AUTH, startGateway } from '../harness/gateway.js';
import { PROJECT_ROOT, type StartedProcess } from '../harness/process.js';
import { healthClient } from '../harness/grpc.js';
import { grpcPortOf, startRuntime } from '../harness/runtime.js';
import { execForm, parseDockerfile, stageNamed } from './dockerfile.js';
import {
  K8S,
  OVERLAYS,
  byKind,
  find,
  kubectlMissing,
  matches,
  render,
  renderOverlay,
  type K8sObject,
  type Overlay,
} from './kubectl.js';
import {
  EXTERNAL_SECRETS,
  container,
  containerEnv,
  preStopMs,
  schemaProblems,
  template,
  workloads,
  type Workload,
} from './objects.js';

const skip = kubectlMissing();
const rendered = new Map<Overlay, K8sObject[]>(skip ? [] : OVERLAYS.map((o) => [o, renderOverlay(o)]));
const NAMESPACE = 'switchyard';
const GATEWAY = 'switchyard-gateway';
const RUNTIME = 'onnx-runtime';

const objectsOf = (overlay: Overlay): K8sObject[] => rendered.get(overlay)!;
const workload = (objects: readonly K8sObject[], name: string): Workload => {
  const found = workloads(objects).find((w) => w.metadata.name === name);
  assert.ok(found, `no workload ${name}`);
  return found;
};
const labelsOf = (w: Workload): Record<string, string> => template(w).metadata?.labels ?? {};
const portNumber = (c: IContainer, port: string | number | undefined): number | undefined =>
  typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
const probes = (c: IContainer): [string, IProbe][] =>
  (['startupProbe', 'readinessProbe', 'livenessProbe'] as const).flatMap((kind) =>
    c[kind] ? [[kind, c[kind]!]] : [],
  );

/** The switchyard CLI arguments a container runs, after checking its command is the image's entrypoint. */
function cliArgs(c: IContainer, dockerfile: string): string[] {
  const parsed = parseDockerfile(dockerfile);
  const last = parsed.stages[parsed.stages.length - 1]!;
  assert.deepEqual(
    c.command,
    execForm(last, 'ENTRYPOINT'),
    `${c.name}: command is ${dockerfile}'s ENTRYPOINT`,
  );
  return c.args ?? [];
}

function gatewayOf(objects: readonly K8sObject[]) {
  const deployment = workload(objects, GATEWAY);
  const c = container(deployment, 'gateway');
  const args = cliArgs(c, 'Dockerfile.gateway');
  assert.equal(args[0], 'gateway');
  return { deployment, container: c, options: parseGatewayArgs(args.slice(1)) };
}

function runtimeOf(objects: readonly K8sObject[]) {
  const deployment = workload(objects, RUNTIME);
  const c = container(deployment, 'runtime');
  const args = cliArgs(c, 'Dockerfile.runtime');
  assert.equal(args[0], 'runtime');
  return { deployment, container: c, options: parseRuntimeArgs(args.slice(1)) };
}

/** The gateway config in the ConfigMap the gateway's --config reads, checking how it is mounted. */
function mountedConfig(objects: readonly K8sObject[]): { text: string; configMap: IConfigMap & K8sObject } {
  const { deployment, container: c, options } = gatewayOf(objects);
  const dir = posix.dirname(options.config);
  const file = posix.basename(options.config);
  const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
  assert.ok(mount, `nothing is mounted at ${dir}, the directory of --config ${options.config}`);
  // A subPath mount never sees the kubelet's ..data symlink swap: the file would stay the first version.
  assert.equal(mount.subPath, undefined, 'the config directory is mounted whole, not with subPath');
  assert.ok(
    !c.volumeMounts?.some((m) => m.mountPath === options.config),
    'no file-level mount of the config',
  );
  const volume = template(deployment).spec?.volumes?.find((v) => v.name === mount.name);
  const name = volume?.configMap?.name;
  assert.ok(name, `the volume at ${dir} is a ConfigMap`);
  const key = volume.configMap?.items?.find((item) => item.path === file)?.key ?? file;
  const configMap = find<IConfigMap & K8sObject>(objects, 'ConfigMap', name);
  assert.ok(configMap, `ConfigMap ${name} is rendered`);
  const text = configMap.data?.[key];
  assert.ok(text !== undefined, `ConfigMap ${name} has the key ${key} that --config reads`);
  return { text, configMap };
}

for (const overlay of OVERLAYS) {
  test(`${overlay}: every rendered object validates against its Kubernetes schema`, { skip }, () => {
    const objects = objectsOf(overlay);
    assert.deepEqual(objects.flatMap(schemaProblems), []);
    const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
      'no object twice',
    );
    for (const o of objects) {
      if (o.kind !== 'Namespace')
        assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind} ${o.metadata.name}`);
    }
    for (const map of [...byKind<IConfigMap & K8sObject>(objects, 'ConfigMap')]) {
      assert.ok(
        JSON.stringify(map.data).length < 1024 * 1024,
        `${map.metadata.name} fits a ConfigMap (1 MiB)`,
      );
    }
  });

  test(
    `${overlay}: workloads select their own pods, run non-root on a read-only filesystem, with resources and pinned images`,
    { skip },
    () => {
      const objects = objectsOf(overlay);
      for (const w of workloads(objects)) {
        const name = `${w.kind} ${w.metadata.name}`;
        assert.ok(
          matches(w.spec?.selector.matchLabels, labelsOf(w)),
          `${name}: selector matches its template`,
        );
        const pod = template(w).spec!;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`);
        assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${name}: a numeric non-root user`);
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          const where = `${name} container ${c.name}`;
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root`);
          assert.equal(
            c.securityContext?.allowPrivilegeEscalation,
            false,
            `${where}: no privilege escalation`,
          );
          assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where}: capabilities dropped`);
          assert.ok(
            c.resources?.requests?.cpu && c.resources.requests.memory,
            `${where}: cpu and memory requests`,
          );
          assert.ok(c.resources?.limits?.memory, `${where}: a memory limit`);
          assert.match(c.image ?? '', /^[\w./-]+(:[\w.-]+)$/, `${where}: an image with a tag`);
          assert.doesNotMatch(
            c.image ?? '',
            /:latest$|^switchyard-(gateway|runtime)$/,
            `${where}: the overlay set the image`,
          );
        }
        for (const c of pod.containers) {
          assert.ok(c.readinessProbe && c.livenessProbe, `${name} ${c.name}: readiness and liveness probes`);
          for (const [kind, probe] of probes(c)) {
            if (probe.httpGet) {
              assert.ok(
                portNumber(c, probe.httpGet.port),
                `${name} ${kind}: port ${probe.httpGet.port} is a container port`,
              );
            }
            if (probe.grpc) {
              assert.equal(
                portNumber(c, 'grpc'),
                probe.grpc.port,
                `${name} ${kind}: gRPC port ${probe.grpc.port} is the container port named grpc`,
              );
            }
          }
        }
      }
      // The HPA owns the replica count; a Deployment's own count would undo its scaling on every apply.
      for (const hpa of byKind<IHorizontalPodAutoscaler & K8sObject>(objects, 'HorizontalPodAutoscaler')) {
        const target = find<Workload>(objects, hpa.spec!.scaleTargetRef.kind, hpa.spec!.scaleTargetRef.name);
        assert.ok(target, `HPA ${hpa.metadata.name} targets a rendered workload`);
        assert.equal(
          target.spec?.replicas,
          undefined,
          `${target.metadata.name}: no spec.replicas beside its HPA`,
        );
        assert.ok((hpa.spec!.minReplicas ?? 1) <= hpa.spec!.maxReplicas);
      }
      const gateway = byKind<IHorizontalPodAutoscaler & K8sObject>(objects, 'HorizontalPodAutoscaler').find(
        (h) => h.spec?.scaleTargetRef.name === GATEWAY,
      );
      if (overlay === 'gpu')
        assert.equal(gateway?.spec?.minReplicas, 3, 'three gateways at least in production');
      const affinity = template(workload(objects, GATEWAY)).spec?.affinity?.podAntiAffinity;
      assert.ok(affinity, 'gateways spread across nodes');
      assert.ok(
        template(workload(objects, GATEWAY)).spec?.topologySpreadConstraints?.some(
          (t) => t.topologyKey === 'kubernetes.io/hostname' && t.whenUnsatisfiable === 'DoNotSchedule',
        ),
      );
    },
  );

  test(
    `${overlay}: Services, PDBs, HPAs and NetworkPolicies point at pods and ports that exist`,
    { skip },
    () => {
      const objects = objectsOf(overlay);
      const all = workloads(objects);
      for (const service of byKind<IService & K8sObject>(objects, 'Service')) {
        const selected = all.filter((w) => matches(service.spec?.selector, labelsOf(w)));
        assert.ok(selected.length > 0, `Service ${service.metadata.name} selects pods`);
        for (const port of service.spec?.ports ?? []) {
          for (const w of selected) {
            const found = template(w).spec!.containers.some((c) =>
              portNumber(c, port.targetPort ?? port.port),
            );
            assert.ok(found, `Service ${service.metadata.name} port ${port.name}: ${w.metadata.name} has it`);
          }
        }
      }
      for (const pdb of byKind<IPodDisruptionBudget & K8sObject>(objects, 'PodDisruptionBudget')) {
        const selected = all.filter((w) => matches(pdb.spec?.selector?.matchLabels, labelsOf(w)));
        assert.equal(selected.length, 1, `PDB ${pdb.metadata.name} covers one workload`);
      }
      for (const name of [GATEWAY, RUNTIME]) {
        const pods = labelsOf(workload(objects, name));
        assert.ok(
          byKind<IPodDisruptionBudget & K8sObject>(objects, 'PodDisruptionBudget').some((p) =>
            matches(p.spec?.selector?.matchLabels, pods),
          ),
          `${name} has a PodDisruptionBudget`,
        );
        assert.ok(
          byKind<IHorizontalPodAutoscaler & K8sObject>(objects, 'HorizontalPodAutoscaler').some(
            (h) => h.spec?.scaleTargetRef.name === name,
          ),
          `${name} has an HPA`,
        );
      }
      for (const policy of byKind<INetworkPolicy & K8sObject>(objects, 'NetworkPolicy')) {
        const selector = policy.spec?.podSelector.matchLabels;
        if (selector === undefined) continue; // {}: every pod of the namespace
        const selected = all.filter((w) => matches(selector, labelsOf(w)));
        assert.ok(selected.length > 0, `NetworkPolicy ${policy.metadata.name} selects pods`);
        for (const rule of policy.spec?.ingress ?? []) {
          for (const port of rule.ports ?? []) {
            for (const w of selected) {
              assert.ok(
                template(w).spec!.containers.some((c) => portNumber(c, port.port)),
                `${policy.metadata.name}: port ${port.port}`,
              );
            }
          }
        }
      }
    },
  );

  test(
    `${overlay}: the gateway reads its ConfigMap as a mounted directory, and the config in it validates with the pod's environment`,
    { skip },
    () => {
      const objects = objectsOf(overlay);
      const { container: c } = gatewayOf(objects);
      const { text, configMap } = mountedConfig(objects);
      // A hash suffix would make every rollout a new ConfigMap and a rolling restart, not a live reload.
      assert.equal(configMap.metadata.name, 'switchyard-gateway-config');
      assert.equal(configMap.metadata.labels?.['app.kubernetes.io/component'], 'rollout-config');
      assert.equal(
        text,
        readFileSync(join(K8S, 'base', 'gateway.yaml'), 'utf8'),
        'the rollout file, as written',
      );
      const env = containerEnv(objects, c);
      const loaded = parseConfigText(text, env, 'ConfigMap switchyard-gateway-config');
      assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.problems));
      const { config } = loaded.snapshot;

      // The port the probes and the Service use is the one the gateway listens on.
      assert.equal(portNumber(c, 'http'), config.listen.port);
      assert.equal(config.listen.host, '0.0.0.0');

      // Every upstream is the runtime's headless Service, by its cluster DNS name and container port.
      const runtime = runtimeOf(objects);
      for (const [name, upstream] of Object.entries(config.upstreams)) {
        assert.ok(upstream.dns, `upstream ${name} is found by DNS`);
        const service = byKind<IService & K8sObject>(objects, 'Service').find(
          (s) => `${s.metadata.name}.${s.metadata.namespace}.svc.cluster.local` === upstream.dns!.name,
        );
        assert.ok(service, `upstream ${name}: ${upstream.dns.name} is a rendered Service`);
        assert.equal(service.spec?.clusterIP, 'None', 'headless: DNS lists every pod');
        assert.equal(service.spec?.publishNotReadyAddresses ?? false, false, 'only ready pods');
        assert.ok(
          matches(service.spec?.selector, labelsOf(runtime.deployment)),
          'it selects the runtime pods',
        );
        assert.equal(upstream.dns.port, runtime.options.port, 'the port the runtime listens on');
        assert.equal(portNumber(runtime.container, 'http'), runtime.options.port);
        assert.equal(upstream.health.path, '/v2/health/ready');
      }

      // Redis: the dev StatefulSet's Service, or (gpu) a managed one from a Secret.
      if (overlay === 'cpu-dev') {
        const url = new URL(config.state.redis_url);
        const [service, namespace] = url.hostname.split('.');
        const redis = find<IService & K8sObject>(objects, 'Service', service!);
        assert.ok(redis && namespace === NAMESPACE, `${url.hostname} is a rendered Service`);
        assert.equal(redis.spec?.ports?.[0]?.port, Number(url.port));
        const statefulSet = workloads(objects).find(
          (w) => w.kind === 'StatefulSet' && matches(redis.spec?.selector, labelsOf(w)),
        ) as (IStatefulSet & K8sObject) | undefined;
        assert.ok(statefulSet, 'a StatefulSet behind the Service');
        // It holds the prediction log's stream: an append-only file, fsynced every second, in a
        // directory on a claim that outlives the pod (README, "Logs and the prediction log").
        const redisContainer = template(statefulSet).spec?.containers?.[0];
        const args = redisContainer?.args ?? [];
        const arg = (flag: string) => args[args.indexOf(flag) + 1];
        assert.equal(arg('--appendonly'), 'yes');
        assert.equal(arg('--appendfsync'), 'everysec');
        const dir = arg('--dir') ?? '/data';
        const mount = redisContainer?.volumeMounts?.find((m) => m.mountPath === dir);
        assert.ok(mount, `Redis's dir ${dir} is a mounted volume`);
        assert.ok(
          statefulSet.spec?.volumeClaimTemplates?.some((claim) => claim.metadata?.name === mount.name),
          `${mount.name} is a PersistentVolumeClaim of the StatefulSet, not an emptyDir`,
        );
      } else {
        assert.match(config.state.redis_url, /^rediss?:\/\//);
        assert.ok(
          !workloads(objects).some((w) => w.kind === 'StatefulSet'),
          'production runs no Redis of its own',
        );
      }
    },
  );

  test(
    `${overlay}: termination grace outlasts preStop + drain delay + grace of gateway and runtime`,
    { skip },
    () => {
      const objects = objectsOf(overlay);
      const gateway = gatewayOf(objects);
      const runtime = runtimeOf(objects);
      for (const { deployment, container: c, options, what } of [
        { ...gateway, what: 'gateway' },
        { ...runtime, what: 'runtime' },
      ]) {
        const graceSeconds = template(deployment).spec?.terminationGracePeriodSeconds ?? 30;
        const needed = preStopMs(c) + options.drainDelayMs + options.graceMs;
        assert.ok(graceSeconds * 1000 > needed, `${what}: ${graceSeconds} s must exceed ${needed} ms`);
        assert.ok(
          options.drainDelayMs >= 5000 || preStopMs(c) >= 5000,
          `${what}: some time for endpoints to notice`,
        );
      }
      assert.ok(preStopMs(gateway.container) > 0, 'the gateway pauses before SIGTERM');
      // The admin drain waits as long as SIGTERM does.
      const { text } = mountedConfig(objects);
      const config = parseDocument(text).toJS() as { admin: { drain_timeout_ms: number } };
      assert.equal(config.admin.drain_timeout_ms, gateway.options.graceMs);
    },
  );

  test(
    `${overlay}: runtime pods get a GPU only in the gpu overlay, their model repository, and time to load`,
    { skip },
    () => {
      const objects = objectsOf(overlay);
      const { deployment, container: c, options } = runtimeOf(objects);
      const pod = template(deployment).spec!;
      const startup = c.startupProbe!;
      assert.equal(startup.httpGet?.path, '/v2/health/ready');
      assert.ok(
        (startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3) >= 120,
        'two minutes at least to load and warm up',
      );
      // Readiness over gRPC: the listener the gateway may call, on the port the runtime serves it.
      assert.equal(c.readinessProbe?.grpc?.port, options.grpcPort);
      assert.equal(portNumber(c, 'grpc'), options.grpcPort);
      assert.equal(c.livenessProbe?.httpGet?.path, '/v2/health/live');
      assert.equal(options.host, '0.0.0.0');

      if (overlay === 'gpu') {
        assert.equal(String(c.resources?.limits?.['nvidia.com/gpu']), '1');
        assert.equal(pod.nodeSelector?.['nvidia.com/gpu.present'], 'true');
        assert.ok(pod.tolerations?.some((t) => t.key === 'nvidia.com/gpu'));
        // The repository is the volume the init container fills from the checked artifact.
        const mount = c.volumeMounts?.find((m) => m.mountPath === options.repository);
        assert.ok(mount, `--repository ${options.repository} is a mounted volume`);
        const fetch = pod.initContainers?.find((i) => i.volumeMounts?.some((m) => m.name === mount.name));
        assert.ok(fetch, 'an init container fills it');
        const env = containerEnv(objects, fetch);
        assert.match(env.MODEL_REPOSITORY_SHA256 ?? '', /^[0-9a-f]{64}$/);
        assert.match(env.MODEL_REPOSITORY_URL ?? '', /^https:\/\//);
        assert.match(fetch.args?.join(' ') ?? '', /sha256sum -c/);
      } else {
        assert.doesNotMatch(JSON.stringify(objects), /nvidia/, 'nothing about GPUs in cpu-dev');
        assert.equal(pod.nodeSelector, undefined);
        assert.equal(pod.tolerations, undefined);
        assert.equal(pod.initContainers, undefined);
        // The demo repository baked into the CPU image.
        const cpu = stageNamed(parseDockerfile('Dockerfile.runtime'), 'cpu');
        const workdir = cpu.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args;
        const copied = cpu.instructions.some(
          (i) =>
            i.keyword === 'COPY' &&
            /^config\/models\s+(\S+)$/.test(i.args) &&
            posix.join(workdir!, i.args.split(/\s+/)[1]!) === options.repository,
        );
        assert.ok(copied, `--repository ${options.repository} is copied into the cpu image`);
        assert.ok(existsSync(join(PROJECT_ROOT, 'config', 'models')));
      }
    },
  );

  test(
    `${overlay}: only the gateways reach the runtimes and Redis; nothing else gets in unasked`,
    { skip },
    () => {
      const objects = objectsOf(overlay);
      const policies = byKind<INetworkPolicy & K8sObject>(objects, 'NetworkPolicy');
      assert.ok(
        policies.some(
          (p) =>
            Object.keys(p.spec?.podSelector ?? {}).length === 0 &&
            p.spec?.policyTypes?.includes('Ingress') &&
            !p.spec.ingress,
        ),
        'a default-deny ingress policy',
      );
      const gatewayLabels = labelsOf(workload(objects, GATEWAY));
      const allowedPeer = (peer: INetworkPolicyPeer, monitoring: boolean): boolean =>
        (peer.podSelector !== undefined &&
          peer.namespaceSelector === undefined &&
          matches(peer.podSelector.matchLabels, gatewayLabels)) ||
        (monitoring &&
          peer.podSelector === undefined &&
          peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring');
      const protectedPods = [
        { name: RUNTIME, monitoring: true },
        ...(overlay === 'cpu-dev' ? [{ name: 'redis', monitoring: false }] : []),
      ];
      for (const { name, monitoring } of protectedPods) {
        const labels = labelsOf(workload(objects, name));
        const selecting = policies.filter((p) => matches(p.spec?.podSelector.matchLabels, labels));
        assert.ok(selecting.length > 0, `${name} has its own policy`);
        for (const policy of selecting) {
          for (const rule of policy.spec?.ingress ?? []) {
            assert.ok(rule.from && rule.from.length > 0, `${policy.metadata.name}: every rule names who`);
            for (const peer of rule.from)
              assert.ok(allowedPeer(peer, monitoring), `${policy.metadata.name}: ${JSON.stringify(peer)}`);
          }
        }
      }
    },
  );
}

test(
  'gpu: the ServiceMonitor scrapes /metrics on the http port of the gateway and runtime Services',
  { skip },
  () => {
    const objects = objectsOf('gpu');
    const [monitor] = byKind(objects, 'ServiceMonitor');
    assert.ok(monitor, 'the gpu overlay has a ServiceMonitor');
    assert.equal(
      byKind(objectsOf('cpu-dev'), 'ServiceMonitor').length,
      0,
      'cpu-dev needs no Prometheus Operator',
    );
    const spec = monitor.spec as {
      selector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
      namespaceSelector: { matchNames: string[] };
      endpoints: { port: string; path: string }[];
    };
    assert.deepEqual(spec.namespaceSelector.matchNames, [NAMESPACE]);
    const selects = (labels: Record<string, string> | undefined) =>
      spec.selector.matchExpressions.every(
        (e) => e.operator === 'In' && e.values.includes(labels?.[e.key] ?? ''),
      );
    const services = byKind<IService & K8sObject>(objects, 'Service').filter((s) =>
      selects(s.metadata.labels),
    );
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), [RUNTIME, GATEWAY].sort());
    for (const endpoint of spec.endpoints) {
      assert.equal(endpoint.path, '/metrics');
      for (const s of services)
        assert.ok(
          s.spec?.ports?.some((p) => p.name === endpoint.port),
          `${s.metadata.name} has port ${endpoint.port}`,
        );
    }
  },
);

test(
  'gpu: every Secret the overlay expects but does not hold is documented in k8s/README.md',
  { skip },
  () => {
    const readme = readFileSync(join(K8S, 'README.md'), 'utf8');
    const { container: c } = gatewayOf(objectsOf('gpu'));
    const referenced = new Set(
      (c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.name ?? ''] : [])),
    );
    assert.deepEqual([...referenced].sort(), Object.keys(EXTERNAL_SECRETS).sort());
    for (const [name, keys] of Object.entries(EXTERNAL_SECRETS)) {
      assert.match(readme, new RegExp(`kubectl -n switchyard create secret generic ${name}`));
      for (const key of Object.keys(keys))
        assert.ok(readme.includes(`--from-literal=${key}=`), `${name}: ${key}`);
    }
  },
);

test(
  'probe paths and ports answer 200 on a real gateway (run on the rendered ConfigMap) and runtime',
  { skip, timeout: 60_000 },
  async () => {
    const objects = objectsOf('cpu-dev');
    const gateway = gatewayOf(objects);
    const runtime = runtimeOf(objects);
    const processes: StartedProcess[] = [];
    try {
      const runtimeProcess = await startRuntime({ grpc: true });
      processes.push(runtimeProcess);
      // The rendered config, with the runtime's address in place of cluster DNS and no Redis.
      const doc = parseDocument(mountedConfig(objects).text);
      doc.setIn(['upstreams', 'onnx'], { endpoints: [runtimeProcess.url], health: { interval_ms: 200 } });
      const env = { ...containerEnv(objects, gateway.container), SWITCHYARD_REDIS_URL: '' };
      const gatewayProcess = await startGateway(doc.toString(), { env });
      processes.push(gatewayProcess);

      for (const [process, c, what] of [
        [gatewayProcess, gateway.container, 'gateway'],
        [runtimeProcess, runtime.container, 'runtime'],
      ] as const) {
        for (const [kind, probe] of probes(c)) {
          if (probe.grpc) {
            // What the kubelet's grpc probe calls: grpc.health.v1 Check, service "".
            const health = healthClient(`127.0.0.1:${grpcPortOf(process)}`);
            const check = await health.call('Check', { service: probe.grpc.service ?? '' });
            health.close();
            assert.deepEqual(check.response, { status: 'SERVING' }, `${what} ${kind} gRPC health Check`);
            continue;
          }
          assert.ok(probe.httpGet, `${what} ${kind} is an HTTP or a gRPC probe`);
          const response = await fetch(`${process.url}${probe.httpGet.path}`);
          assert.equal(response.status, 200, `${what} ${kind} GET ${probe.httpGet.path}`);
        }
        const metrics = await (await fetch(`${process.url}/metrics`)).text();
        assert.match(metrics, /^# TYPE switchyard_/m, `${what} serves /metrics`);
        if (what === 'runtime') {
          // The runtime HPA's metric exists under that name.
          const hpa = find<IHorizontalPodAutoscaler & K8sObject>(
            objects,
            'HorizontalPodAutoscaler',
            RUNTIME,
          )!;
          for (const metric of hpa.spec?.metrics ?? []) {
            if (metric.pods)
              assert.match(metrics, new RegExp(`^# TYPE ${metric.pods.metric.name} gauge$`, 'm'));
          }
        }
      }
      // The dev Secret's ml-platform digest is the documented demo key's: it may read the admin API.
      const admin = await fetch(`${gatewayProcess.url}/admin/config`, { headers: AUTH });
      assert.equal(admin.status, 200);
    } finally {
      for (const started of processes.reverse()) await started.stop();
    }
  },
);

const OBSERVABILITY_FILES = ['switchyard-dashboard.json', 'switchyard-alerts.yaml'];

test(
  'k8s/observability packs the dashboard and the alert rules beside it as labelled ConfigMaps',
  { skip },
  () => {
    const objects = render(join(K8S, 'observability'));
    assert.deepEqual(objects.flatMap(schemaProblems), []);
    const dashboard = find<IConfigMap & K8sObject>(objects, 'ConfigMap', 'switchyard-grafana-dashboard');
    const rules = find<IConfigMap & K8sObject>(objects, 'ConfigMap', 'switchyard-prometheus-rules');
    assert.ok(dashboard && rules);
    assert.equal(dashboard.metadata.labels?.grafana_dashboard, '1');
    assert.equal(rules.metadata.labels?.prometheus_rule, '1');
    const [dashboardFile, rulesFile] = OBSERVABILITY_FILES.map((file) =>
      readFileSync(join(K8S, 'observability', file), 'utf8'),
    );
    const dashboardText = dashboard.data?.['switchyard-dashboard.json'] ?? '';
    assert.equal(dashboardText, dashboardFile);
    JSON.parse(dashboardText);
    const rulesText = rules.data?.['switchyard-alerts.yaml'] ?? '';
    assert.equal(rulesText, rulesFile);
    assert.equal(parseDocument(rulesText).errors.length, 0);
    for (const map of [dashboard, rules]) {
      // Client-side apply keeps a copy in an annotation capped at 256 KiB; the docs say --server-side.
      assert.ok(JSON.stringify(map.data).length < 1024 * 1024, `${map.metadata.name} fits a ConfigMap`);
    }
  },
);
