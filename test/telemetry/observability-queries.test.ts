import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY_SHA256,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  writeConfig,
} from '../harness/gateway.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { PROJECT_ROOT, waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

// Every metric, label and label value the Grafana dashboard and the Prometheus rules query must be
// on the /metrics of a real gateway or runtime, so a rename in src/ or a typo in a query fails here
// instead of leaving an empty panel or an alert that can never fire.

const DASHBOARD = join(PROJECT_ROOT, 'k8s/observability/switchyard-dashboard.json');
const RULES = join(PROJECT_ROOT, 'k8s/observability/switchyard-alerts.yaml');
const RUNBOOK = join(PROJECT_ROOT, 'docs/runbook.md');

/** Labels Prometheus attaches when it scrapes (the ServiceMonitor of k8s/components/monitoring). */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'service', 'container']);
const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__range', '__range_s']);
const AGGREGATIONS = new Set(
  'sum avg min max count group stddev stdvar topk bottomk quantile count_values limitk limit_ratio'.split(
    ' ',
  ),
);
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set([...LABEL_LISTS, 'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

// ---- /metrics ---------------------------------------------------------------------------------

interface Family {
  type: string;
  help: string;
  /** Per sample name (name, name_bucket, ...): each label seen and its values. */
  samples: Map<string, Map<string, Set<string>>>;
}
type Scrape = Map<string, Family>;

function parseExposition(text: string, into: Scrape = new Map()): Scrape {
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const family = into.get(meta[2]!) ?? { type: 'untyped', help: '', samples: new Map() };
      into.set(meta[2]!, family);
      if (meta[1] === 'TYPE') family.type = meta[3]!;
      else family.help = meta[3]!;
      current = family;
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (!sample || !current) continue;
    const labels = current.samples.get(sample[1]!) ?? new Map<string, Set<string>>();
    current.samples.set(sample[1]!, labels);
    for (const [, name, value] of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels.set(name!, (labels.get(name!) ?? new Set()).add(value!));
    }
  }
  return into;
}

/** The family and sample name a queried name reads, or why it reads nothing. */
function resolve(scrape: Scrape, name: string): { family: Family; sample: string } | string {
  const exact = scrape.get(name);
  if (exact && exact.type !== 'histogram' && exact.type !== 'summary') return { family: exact, sample: name };
  if (exact) return `${name} is a ${exact.type}: query its _bucket, _sum or _count`;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const family = name.endsWith(suffix) ? scrape.get(name.slice(0, -suffix.length)) : undefined;
    if (family?.type === 'histogram' || (family?.type === 'summary' && suffix !== '_bucket'))
      return { family, sample: name };
  }
  // OpenMetrics names a counter family without _total; prom-client's text format keeps it.
  const counter = name.endsWith('_total') ? scrape.get(name.slice(0, -'_total'.length)) : undefined;
  if (counter?.type === 'counter') return { family: counter, sample: name };
  return `${name} is on neither /metrics`;
}

// ---- PromQL -------------------------------------------------------------------------------------

interface Token {
  kind: 'ident' | 'string' | 'number' | 'var' | 'punct';
  text: string;
}

