import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from '../harness/process.js';

export const K8S = join(PROJECT_ROOT, 'k8s');
export const OVERLAYS = ['gpu', 'cpu-dev'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** What every rendered object has; the rest is read after schema validation. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * Why the tests that render `k8s/` cannot run here, or undefined when they can. They need kubectl
 * with kustomize v5 built in (kubectl 1.27 or newer): the manifests use `labels`, `patches` and
 * components, which Debian's kubernetes-client (1.20, kustomize v2) does not know.
 */
export function kubectlMissing(): string | undefined {
  const result = spawnSync('kubectl', ['version', '--client', '-o', 'json'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (result.error || result.status !== 0) {
    return 'kubectl is not installed: the k8s tests render the manifests with its built-in kustomize (kubectl >= 1.27)';
  }
  let version: { kustomizeVersion?: string; clientVersion?: { gitVersion?: string } };
  try {
    version = JSON.parse(result.stdout) as typeof version;
  } catch {
    return 'kubectl version printed no JSON: kubectl >= 1.27 is needed';
  }
  const major = Number(/^v(\d+)\./.exec(version.kustomizeVersion ?? '')?.[1] ?? 0);
  if (major < 5) {
    return `kubectl ${version.clientVersion?.gitVersion ?? '?'} has kustomize ${version.kustomizeVersion ?? '(none)'}; the manifests need kustomize v5 (kubectl >= 1.27)`;
  }
  return undefined;
}

/** `kubectl kustomize DIR` as parsed objects. */
export function render(dir: string, extraArgs: string[] = []): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', ...extraArgs, dir], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, KUBECONFIG: DEAD_KUBECONFIG },
  });
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`kustomize output does not parse: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    return value === null ? [] : [value as K8sObject];
  });
}

export function renderOverlay(overlay: Overlay): K8sObject[] {
  return render(join(K8S, 'overlays', overlay));
}

/**
 * A kubeconfig naming a server nothing listens on, for kubectl commands run in tests: without one
 * kubectl falls back to localhost:8080, where another test's gateway may well be listening.
 */
export const DEAD_KUBECONFIG = join(PROJECT_ROOT, 'test', 'k8s', 'dead.kubeconfig');

export function kubectl(args: string[], options: { cwd?: string; input?: string } = {}) {
  return spawnSync('kubectl', args, {
    encoding: 'utf8',
    timeout: 30_000,
    cwd: options.cwd,
    input: options.input,
    env: { ...process.env, KUBECONFIG: DEAD_KUBECONFIG },
  });
}

export function byKind<T = K8sObject>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function find<T = K8sObject>(
  objects: readonly K8sObject[],
  kind: string,
  name: string,
): T | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
}

export function matches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}
