import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { flagLabel, flagMeaning, leaves, synopsis } from '../../src/cli/command-spec.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { GatewayConfigSchema } from '../../src/config/schema.js';
import { startGateway } from '../../src/gateway/start.js';
import { PROJECT_ROOT } from '../harness/process.js';
import { configKeys, type ConfigKey } from './config-keys.js';

// The README is the reference a reader trusts: these checks fail when a command, a flag, an admin
// route or a config key is added (or renamed, or removed) in the code without the README saying so.

let readme: string[];
before(async () => {
  readme = (await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')).split('\n');
});

/** The lines under a heading, up to the next heading of the same or a higher level. */
function section(title: string): string[] {
  const start = readme.findIndex((line) => /^#{2,4} /.test(line) && line.replace(/^#+ /, '') === title);
  assert.ok(start >= 0, `README has a section "${title}"`);
  const level = /^#+/.exec(readme[start]!)![0].length;
  const end = readme.findIndex(
    (line, i) => i > start && /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level,
  );
  return readme.slice(start + 1, end === -1 ? undefined : end);
}

/** The cells of every table row (not the header's separator), `\|` read as `|`. */
function rows(lines: string[]): string[][] {
  return lines
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim().replaceAll('\\|', '|')),
    );
}

/** A cell that is one code span: its text; otherwise undefined. */
const code = (cell: string | undefined): string | undefined => /^`([^`]+)`$/.exec(cell ?? '')?.[1];

test('the command table lists every command and subcommand as its usage prints it, and no other', () => {
  const table = rows(section('Command line'));
  const documented = new Set(
    table.map((row) => code(row[0])).filter((text) => text?.startsWith('switchyard ')),
  );
  const forms = COMMANDS.flatMap(synopsis);
  for (const form of forms) assert.ok(documented.has(form), `README's command table lacks \`${form}\``);
  for (const form of documented)
    assert.ok(forms.includes(form!), `README lists \`${form}\`, which no command has`);
});

test("the flag table gives every command's flags in the words of --help, and no other", () => {
  const table = rows(section('Command line')).filter((row) => row.length === 3);
  const names = new Set(COMMANDS.map((command) => command.name));
  const documented = table.filter((row) => names.has(code(row[0]) ?? ''));
  const expected: string[][] = [];
  for (const command of COMMANDS) {
    for (const leaf of leaves(command)) {
      for (const flag of leaf.flags) {
        const row = [`\`${command.name}\``, `\`${flagLabel(flag)}\``, flagMeaning(flag)];
        expected.push(row);
        const same = documented.find((cells) => cells[0] === row[0] && cells[1] === row[1]);
        assert.ok(same, `README's flag table lacks ${command.name} ${flagLabel(flag)}`);
        assert.ok(
          documented.some((cells) => cells.join('|') === row.join('|')),
          `README's flag table says "${same[2]}" for ${leaf.name} ${flagLabel(flag)}; --help says "${row[2]}"`,
        );
      }
    }
  }
  for (const cells of documented)
    assert.ok(
      expected.some((row) => row.join('|') === cells.join('|')),
      `README's flag table has ${cells.join(' ')}, which no command takes`,
    );
});

/**
 * The routes a real gateway registers, read from Fastify's route tree (printRoutes): each line is a
 * path segment under its parent's, four columns a level, with its methods in parentheses.
 */
function registeredRoutes(tree: string): string[] {
  const routes: string[] = [];
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    prefixes.length = depth;
    const path = (prefixes[depth - 1] ?? '') + match[2]!;
    prefixes[depth] = path;
    for (const method of match[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${path}`);
  }
  return routes;
}

test('the admin API section lists every /admin route a gateway registers, and no other', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-readme-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'gateway.yaml');
  await writeFile(
    config,
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      'prediction_log: { enabled: false }',
      'upstreams:',
      // Nothing listens there: the routes are registered whether the runtime is up or not.
      '  onnx: { endpoints: ["http://127.0.0.1:9"] }',
      'models:',
      '  fraud:',
      '    routing: { salt: readme }',
      '    variants: [{ name: v1, upstream: onnx, model: fraud, version: "1", weight: 100 }]',
      '',
    ].join('\n'),
  );
  const gateway = await startGateway({ config, logLevel: 'silent', drainDelayMs: 0, graceMs: 5000 });
  let routes: string[];
  try {
    routes = registeredRoutes(gateway.app.printRoutes({ commonPrefix: false }))
      .filter((route) => route.split(' ')[1]!.startsWith('/admin'))
      .map((route) => route.replace(/:(\w+)/g, '{$1}'));
  } finally {
    assert.equal(await gateway.shutdown(), true);
  }
  assert.ok(routes.length > 0, 'the gateway registers admin routes');
  const documented = rows(section('Admin API'))
    .map((row) => code(row[0]))
    .filter((text): text is string => text !== undefined);
  for (const route of routes) assert.ok(documented.includes(route), `README's Admin API lacks \`${route}\``);
  for (const route of documented)
    assert.ok(
      routes.includes(route),
      `README's Admin API lists \`${route}\`, which the gateway does not serve`,
    );
});

/** A default as the README's default column writes it. */
function defaultCell(key: ConfigKey): string {
  if (key.default !== undefined) {
    const text = typeof key.default === 'string' ? key.default || "''" : JSON.stringify(key.default);
    return `\`${text}\``;
  }
  return key.required ? 'required' : '—';
}

test('the config reference gives every key of the schema with its default, and no key the schema lacks', () => {
  const keys = configKeys(GatewayConfigSchema);
  assert.ok(keys.length > 50, 'the schema is walked');
  const table = [
    ...rows(section('The config file')),
    ...rows(section('Progressive delivery: the rollout policy')),
  ].filter((row) => code(row[0]) !== undefined && row.length === 3);
  for (const key of keys) {
    const row = table.find((cells) => code(cells[0]) === key.path);
    assert.ok(row, `README's config reference lacks \`${key.path}\``);
    assert.equal(row[1], defaultCell(key), `the default of ${key.path}`);
    assert.ok(row[2]!.length > 0, `${key.path} is explained`);
  }
  // An object (`models.NAME.rollout.criteria`) may have a row of its own; a key no longer there may not.
  for (const cells of table) {
    const path = code(cells[0])!;
    assert.ok(
      keys.some(
        (key) => key.path === path || key.path.startsWith(`${path}.`) || key.path.startsWith(`${path}[]`),
      ),
      `README's config reference has \`${path}\`, which the schema does not`,
    );
  }
});