function tokenize(expr: string): Token[] {
  const pattern =
    /\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|(\$\{[^}]+\}|\$\w+)|([a-zA-Z_:][\w:]*)|([0-9.][\w.]*(?:[eE][+-]?\d+)?)|(==|!=|=~|!~|>=|<=|[-+*/%^<>=(){}[\],@:])/y;
  const tokens: Token[] = [];
  for (let at = 0; at < expr.length;) {
    pattern.lastIndex = at;
    const m = pattern.exec(expr);
    if (!m) throw new Error(`cannot read the query at "${expr.slice(at, at + 20)}"`);
    at = pattern.lastIndex;
    if (m[1]) tokens.push({ kind: 'var', text: m[1] });
    else if (m[2]) tokens.push({ kind: 'ident', text: m[2] });
    else if (m[3]) tokens.push({ kind: 'number', text: m[3] });
    else if (m[4]) tokens.push({ kind: 'punct', text: m[4] });
    else if (/^["'`]/.test(m[0])) tokens.push({ kind: 'string', text: m[0].slice(1, -1) });
  }
  return tokens;
}

interface Selector {
  name: string;
  at: number;
  matchers: { label: string; op: string; value: string }[];
}
interface LabelList {
  keyword: string;
  labels: string[];
  /** For by/without: the token range of the aggregated expression. */
  scope?: [number, number];
}
interface Query {
  selectors: Selector[];
  lists: LabelList[];
  variables: string[];
}

function parseQuery(expr: string): Query {
  const tokens = tokenize(expr);
  const match = new Map<number, number>();
  const open: number[] = [];
  tokens.forEach((t, i) => {
    if (t.text === '(' && t.kind === 'punct') open.push(i);
    if (t.text === ')' && t.kind === 'punct') {
      const from = open.pop();
      if (from === undefined) throw new Error(`unbalanced ")" in ${expr}`);
      match.set(from, i).set(i, from);
    }
  });
  if (open.length > 0) throw new Error(`unbalanced "(" in ${expr}`);
  const query: Query = { selectors: [], lists: [], variables: [] };
  for (const t of tokens) if (t.kind === 'var') query.variables.push(t.text.replace(/^\$\{?|\}$/g, ''));
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.kind !== 'ident') continue;
    if (LABEL_LISTS.has(t.text) && next?.text === '(') {
      const close = match.get(i + 1)!;
      const labels = tokens.slice(i + 2, close).flatMap((l) => (l.kind === 'ident' ? [l.text] : []));
      const list: LabelList = { keyword: t.text, labels };
      if (t.text === 'by' || t.text === 'without') {
        const before = tokens[i - 1];
        const argOpen = before?.text === ')' ? match.get(i - 1)! : close + 1;
        list.scope = [argOpen, match.get(argOpen) ?? argOpen];
      }
      query.lists.push(list);
      i = close;
    } else if (next?.text === '(' || KEYWORDS.has(t.text) || AGGREGATIONS.has(t.text)) {
      continue; // a function, an aggregation or an operator
    } else {
      const selector: Selector = { name: t.text, at: i, matchers: [] };
      if (next?.text === '{') {
        let j = i + 2;
        for (; tokens[j] && tokens[j]!.text !== '}'; j++) {
          const [label, op, value] = [tokens[j], tokens[j + 1], tokens[j + 2]];
          if (label?.kind === 'ident' && op?.kind === 'punct' && value?.kind === 'string') {
            selector.matchers.push({ label: label.text, op: op.text, value: value.text });
            j += 2;
          }
        }
        i = j;
      }
      query.selectors.push(selector);
    }
  }
  return query;
}

// ---- the checks -------------------------------------------------------------------------------

interface Checked {
  /** Where the query is, for the failure message: `panel "X" (id 3) target A`. */
  where: string;
  expr: string;
  /** `{{label}}` of a legend or `$labels.label` of an annotation: labels the result must have. */
  shownLabels?: string[];
  /** label_values(metric, label): a label the metric must have. */
  labelOf?: string;
}

interface Context {
  scrape: Scrape;
  /** Recording rules: name to expression. */
  recorded: Map<string, string>;
  variables: Set<string>;
  /** Queried names that had no samples, so only the name (not the labels) was checked. */
  unsampled: Set<string>;
  queried: Set<string>;
}

