import { join } from 'node:path';
import { PROJECT_ROOT } from '../harness/process.js';
import { kubectl, matches, render, type K8sObject } from '../k8s/kubectl.js';

interface Help {
  /** Flag name (without dashes, long and short forms) → whether it takes a value. */
  flags: Map<string, boolean>;
  subcommands: string[];
}

const helps = new Map<string, Help>();

/** What `kubectl <path> --help` says about flags and subcommands (cached). */
function help(path: readonly string[]): Help {
  const key = path.join(' ');
  let known = helps.get(key);
  if (known) return known;
  const result = kubectl([...path, '--help']);
  if (result.status !== 0) throw new Error(`kubectl ${key}: not a command (${result.stderr.trim()})`);
  known = { flags: parseFlags(result.stdout), subcommands: [] };
  const commands = /Available Commands:\n([\s\S]*?)\n\n/.exec(result.stdout)?.[1] ?? '';
  known.subcommands = [...commands.matchAll(/^\s+(\S+)\s/gm)].map((m) => m[1]!);
  helps.set(key, known);
  return known;
}

/** `    -l, --selector='':` and `    --overwrite=false:`: booleans default to true or false. */
function parseFlags(text: string): Map<string, boolean> {
  const flags = new Map<string, boolean>();
  for (const match of text.matchAll(/^\s+(?:-(\w), )?--([\w-]+)=(.*):$/gm)) {
    const takesValue = !/^(true|false)$/.test(match[3]!);
    flags.set(match[2]!, takesValue);
    if (match[1]) flags.set(match[1], takesValue);
  }
  return flags;
}

let globals: Map<string, boolean> | undefined;
const globalFlags = () => (globals ??= parseFlags(kubectl(['options']).stdout));

export interface ParsedKubectl {
  /** The command path: ['get'], ['rollout', 'status'], ['create', 'configmap']. */
  path: string[];
  positionals: string[];
  flags: Map<string, string | true>;
}

/**
 * Parses one kubectl invocation with kubectl's own flag list for its command: throws on a command
 * or flag kubectl does not have.
 */
export function parseKubectl(argv: readonly string[]): ParsedKubectl {
  if (argv[0] !== 'kubectl') throw new Error(`not kubectl: ${argv.join(' ')}`);
  const path: string[] = [];
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  const known = () => new Map([...globalFlags(), ...(path.length > 0 ? help(path).flags : [])]);
  for (let i = 1; i < argv.length; i++) {
    const word = argv[i]!;
    const flag = /^--?([\w-]+)(?:=(.*))?$/s.exec(word);
    if (flag && word !== '-') {
      const [, name, inline] = flag;
      const takesValue = known().get(name!);
      if (takesValue === undefined) throw new Error(`kubectl ${path.join(' ')}: no flag ${word}`);
      if (inline !== undefined) flags.set(name!, inline);
      else if (takesValue) flags.set(name!, argv[++i] ?? '');
      else flags.set(name!, true);
    } else if (path.length === 0) {
      help([word]);
      path.push(word);
    } else if (positionals.length === 0 && help(path).subcommands.includes(word)) {
      path.push(word);
    } else {
      positionals.push(word);
    }
  }
  if (path.length === 0) throw new Error('kubectl without a command');
  return { path, positionals, flags };
}

const KINDS: Record<string, string> = {
  deploy: 'Deployment',
  deployment: 'Deployment',
  deployments: 'Deployment',
  svc: 'Service',
  service: 'Service',
  hpa: 'HorizontalPodAutoscaler',
  pdb: 'PodDisruptionBudget',
  cm: 'ConfigMap',
  configmap: 'ConfigMap',
  sts: 'StatefulSet',
  statefulset: 'StatefulSet',
  pod: 'Pod',
  pods: 'Pod',
};

/** Pod labels: a workload's template labels (pods themselves are not in the manifests). */
function labelsOf(object: K8sObject, kind: string): Record<string, string> | undefined {
  if (kind !== 'Pod') return object.metadata.labels;
  const template = (
    object.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined
  )?.template;
  return template?.metadata?.labels;
}

/** The rendered objects of `kind` (Pod: the workloads whose pods they would be). */
function objectsOfKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return kind === 'Pod'
    ? objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    : objects.filter((o) => o.kind === kind);
}

function selectorPairs(selector: string): Record<string, string> {
  return Object.fromEntries(
    selector.split(',').map((pair) => {
      const [key, value] = pair.split('=');
      if (!key || value === undefined) throw new Error(`only key=value selectors are checked: ${selector}`);
      return [key, value];
    }),
  );
}

const isPlaceholder = (word: string) => word.includes('$');

/**
 * Checks what a kubectl command refers to against the rendered manifests: its namespace, the
 * named objects (`deployment/x`, `hpa x`), label selectors, kustomize directories. Returns what
 * it selected, for callers that check more.
 */
export function checkReferences(parsed: ParsedKubectl, objects: readonly K8sObject[]): K8sObject[] {
  const problems: string[] = [];
  const namespace = parsed.flags.get('namespace') ?? parsed.flags.get('n');
  if (namespace !== undefined && namespace !== 'switchyard') problems.push(`namespace ${String(namespace)}`);
  let selected: K8sObject[] = [];

  const kustomization = parsed.flags.get('kustomize') ?? parsed.flags.get('k');
  const verb = parsed.path[0];
  if (verb === 'kustomize' || typeof kustomization === 'string') {
    const dir = typeof kustomization === 'string' ? kustomization : parsed.positionals[0]!;
    const restrictor = parsed.flags.get('load-restrictor');
    selected = render(
      join(PROJECT_ROOT, dir),
      typeof restrictor === 'string' ? ['--load-restrictor', restrictor] : [],
    );
  } else if (!['create'].includes(verb!)) {
    const [first, second] = parsed.positionals;
    let kind: string | undefined;
    let name: string | undefined;
    if (first?.includes('/')) {
      const [type, objectName] = first.split('/');
      kind = KINDS[type!];
      name = objectName;
      if (!kind) problems.push(`unknown resource type ${type}`);
    } else if (first && KINDS[first]) {
      kind = KINDS[first];
      name = second && !second.includes('=') && !second.endsWith('-') ? second : undefined;
    }
    if (kind) {
      selected = objectsOfKind(objects, kind);
      if (name && !isPlaceholder(name)) {
        selected = selected.filter((o) => o.metadata.name === name);
        if (selected.length === 0) problems.push(`no ${kind} ${name}`);
      }
    }
  }
  const selector = parsed.flags.get('selector') ?? parsed.flags.get('l');
  if (typeof selector === 'string') {
    const pairs = selectorPairs(selector);
    const kind = KINDS[parsed.positionals[0] ?? ''] ?? '';
    selected = selected.filter((o) => matches(pairs, labelsOf(o, kind)));
    if (selected.length === 0) problems.push(`the selector ${selector} matches nothing`);
  }
  if (problems.length > 0) throw new Error(`kubectl ${parsed.path.join(' ')}: ${problems.join('; ')}`);
  return selected;
}
