import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as core from 'kubernetes-models/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import { parseConfigText } from '../../src/config/load.js';
import { startGateway, type GatewayUnderTest } from '../harness/gateway.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { byKind, kubectlMissing, matches, OVERLAYS, renderOverlay, type K8sObject } from './kubectl.js';

/** Schema classes of the kinds the manifests use; a CRD (ServiceMonitor) is checked by shape. */
const MODELS: Record<string, new (value: never) => { validate(): void }> = {
  Namespace: core.Namespace,
  ConfigMap: core.ConfigMap,
  Secret: core.Secret,
  Service: core.Service,
  ServiceAccount: core.ServiceAccount,
  PersistentVolumeClaim: core.PersistentVolumeClaim,
  Deployment: apps.Deployment,
  StatefulSet: apps.StatefulSet,
  HorizontalPodAutoscaler: autoscaling.HorizontalPodAutoscaler,
  PodDisruptionBudget: policy.PodDisruptionBudget,
  NetworkPolicy: networking.NetworkPolicy,
};

type Container = {
  name: string;
  args?: string[];
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  startupProbe?: { httpGet?: { path: string; port: number | string } };
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  env?: { name: string; value?: string }[];
};
type PodSpec = {
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string } }[];
  terminationGracePeriodSeconds?: number;
};
type Workload = K8sObject & {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};

const missing = kubectlMissing();

for (const overlay of OVERLAYS) {
  describe(`k8s overlay ${overlay}`, { skip: missing }, () => {
    let objects: K8sObject[];
    before(() => {
      objects = renderOverlay(overlay);
    });

    test('every object validates against the Kubernetes schemas', () => {
      assert.ok(objects.length > 10);
      for (const object of objects) {
        const Model = MODELS[object.kind];
        if (object.kind === 'Secret') {
          // kustomize wraps long base64 values over lines; the API server's decoder skips newlines.
          const data = (object as { data?: Record<string, string> }).data ?? {};
          for (const key of Object.keys(data)) data[key] = data[key]!.replace(/\s+/g, '');
        }
        if (Model) {
          assert.doesNotThrow(
            () => new Model(object as never).validate(),
            `${object.kind}/${object.metadata.name}`,
          );
        } else {
          assert.match(object.apiVersion, /^monitoring\.coreos\.com\//, `no schema for ${object.kind}`);
          assert.ok(object.metadata.name && object.spec, `${object.kind} has a name and a spec`);
        }
      }
    });

    test('every Service selects the pods of a workload', () => {
      const workloads = [
        ...byKind<Workload>(objects, 'Deployment'),
        ...byKind<Workload>(objects, 'StatefulSet'),
      ];
      for (const service of byKind<K8sObject & { spec: { selector: Record<string, string> } }>(
        objects,
        'Service',
      )) {
        assert.ok(
          workloads.some((w) => matches(service.spec.selector, w.spec.template.metadata.labels)),
          `Service ${service.metadata.name} selects no pods`,
        );
      }
      for (const workload of workloads) {
        assert.ok(
          matches(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels),
          workload.metadata.name,
        );
      }
    });

    test("the gateway reads the ConfigMap's key as a mounted directory, and that config is valid", () => {
      const gateway = byKind<Workload>(objects, 'Deployment').find(
        (d) => d.metadata.name === 'switchyard-gateway',
      )!;
      const container = gateway.spec.template.spec.containers[0]!;
      const args = [...(container.command ?? []), ...(container.args ?? [])];
      const configPath = args[args.indexOf('--config') + 1]!;
      const dir = configPath.slice(0, configPath.lastIndexOf('/'));
      const file = configPath.slice(dir.length + 1);
      const mount = container.volumeMounts!.find((m) => m.mountPath === dir);
      assert.ok(mount, `nothing mounted at ${dir}`);
      assert.equal(mount.subPath, undefined, 'a subPath mount never sees ConfigMap updates');
      const volume = gateway.spec.template.spec.volumes!.find((v) => v.name === mount.name)!;
      const configMap = byKind<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap').find(
        (c) => c.metadata.name === volume.configMap?.name,
      );
      assert.ok(configMap?.data[file], `ConfigMap ${volume.configMap?.name} has no key ${file}`);
      // Secrets arrive through the environment; any syntactically valid value will do here.
      const env: Record<string, string> = { SWITCHYARD_REDIS_URL: 'redis://redis:6379' };
      for (const match of configMap.data[file].matchAll(/\$\{([A-Z0-9_]+)/g)) {
        env[match[1]!] ??= createHash('sha256').update(match[1]!).digest('hex');
      }
      const loaded = parseConfigText(configMap.data[file], env, file);
      assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
      // The upstream the config names is the runtime's headless Service.
      const upstream = Object.values(loaded.snapshot.config.upstreams)[0]!;
      const runtimeService = byKind<K8sObject & { spec: { clusterIP?: string; ports: { port: number }[] } }>(
        objects,
        'Service',
      ).find((s) => s.metadata.name === 'onnx-runtime')!;
      assert.equal(runtimeService.spec.clusterIP, 'None', 'discovery needs a headless Service');
      assert.ok(
        upstream.dns?.name.startsWith(`${runtimeService.metadata.name}.`),
        `dns ${upstream.dns?.name}`,
      );
      assert.ok(runtimeService.spec.ports.some((p) => p.port === upstream.dns?.port));
    });

    test('termination grace covers preStop, the drain delay and the in-flight grace', () => {
      for (const workload of byKind<Workload>(objects, 'Deployment')) {
        const spec = workload.spec.template.spec;
        const container = spec.containers[0]!;
        const args = container.args ?? [];
        const flag = (name: string) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : 0);
        const preStop = container.lifecycle?.preStop;
        const preStopSeconds = preStop?.sleep?.seconds ?? Number(preStop?.exec?.command.at(-1) ?? 0);
        const needed = preStopSeconds + (flag('--drain-delay-ms') + flag('--grace-ms')) / 1000;
        assert.ok(
          (spec.terminationGracePeriodSeconds ?? 30) > needed,
          `${workload.metadata.name}: grace ${spec.terminationGracePeriodSeconds}s, drain needs ${needed}s`,
        );
      }
    });
  });
}

describe('probe paths and ports are real routes', { skip: missing }, () => {
  let runtime: StartedProcess;
  let gateway: GatewayUnderTest;
  before(async () => {
    runtime = await startRuntime();
    gateway = await startGateway({
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: { onnx: { endpoints: [runtime.url] } },
      models: {},
    });
  });
  after(async () => {
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  });

  test('every probe of every workload answers 200 on the matching process, on a declared port', async () => {
    for (const overlay of OVERLAYS) {
      for (const workload of byKind<Workload>(renderOverlay(overlay), 'Deployment')) {
        const container = workload.spec.template.spec.containers[0]!;
        const base = workload.metadata.name === 'switchyard-gateway' ? gateway.url : runtime.url;
        for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
          if (!probe?.httpGet) continue;
          const { path, port } = probe.httpGet;
          assert.ok(
            container.ports?.some((p) => p.containerPort === port || p.name === port),
            `${workload.metadata.name}: probe port ${port} is not a container port`,
          );
          const response = await fetch(`${base}${path}`);
          assert.equal(response.status, 200, `${overlay} ${workload.metadata.name} ${path}`);
        }
      }
    }
  });
});