function checkQuery(ctx: Context, item: Checked): string[] {
  const problems: string[] = [];
  const say = (problem: string) => problems.push(`${item.where}: ${problem}`);
  let query: Query;
  try {
    query = parseQuery(item.expr);
  } catch (error) {
    return [`${item.where}: ${(error as Error).message}`];
  }
  for (const variable of query.variables) {
    if (!ctx.variables.has(variable) && !GRAFANA_BUILTINS.has(variable)) say(`unknown variable $${variable}`);
  }
  // Each selector's labels as scraped; undefined when it had no samples (labels unknown).
  const labelsAt = new Map<Selector, Map<string, Set<string>> | undefined>();
  for (const selector of query.selectors) {
    if (selector.name.includes(':')) {
      const record = ctx.recorded.get(selector.name);
      if (record === undefined) say(`${selector.name} is not a recording rule of the alerts file`);
      else labelsAt.set(selector, outputLabels(ctx, record));
      continue;
    }
    if (!selector.name.startsWith('switchyard_')) {
      say(`${selector.name} is not a switchyard metric`);
      continue;
    }
    ctx.queried.add(selector.name);
    const found = resolve(ctx.scrape, selector.name);
    if (typeof found === 'string') {
      say(found);
      continue;
    }
    const labels = found.family.samples.get(found.sample);
    if (!labels) ctx.unsampled.add(selector.name);
    labelsAt.set(selector, labels);
    for (const { label, op, value } of selector.matchers) {
      if (label === '__name__') continue;
      if (labels && !labels.has(label) && !TARGET_LABELS.has(label))
        say(`${selector.name} has no label "${label}"`);
      // A literal value (or a plain a|b alternation) must be one seen or one the HELP text names.
      if (value === '' || value.includes('$') || (op.includes('~') && !/^[\w.|]+$/.test(value))) continue;
      for (const alternative of op.includes('~') ? value.split('|') : [value]) {
        const seen = labels?.get(label)?.has(alternative) ?? false;
        const documented = new RegExp(`\\b${alternative.replace(/\./g, '\\.')}\\b`).test(found.family.help);
        if (!seen && !documented)
          say(`${selector.name}{${label}${op}"${value}"}: no such ${label} "${alternative}"`);
      }
    }
  }
  const has = (selector: Selector, label: string) => {
    const labels = labelsAt.get(selector);
    return labels === undefined || labels.has(label) || TARGET_LABELS.has(label);
  };
  for (const list of query.lists) {
    const [from, to] = list.scope ?? [-1, Number.MAX_SAFE_INTEGER];
    const inside = query.selectors.filter((s) => s.at > from && s.at < to && labelsAt.has(s));
    for (const label of list.labels) {
      const ok = list.scope ? inside.every((s) => has(s, label)) : inside.some((s) => has(s, label));
      if (!ok)
        say(`${list.keyword} (${label}): ${inside.map((s) => s.name).join(', ')} has no label "${label}"`);
    }
  }
  if (item.labelOf !== undefined) {
    const selector = query.selectors[0];
    if (selector && !has(selector, item.labelOf)) say(`${selector.name} has no label "${item.labelOf}"`);
  }
  const output = outputLabels(ctx, item.expr);
  for (const label of item.shownLabels ?? []) {
    if (output && !output.has(label)) say(`shows label "${label}", which the query does not return`);
  }
  return problems;
}

/**
 * The labels a query's result may carry, generously: its by/group lists, and the labels of
 * selectors outside any aggregation. Undefined when unknown (a selector without samples).
 */
