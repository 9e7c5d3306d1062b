import { createHash } from 'node:crypto';
import { Deployment, StatefulSet, type IDeployment, type IStatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ConfigMap,
  Namespace,
  Secret,
  Service,
  type IConfigMap,
  type IContainer,
  type IPodTemplateSpec,
  type ISecret,
} from 'kubernetes-models/v1';
import { find, type K8sObject } from './kubectl.js';

type Validating = { validate(): void };

/** The rendered object as the model class's input; `validate()` then checks it against the schema. */
const check =
  <T>(Model: new (data: T) => Validating) =>
  (data: K8sObject): Validating =>
    new Model(data as unknown as T);

/** The kinds the manifests use, each with the kubernetes-models class that knows its schema. */
const MODELS: Record<string, (data: K8sObject) => Validating> = {
  'v1/Namespace': check(Namespace),
  'v1/Service': check(Service),
  'v1/ConfigMap': check(ConfigMap),
  'v1/Secret': check(Secret),
  'apps/v1/Deployment': check(Deployment),
  'apps/v1/StatefulSet': check(StatefulSet),
  'policy/v1/PodDisruptionBudget': check(PodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': check(HorizontalPodAutoscaler),
  'networking.k8s.io/v1/NetworkPolicy': check(NetworkPolicy),
};

/**
 * Custom resources kubernetes-models has no schema for, checked for the fields their controllers
 * need; the cross-references (what a ServiceMonitor selects) are checked by the test itself.
 */
const CUSTOM: Record<string, (data: K8sObject) => string[]> = {
  'monitoring.coreos.com/v1/ServiceMonitor': (data) => {
    const spec = data.spec as
      { selector?: unknown; endpoints?: { port?: unknown; path?: unknown }[] } | undefined;
    const problems: string[] = [];
    if (!spec || typeof spec.selector !== 'object') problems.push('spec.selector is required');
    if (!Array.isArray(spec?.endpoints) || spec.endpoints.length === 0)
      problems.push('spec.endpoints is required');
    for (const endpoint of spec?.endpoints ?? []) {
      if (typeof endpoint.port !== 'string') problems.push('each endpoint names a Service port');
      if (endpoint.path !== undefined && typeof endpoint.path !== 'string')
        problems.push('endpoint.path is a string');
    }
    return problems;
  },
};

/** Schema problems of one object ([] when valid); an unknown kind is a problem too. */
export function schemaProblems(object: K8sObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`;
  const where = `${object.kind} ${object.metadata?.name ?? '?'}`;
  if (typeof object.metadata?.name !== 'string') return [`${where}: metadata.name is required`];
  const model = MODELS[key];
  if (model) {
    try {
      model(object.kind === 'Secret' ? unwrapSecretData(object) : object).validate();
      return [];
    } catch (error) {
      return [`${where}: ${(error as Error).message}`];
    }
  }
  const custom = CUSTOM[key];
  if (custom) return custom(object).map((problem) => `${where}: ${problem}`);
  return [`${where}: no schema for ${key}; add it to test/k8s/objects.ts`];
}

/**
 * kustomize writes long base64 values over several lines of a literal block; the API server's
 * base64 decoder skips line breaks, the schema's "byte" format does not.
 */
function unwrapSecretData(secret: K8sObject): K8sObject {
  const data = secret.data as Record<string, string> | undefined;
  if (!data) return secret;
  return {
    ...secret,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.replace(/\s+/g, '')])),
  };
}

export type Workload = (IDeployment | IStatefulSet) & K8sObject;

export const workloads = (objects: readonly K8sObject[]): Workload[] =>
  objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet') as Workload[];

export function template(workload: Workload): IPodTemplateSpec {
  const spec = workload.spec?.template;
  if (!spec) throw new Error(`${workload.metadata.name} has no pod template`);
  return spec;
}

export function container(workload: Workload, name: string): IContainer {
  const found = template(workload).spec?.containers.find((c) => c.name === name);
  if (!found) throw new Error(`${workload.metadata.name} has no container ${name}`);
  return found;
}

/**
 * The Secrets the gpu overlay expects to exist (made by the operator, k8s/README.md), with a
 * well-formed stand-in for each key: a digest for `*.sha256`, a Redis URL for `url`.
 */
export const EXTERNAL_SECRETS: Record<string, Record<string, (variable: string) => string>> = {
  'switchyard-api-keys': {
    'checkout.sha256': (variable) => createHash('sha256').update(variable).digest('hex'),
    'ml-platform.sha256': (variable) => createHash('sha256').update(variable).digest('hex'),
  },
  'switchyard-redis': { url: () => 'rediss://:placeholder@redis.invalid:6380' },
};

/**
 * The environment a container gets: literal values, and Secret or ConfigMap keys from the rendered
 * objects (or, for the Secrets made outside the manifests, their stand-ins). Throws on a reference
 * that resolves to nothing, as the kubelet would refuse to start the pod.
 */
export function containerEnv(objects: readonly K8sObject[], c: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of c.env ?? []) {
    if (variable.value !== undefined) {
      env[variable.name] = variable.value;
      continue;
    }
    const secretRef = variable.valueFrom?.secretKeyRef;
    const configRef = variable.valueFrom?.configMapKeyRef;
    if (secretRef) {
      const secret = find<ISecret & K8sObject>(objects, 'Secret', secretRef.name ?? '');
      if (secret) {
        const data = secret.data?.[secretRef.key];
        const plain = secret.stringData?.[secretRef.key];
        if (data === undefined && plain === undefined)
          throw new Error(`Secret ${secretRef.name} has no key ${secretRef.key}`);
        env[variable.name] = plain ?? Buffer.from(data!, 'base64').toString('utf8');
      } else {
        const standIn = EXTERNAL_SECRETS[secretRef.name ?? '']?.[secretRef.key];
        if (!standIn)
          throw new Error(
            `${variable.name}: Secret ${secretRef.name}/${secretRef.key} is neither rendered nor documented`,
          );
        env[variable.name] = standIn(variable.name);
      }
    } else if (configRef) {
      const map = find<IConfigMap & K8sObject>(objects, 'ConfigMap', configRef.name ?? '');
      const value = map?.data?.[configRef.key];
      if (value === undefined)
        throw new Error(`${variable.name}: ConfigMap ${configRef.name}/${configRef.key} is not rendered`);
      env[variable.name] = value;
    } else {
      throw new Error(`${variable.name}: no value and no Secret or ConfigMap reference`);
    }
  }
  return env;
}

/** Milliseconds a preStop hook holds the container before SIGTERM (exec `sleep N` or the sleep action). */
export function preStopMs(c: IContainer): number {
  const handler = c.lifecycle?.preStop;
  if (!handler) return 0;
  if (handler.sleep) return handler.sleep.seconds * 1000;
  const command = handler.exec?.command ?? [];
  if (command[0] === 'sleep' && command.length === 2) return Number(command[1]) * 1000;
  throw new Error(`${c.name}: a preStop hook the test cannot time: ${JSON.stringify(handler)}`);
}