function outputLabels(ctx: Context, expr: string): Map<string, Set<string>> | undefined {
  const query = parseQuery(expr);
  const labels = new Map<string, Set<string>>();
  for (const list of query.lists) {
    if (list.keyword !== 'without') for (const label of list.labels) labels.set(label, new Set());
  }
  const aggregated = query.lists.flatMap((l) => (l.scope ? [l.scope] : []));
  for (const selector of query.selectors) {
    if (aggregated.some(([from, to]) => selector.at > from && selector.at < to)) continue;
    if (query.lists.length === 0 && /\b(sum|avg|min|max|count)\s*\(/.test(expr)) continue;
    let own: Map<string, Set<string>> | undefined;
    if (selector.name.includes(':')) {
      const record = ctx.recorded.get(selector.name);
      own = record === undefined ? new Map() : outputLabels(ctx, record);
    } else {
      const found = resolve(ctx.scrape, selector.name);
      own = typeof found === 'string' ? new Map() : found.family.samples.get(found.sample);
    }
    if (!own) return undefined;
    for (const [label, values] of own) labels.set(label, values);
    for (const label of TARGET_LABELS) labels.set(label, new Set());
  }
  return labels;
}

// ---- the files ------------------------------------------------------------------------------------

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { uid?: string };
  targets?: { refId?: string; expr?: string; legendFormat?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; query?: string | { query?: string } }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RulesFile {
  groups?: { name: string; rules?: Rule[] }[];
}

const legendLabels = (text = '') => [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);
const annotationLabels = (annotations: Record<string, string> = {}) =>
  [
    ...Object.values(annotations)
      .join('\n')
      .matchAll(/\$labels\.(\w+)/g),
  ].map((m) => m[1]!);
/** GitHub's anchor of a markdown heading. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

/** Every problem of the dashboard and the rules against `scrape`; an empty list means all is well. */
function checkObservability(
  dashboard: Dashboard,
  rules: RulesFile,
  scrape: Scrape,
  runbook: string,
): { problems: string[]; queried: Set<string>; unsampled: Set<string> } {
  const problems: string[] = [];
  const rulesList = (rules.groups ?? []).flatMap((g) => g.rules ?? []);
  const templating = dashboard.templating?.list ?? [];
  const ctx: Context = {
    scrape,
    recorded: new Map(rulesList.flatMap((r) => (r.record && r.expr ? [[r.record, r.expr] as const] : []))),
    variables: new Set(templating.map((v) => v.name)),
    unsampled: new Set(),
    queried: new Set(),
  };
  const items: Checked[] = [];

  if (typeof dashboard.schemaVersion !== 'number') problems.push('dashboard: no schemaVersion');
  const datasourceVariable = templating.find((v) => v.name === 'datasource');
  if (datasourceVariable?.type !== 'datasource' || datasourceVariable.query !== 'prometheus')
    problems.push('dashboard: no ${datasource} variable of Prometheus data sources');
  for (const variable of templating.filter((v) => v.type === 'query')) {
    const text = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    const labelValues = /^label_values\((.+),\s*(\w+)\)$/.exec(text.trim());
    const queryResult = /^query_result\((.+)\)$/.exec(text.trim());
    const where = `variable $${variable.name}`;
    if (labelValues) items.push({ where, expr: labelValues[1]!, labelOf: labelValues[2]! });
    else if (queryResult) items.push({ where, expr: queryResult[1]! });
    else problems.push(`${where}: not label_values(metric, label) or query_result(expr): ${text}`);
  }
  const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
  const ids = panels.map((p) => p.id);
  for (const [i, id] of ids.entries()) {
    if (typeof id !== 'number') problems.push(`panel "${panels[i]!.title}" has no numeric id`);
    else if (ids.indexOf(id) !== i) problems.push(`panel id ${id} is used twice`);
  }
  for (const panel of panels.filter((p) => p.type !== 'row')) {
    const where = `panel "${panel.title}" (id ${panel.id})`;
    if (panel.datasource?.uid !== '${datasource}')
      problems.push(`${where}: datasource is not \${datasource}`);
    if (!panel.targets?.length) problems.push(`${where}: no targets`);
    const refIds = new Set<string | undefined>();
    for (const target of panel.targets ?? []) {
      if (refIds.has(target.refId)) problems.push(`${where}: refId ${target.refId} used twice`);
      refIds.add(target.refId);
      if (!target.expr) problems.push(`${where} target ${target.refId}: no expr`);
      else
        items.push({
          where: `${where} target ${target.refId}`,
          expr: target.expr,
          shownLabels: legendLabels(target.legendFormat),
        });
    }
  }

  const anchors = new Set([...runbook.matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1]!)));
  const names = new Set<string>();
  for (const rule of rulesList) {
    const name = rule.alert ?? rule.record;
    const where = rule.alert ? `alert ${rule.alert}` : `recording rule ${rule.record}`;
    if (!name || (rule.alert && rule.record))
      problems.push(`a rule needs one of alert or record: ${rule.expr}`);
    if (name && names.has(name)) problems.push(`${where} is defined twice`);
    names.add(name ?? '');
    if (rule.record && !/^[a-z_]+:[a-z_]+:[a-z0-9_]+$/.test(rule.record))
      problems.push(`${where}: not named level:metric:operations`);
    if (!rule.expr) problems.push(`${where}: no expr`);
    if (rule.alert) {
      if (!rule.for) problems.push(`${where}: no for`);
      if (!['critical', 'warning'].includes(rule.labels?.severity ?? ''))
        problems.push(`${where}: labels.severity is not critical or warning`);
      if (!rule.annotations?.summary) problems.push(`${where}: no annotations.summary`);
      if (!rule.annotations?.description) problems.push(`${where}: no annotations.description`);
      const runbookUrl = rule.annotations?.runbook_url;
      if (runbookUrl !== undefined) {
        const [file, section] = runbookUrl.split('#');
        if (file !== 'docs/runbook.md' || !section || !anchors.has(section))
          problems.push(`${where}: runbook_url ${runbookUrl} is no section of docs/runbook.md`);
      }
    }
    if (rule.expr) items.push({ where, expr: rule.expr, shownLabels: annotationLabels(rule.annotations) });
  }

  for (const item of items) problems.push(...checkQuery(ctx, item));
  return { problems, queried: ctx.queried, unsampled: ctx.unsampled };
}

// ---- the processes ----------------------------------------------------------------------------

const TIGHT_KEY = 'sk-observability-tight';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A loopback port nothing listens on: the endpoint of an upstream whose every call fails. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A gateway with shadows, the cache, fallbacks, rate limits and admission in use. */
function observedConfig(runtimeUrl: string, deadPort: number) {
  const config = fraudGatewayConfig([runtimeUrl], {
    weights: [50, 50],
    tenants: [
      {
        name: 'demo',
        keys: [{ sha256: DEMO_KEY_SHA256 }],
        scopes: ['infer', 'admin', 'debug'],
        rate_limit: { rps: 10000, burst: 10000 },
        priority: 'low',
      },
      {
        name: 'tight',
        keys: [{ sha256: sha256(TIGHT_KEY) }],
        scopes: ['infer'],
        rate_limit: { rps: 0.01, burst: 1 },
      },
    ],
  });
  const fraud = config.models.fraud;
  return {
    ...config,
    upstreams: { ...config.upstreams, dead: { endpoints: [`http://127.0.0.1:${deadPort}`] } },
    models: {
      fraud: {
        ...fraud,
        variants: [
          ...fraud.variants,
          { name: 'broken', upstream: 'dead', model: 'fraud', version: '1', weight: 0 },
        ],
        shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 }],
        cache: { ttl_ms: 60000, serve_hits: true },
        fallback: ['cache', { variant: 'v1' }, { default: { decision: 'review' } }],
      },
      // One at a time and no queue: concurrent requests are shed.
      capped: { ...fraud, admission: { max_concurrency: 1, max_queue: 0 } },
    },
  };
}

test('the dashboard and the alert rules query only metrics and labels that exist', async (t) => {
  const [dashboardText, rulesText, runbook] = await Promise.all([
    readFile(DASHBOARD, 'utf8'),
    readFile(RULES, 'utf8'),
    readFile(RUNBOOK, 'utf8'),
  ]);
  const dashboard = JSON.parse(dashboardText) as Dashboard;
  const rules = parseYaml(rulesText) as RulesFile;

  const runtime = await startRuntime();
  t.after(() => runtime.stop());
  const gateway = await startGateway(observedConfig(runtime.url, await closedPort()));
  t.after(() => gateway.stop());
  const client = createClient(32);
  t.after(() => client.close());

  const rows = fraudRows(40);
  const decide = (model: string, row: number[], user: string, headers: Record<string, string> = AUTH) =>
    postJson(client, `${gateway.url}/v1/decisions/${model}`, decisionBody(row, user), headers);
  const answers = await Promise.all(rows.slice(0, 24).map((row, i) => decide('fraud', row, `u-${i}`)));
  assert.deepEqual(
    answers.filter((a) => a.status !== 200).map((a) => a.text),
    [],
  );
  assert.equal((await decide('fraud', rows[0]!, 'u-0')).status, 200); // a cache hit
  const forced = { ...AUTH, 'x-switchyard-force-variant': 'broken' };
  for (const row of rows.slice(24, 28)) {
    const answer = await decide('fraud', row, 'u-broken', forced);
    assert.ok(answer.headers['x-switchyard-fallback'], answer.text);
  }
  const tight = { authorization: `Bearer ${TIGHT_KEY}` };
  const limited = await Promise.all([0, 1, 2].map((i) => decide('fraud', rows[28 + i]!, 'u-tight', tight)));
  assert.ok(limited.some((a) => a.status === 429));
  const capped = await Promise.all(rows.map((row, i) => decide('capped', row, `c-${i}`)));
  assert.ok(capped.some((a) => a.status === 503));
  await writeConfig(gateway.configPath, 'models: [not, a, map]\n'); // refused, counted as invalid

  const scrapeOf = async (url: string) => (await getJson(client, `${url}/metrics`)).text;
  const gatewayMetrics = await waitFor('shadow comparisons and the refused reload', async () => {
    const text = await scrapeOf(gateway.url);
    const ready =
      metricValue(text, 'switchyard_shadow_comparisons_total') > 0 &&
      metricValue(text, 'switchyard_config_reload_total', { outcome: 'invalid' }) > 0;
    return ready && text;
  });
  const scrape = parseExposition(await scrapeOf(runtime.url), parseExposition(gatewayMetrics));

  const { problems, queried, unsampled } = checkObservability(dashboard, rules, scrape, runbook);
  assert.deepEqual(problems, []);
  t.diagnostic(`metrics queried (${queried.size}): ${[...queried].sort().join(' ')}`);
  t.diagnostic(`names checked, labels not (no samples here): ${[...unsampled].sort().join(' ') || 'none'}`);

  await t.test('the check fails on a misspelt metric, label, label value or bucket', () => {
    const broken = structuredClone(dashboard);
    const panel = broken.panels!.find((p) => p.targets?.length)!;
    const target = { refId: 'Z', legendFormat: '{{tenant}}' };
    panel.targets!.push(
      { ...target, expr: 'sum by (model) (rate(switchyard_request_total[5m]))' },
      {
        ...target,
        refId: 'Y',
        expr: 'sum by (tenant) (rate(switchyard_requests_total{outcome="errors"}[5m]))',
      },
      { ...target, refId: 'X', expr: 'rate(switchyard_request_duration_seconds_bucket{le="0.3"}[$window])' },
      { ...target, refId: 'W', expr: 'sum(rate(switchyard_request_duration_seconds[5m]))' },
    );
    const brokenRules = structuredClone(rules);
    brokenRules.groups![0]!.rules!.push({ alert: 'Broken', expr: 'switchyard:nothing:rate5m > 1' });
    const found = checkObservability(broken, brokenRules, scrape, runbook).problems.join('\n');
    for (const expected of [
      /target Z: switchyard_request_total is on neither \/metrics/,
      /target Y: by \(tenant\): switchyard_requests_total has no label "tenant"/,
      /target Y: .*no such outcome "errors"/,
      /target Z: shows label "tenant"/,
      /target X: .*no such le "0.3"/,
      /target X: unknown variable \$window/,
      /target W: switchyard_request_duration_seconds is a histogram/,
      /alert Broken: switchyard:nothing:rate5m is not a recording rule/,
      /alert Broken: no for/,
      /alert Broken: labels.severity/,
      /alert Broken: no annotations.summary/,
    ]) {
      assert.match(found, expected);
    }
  });
});
