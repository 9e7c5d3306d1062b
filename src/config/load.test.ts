import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { loadConfigFile, parseConfigText, type LoadResult } from './load.js';
import type { ConfigSnapshot } from './snapshot.js';

const exampleConfig = fileURLToPath(new URL('../../config/gateway.yaml', import.meta.url));
const devConfig = fileURLToPath(new URL('../../config/gateway.dev.yaml', import.meta.url));

type Json = Record<string, unknown>;

/** A small valid config; each broken case below changes one thing in a fresh copy. */
function baseConfig(): Json {
  return {
    tenants: [
      { name: 'checkout', keys: [{ sha256: 'a'.repeat(64) }], scopes: ['infer'] },
      { name: 'ops', keys: [{ sha256: 'b'.repeat(64) }], scopes: ['infer', 'admin'] },
    ],
    upstreams: { onnx: { endpoints: ['http://127.0.0.1:8001'] } },
    models: {
      fraud: {
        routing: { salt: 'fraud-test' },
        variants: [
          { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 90 },
          { name: 'v2', upstream: 'onnx', model: 'fraud', version: '2', weight: 10 },
        ],
        shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 5 }],
        cache: { ttl_ms: 1000 },
        fallback: ['cache', { variant: 'v1' }, { default: { decision: 'review' } }],
        contract: {
          input: 'features',
          output: 'score',
          features: [{ name: 'amount', min: 0, max: 100 }, { name: 'age' }],
          decisions: {
            below: 'approve',
            thresholds: [
              { at: 0.5, decision: 'review' },
              { at: 0.85, decision: 'decline' },
            ],
          },
        },
      },
    },
  };
}

function load(config: unknown, env: Record<string, string> = {}): LoadResult {
  return parseConfigText(stringify(config), env, 'test.yaml');
}

function loaded(result: LoadResult): ConfigSnapshot {
  assert.ok(result.ok, `expected a valid config, got ${JSON.stringify(!result.ok && result.problems)}`);
  return result.snapshot;
}

/** Walks the plain-object config by keys/indexes, so a case can name what it changes. */
function at(config: Json, ...path: (string | number)[]): Json {
  let node: unknown = config;
  for (const segment of path) node = (node as Record<string | number, unknown>)[segment];
  return node as Json;
}

describe('example configs', () => {
  test('config/gateway.yaml loads with no environment', async () => {
    const snapshot = loaded(await loadConfigFile(exampleConfig, {}));
    assert.deepEqual(
      snapshot.config.models['fraud']?.variants.map((v) => [v.name, v.weight]),
      [
        ['v1', 90],
        ['v2', 10],
      ],
    );
    assert.deepEqual(snapshot.config.upstreams['onnx']?.dns, {
      name: 'onnx-runtime.switchyard.svc.cluster.local',
      port: 8000,
      protocol: 'http',
      interval_ms: 5000,
    });
    assert.deepEqual(
      snapshot.config.models['fraud']?.contract?.features.map((f) => f.name),
      [
        'transaction_amount',
        'account_age_days',
        'device_risk_score',
        'country_risk',
        'hour_of_day',
        'transactions_last_24h',
        'is_new_device',
        'distance_from_home_km',
      ],
    );
    assert.equal(snapshot.config.state.redis_url, '');
    assert.equal(snapshot.source, exampleConfig);
    assert.match(snapshot.hash, /^[0-9a-f]{16}$/);
  });

  test('config/gateway.dev.yaml uses the default runtime URL unless the variable is set', async () => {
    const defaulted = loaded(await loadConfigFile(devConfig, {}));
    assert.deepEqual(defaulted.config.upstreams['onnx']?.endpoints, ['http://127.0.0.1:8001']);
    assert.equal(defaulted.config.listen.port, 8080);
    const demoKey = createHash('sha256').update('sk-switchyard-demo').digest('hex');
    assert.deepEqual(defaulted.config.tenants[0]?.keys, [{ sha256: demoKey }]);
    assert.deepEqual(defaulted.config.tenants[0]?.scopes, ['infer', 'admin', 'debug']);

    const pointed = loaded(
      await loadConfigFile(devConfig, { SWITCHYARD_RUNTIME_URL: 'http://10.0.0.9:9000' }),
    );
    assert.deepEqual(pointed.config.upstreams['onnx']?.endpoints, ['http://10.0.0.9:9000']);
    assert.notEqual(pointed.hash, defaulted.hash);
  });

  test('an unreadable file is a problem, not an exception', async () => {
    const result = await loadConfigFile('/nonexistent/gateway.yaml', {});
    assert.equal(result.ok, false);
    assert.match(!result.ok ? (result.problems[0]?.message ?? '') : '', /cannot read the config file/);
  });
});

describe('upstream protocols', () => {
  test('grpc:// endpoints beside http:// ones, and dns.protocol (http unless grpc)', () => {
    const config = baseConfig();
    at(config, 'upstreams').onnx = { endpoints: ['grpc://127.0.0.1:9001', 'http://127.0.0.1:8001'] };
    at(config, 'upstreams').found = { dns: { name: 'r.test', port: 9001, protocol: 'grpc' } };
    at(config, 'upstreams').plain = { dns: { name: 'r.test', port: 8001 } };
    const { config: valid } = loaded(load(config));
    assert.deepEqual(valid.upstreams['onnx']?.endpoints, ['grpc://127.0.0.1:9001', 'http://127.0.0.1:8001']);
    assert.equal(valid.upstreams['found']?.dns?.protocol, 'grpc');
    assert.equal(valid.upstreams['plain']?.dns?.protocol, 'http');
  });
});

describe('defaults', () => {
  test('are applied everywhere, including inside models and upstreams', () => {
    const { config } = loaded(load(baseConfig()));
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(config.limits, {
      body_bytes: 33554432,
      header_timeout_ms: 10000,
      body_timeout_ms: 10000,
      request_timeout_ms: 30000,
      max_connections: 10000,
      json_depth: 64,
    });
    assert.equal(config.admin.drain_timeout_ms, 30000);
    assert.equal(config.tenants[0]?.priority, 'normal');
    assert.equal(config.upstreams['onnx']?.health.path, '/v2/health/ready');
    const fraud = config.models['fraud'];
    assert.ok(fraud);
    assert.deepEqual(fraud.routing, {
      key: 'header:x-user-id',
      salt: 'fraud-test',
      missing_key: 'random',
      force_header: 'x-switchyard-force-variant',
    });
    assert.deepEqual(fraud.admission, { max_concurrency: 256, max_queue: 1024 });
    assert.equal(fraud.budget_ms, 250);
    assert.equal(fraud.fallback_reserve_ms, 5);
    assert.deepEqual(fraud.retry, { budget_percent: 20, min_per_second: 3 });
    assert.deepEqual(fraud.breaker, {
      error_threshold_percent: 50,
      volume_threshold: 20,
      reset_ms: 5000,
      rolling_window_ms: 10000,
    });
    assert.deepEqual(fraud.cache, { ttl_ms: 1000, max_entries: 10000, serve_hits: false });
    assert.equal(fraud.shadow_max_concurrency, 64);
  });

  test('a variant at weight 0 is allowed', () => {
    const config = baseConfig();
    at(config, 'models', 'fraud', 'variants', 0).weight = 100;
    at(config, 'models', 'fraud', 'variants', 1).weight = 0;
    loaded(load(config));
  });
});

describe('environment interpolation', () => {
  test('${NAME} and ${NAME:-default} fill string values; $${...} is a literal', () => {
    const config = baseConfig();
    at(config, 'upstreams', 'onnx').endpoints = ['http://${RUNTIME_HOST}:${RUNTIME_PORT:-8001}'];
    at(config, 'models', 'fraud', 'routing').salt = '$${not-a-variable}-${SALT_SUFFIX:-x}';
    const { config: result } = loaded(load(config, { RUNTIME_HOST: 'runtime', SALT_SUFFIX: '' }));
    assert.deepEqual(result.upstreams['onnx']?.endpoints, ['http://runtime:8001']);
    // As in a shell, `:-` also replaces a variable that is set but empty.
    assert.equal(result.models['fraud']?.routing.salt, '${not-a-variable}-x');
  });

  test('a value with YAML syntax stays one string', () => {
    const config = baseConfig();
    at(config, 'models', 'fraud', 'routing').salt = '${SALT}';
    const salt = 'x\nlisten: {port: 1}\n# - [';
    const { config: result } = loaded(load(config, { SALT: salt }));
    assert.equal(result.models['fraud']?.routing.salt, salt);
    assert.equal(result.listen.port, 8080);
  });
});

interface BrokenCase {
  name: string;
  change: (config: Json) => void;
  path: string;
  message: RegExp;
}

const brokenCases: BrokenCase[] = [
  {
    name: 'a header timeout longer than the whole request may take',
    change: (c) => (c.limits = { header_timeout_ms: 40000 }),
    path: '/limits/header_timeout_ms',
    message: /longer than limits\.request_timeout_ms \(30000\)/,
  },
  {
    name: 'a body timeout of 0',
    change: (c) => (c.limits = { body_timeout_ms: 0 }),
    path: '/limits/body_timeout_ms',
    message: /greater or equal to 1/,
  },
  {
    name: 'a misspelled key',
    change: (c) => {
      const fraud = at(c, 'models', 'fraud');
      fraud.shadow = fraud.shadows;
      delete fraud.shadows;
    },
    path: '/models/fraud/shadow',
    message: /unknown property "shadow" \(did you mean "shadows"\?\)/,
  },
  {
    name: 'an unknown top-level key',
    change: (c) => (c.listn = { port: 1 }),
    path: '/listn',
    message: /did you mean "listen"/,
  },
  {
    name: 'weights summing to 90',
    change: (c) => (at(c, 'models', 'fraud', 'variants', 1).weight = 0),
    path: '/models/fraud/variants',
    message: /weights sum to 90, not 100/,
  },
  {
    name: 'a weight with three decimals',
    change: (c) => {
      at(c, 'models', 'fraud', 'variants', 0).weight = 89.995;
      at(c, 'models', 'fraud', 'variants', 1).weight = 10.005;
    },
    path: '/models/fraud/variants/0/weight',
    message: /two decimals/,
  },
  {
    name: 'a weight over 100',
    change: (c) => (at(c, 'models', 'fraud', 'variants', 0).weight = 190),
    path: '/models/fraud/variants/0/weight',
    message: /less or equal to 100/,
  },
  {
    name: 'a variant on an unknown upstream',
    change: (c) => (at(c, 'models', 'fraud', 'variants', 1).upstream = 'onnx-gpu'),
    path: '/models/fraud/variants/1/upstream',
    message: /unknown upstream "onnx-gpu" \(upstreams: onnx\)/,
  },
  {
    name: 'a shadow on an unknown upstream',
    change: (c) => (at(c, 'models', 'fraud', 'shadows', 0).upstream = 'triton'),
    path: '/models/fraud/shadows/0/upstream',
    message: /unknown upstream "triton"/,
  },
  {
    name: 'an unset environment variable',
    change: (c) => (at(c, 'upstreams', 'onnx').endpoints = ['${SWITCHYARD_TEST_UNSET}']),
    path: '/upstreams/onnx/endpoints/0',
    message: /environment variable SWITCHYARD_TEST_UNSET is not set/,
  },
  {
    name: 'a malformed variable reference',
    change: (c) => (at(c, 'models', 'fraud', 'routing').salt = '${1BAD}'),
    path: '/models/fraud/routing/salt',
    message: /invalid variable reference/,
  },
  {
    name: 'a key digest in upper-case hex',
    change: (c) => (at(c, 'tenants', 0, 'keys', 0).sha256 = 'A'.repeat(64)),
    path: '/tenants/0/keys/0/sha256',
    message: /64 lowercase hex/,
  },
  {
    name: 'a key digest that is too short',
    change: (c) => (at(c, 'tenants', 0, 'keys', 0).sha256 = 'abc'),
    path: '/tenants/0/keys/0/sha256',
    message: /sha256 of the API key/,
  },
  {
    name: 'the same key for two tenants',
    change: (c) => (at(c, 'tenants', 1, 'keys', 0).sha256 = 'a'.repeat(64)),
    path: '/tenants/1/keys/0/sha256',
    message: /already listed at \/tenants\/0\/keys\/0/,
  },
  {
    name: 'two tenants with one name',
    change: (c) => (at(c, 'tenants', 1).name = 'checkout'),
    path: '/tenants/1/name',
    message: /duplicate tenant name "checkout"/,
  },
  {
    name: 'an unknown scope',
    change: (c) => (at(c, 'tenants', 0).scopes = ['infer', 'superuser']),
    path: '/tenants/0/scopes/1',
    message: /must be one of: infer, admin, debug/,
  },
  {
    name: 'a duplicate variant name',
    change: (c) => (at(c, 'models', 'fraud', 'variants', 1).name = 'v1'),
    path: '/models/fraud/variants/1/name',
    message: /duplicate variant name "v1"/,
  },
  {
    name: 'a shadow named like a variant',
    change: (c) => (at(c, 'models', 'fraud', 'shadows', 0).name = 'v2'),
    path: '/models/fraud/shadows/0/name',
    message: /already a variant/,
  },
  {
    name: 'a fallback to an unknown variant',
    change: (c) => (at(c, 'models', 'fraud').fallback = [{ variant: 'v9' }]),
    path: '/models/fraud/fallback/0/variant',
    message: /unknown variant "v9" \(variants: v1, v2\)/,
  },
  {
    name: 'a malformed fallback step',
    change: (c) => (at(c, 'models', 'fraud').fallback = ['cache', { varaint: 'v1' }]),
    path: '/models/fraud/fallback/1',
    message: /expected cache, \{ variant: NAME \}/,
  },
  {
    name: 'a fallback after the default',
    change: (c) => (at(c, 'models', 'fraud').fallback = [{ default: { decision: 'review' } }, 'cache']),
    path: '/models/fraud/fallback/1',
    message: /never reached/,
  },
  {
    name: 'a cache fallback without a cache',
    change: (c) => delete at(c, 'models', 'fraud').cache,
    path: '/models/fraud/fallback/0',
    message: /no cache section/,
  },
  {
    name: 'an upstream with both endpoints and dns',
    change: (c) => (at(c, 'upstreams', 'onnx').dns = { name: 'runtime.local', port: 8000 }),
    path: '/upstreams/onnx',
    message: /both endpoints and dns/,
  },
  {
    name: 'an upstream with neither endpoints nor dns',
    change: (c) => delete at(c, 'upstreams', 'onnx').endpoints,
    path: '/upstreams/onnx',
    message: /needs one of endpoints and dns/,
  },
  {
    name: 'thresholds not ascending',
    change: (c) => (at(c, 'models', 'fraud', 'contract', 'decisions', 'thresholds', 1).at = 0.4),
    path: '/models/fraud/contract/decisions/thresholds/1/at',
    message: /thresholds must ascend: 0.4 is not above the previous 0.5/,
  },
  {
    name: 'a feature listed twice',
    change: (c) => (at(c, 'models', 'fraud', 'contract', 'features', 1).name = 'amount'),
    path: '/models/fraud/contract/features/1/name',
    message: /duplicate feature "amount"/,
  },
  {
    name: 'a feature range upside down',
    change: (c) => (at(c, 'models', 'fraud', 'contract', 'features', 0).min = 1000),
    path: '/models/fraud/contract/features/0',
    message: /min \(1000\) is greater than max \(100\)/,
  },
  {
    name: 'a missing salt',
    change: (c) => delete at(c, 'models', 'fraud', 'routing').salt,
    path: '/models/fraud/routing/salt',
    message: /^required property is missing$/,
  },
  {
    name: 'a version written as a number',
    change: (c) => (at(c, 'models', 'fraud', 'variants', 0).version = 1),
    path: '/models/fraud/variants/0/version',
    message: /expected a string \(put numbers and true\/false in quotes\)/,
  },
  {
    name: 'a routing key of unknown syntax',
    change: (c) => (at(c, 'models', 'fraud', 'routing').key = 'cookie:uid'),
    path: '/models/fraud/routing/key',
    message: /header:NAME, body:dotted.path or tenant/,
  },
  {
    name: 'a model name with a space',
    change: (c) => (at(c, 'models')['fraud model'] = at(c, 'models', 'fraud')),
    path: '/models/fraud model',
    message: /names must match/,
  },
  {
    name: 'a fallback reserve as long as the budget',
    change: (c) => Object.assign(at(c, 'models', 'fraud'), { budget_ms: 10, fallback_reserve_ms: 10 }),
    path: '/models/fraud/fallback_reserve_ms',
    message: /less than budget_ms \(10\)/,
  },
  {
    name: 'an endpoint of a scheme other than http, https and grpc',
    change: (c) => (at(c, 'upstreams', 'onnx').endpoints = ['h2c://127.0.0.1:9001']),
    path: '/upstreams/onnx/endpoints/0',
    message: /\^\(https\?\|grpc\):\/\//,
  },
  {
    name: 'a dns protocol other than http and grpc',
    change: (c) => (at(c, 'upstreams').onnx = { dns: { name: 'r.test', port: 9001, protocol: 'h2' } }),
    path: '/upstreams/onnx/dns/protocol',
    message: /one of: http, grpc/,
  },
  {
    name: 'a redis URL of another scheme',
    change: (c) => (c.state = { redis_url: 'http://redis:6379' }),
    path: '/state/redis_url',
    message: /rediss\?/,
  },
];

describe('a broken config names the problem and where it is', () => {
  for (const broken of brokenCases) {
    test(broken.name, () => {
      const config = baseConfig();
      broken.change(config);
      const result = load(config);
      assert.equal(result.ok, false, 'expected problems');
      const problems = result.ok ? [] : result.problems;
      const found = problems.find((p) => p.path === broken.path && broken.message.test(p.message));
      assert.ok(
        found,
        `no problem at ${broken.path} matching ${broken.message}; got ${JSON.stringify(problems)}`,
      );
    });
  }

  test('YAML syntax errors give the line', () => {
    const result = parseConfigText('listen: { port: 8080\nmodels: {}\n', {}, 'bad.yaml');
    assert.equal(result.ok, false);
    assert.match(!result.ok ? (result.problems[0]?.message ?? '') : '', /line \d+, column \d+/);
  });

  test('a YAML alias inside its own anchor is a problem, not a crash', () => {
    const result = parseConfigText('upstreams: {}\nmodels: {}\nlisten: &a { host: *a }\n', {}, 'cyclic.yaml');
    assert.ok(!result.ok);
    assert.ok(result.problems.some((p) => p.path === '/listen/host' && /alias/.test(p.message)));
  });

  test('a __proto__ key cannot smuggle in unvalidated settings', () => {
    const result = parseConfigText(
      'upstreams: {}\nmodels: {}\nlisten: { __proto__: { port: 1 } }\n',
      {},
      'p.yaml',
    );
    assert.deepEqual(!result.ok && result.problems, [
      { path: '/listen/__proto__', message: 'this key is not allowed' },
    ]);
  });

  test('an empty file is a problem at the root', () => {
    const result = parseConfigText('', {}, 'empty.yaml');
    assert.deepEqual(!result.ok && result.problems[0], { path: '', message: 'expected object' });
  });

  test('every problem is listed, not only the first', () => {
    const chosen = brokenCases.filter((c) =>
      [
        'a misspelled key',
        'weights summing to 90',
        'a variant on an unknown upstream',
        'an unset environment variable',
        'a key digest in upper-case hex',
        'thresholds not ascending',
      ].includes(c.name),
    );
    assert.equal(chosen.length, 6);
    const config = baseConfig();
    for (const broken of chosen) broken.change(config);
    const result = load(config);
    assert.equal(result.ok, false);
    const problems = result.ok ? [] : result.problems;
    for (const broken of chosen) {
      assert.ok(
        problems.some((p) => p.path === broken.path && broken.message.test(p.message)),
        `${broken.path} missing from ${JSON.stringify(problems)}`,
      );
    }
  });
});

describe('the snapshot', () => {
  /** The same object with keys inserted in reverse order at every level. */
  function reversedKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(reversedKeys);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .reverse()
          .map(([k, v]) => [k, reversedKeys(v)]),
      );
    }
    return value;
  }

  test('its hash ignores key order, comments and spelled-out defaults', () => {
    const hash = loaded(load(baseConfig())).hash;
    assert.equal(loaded(load(reversedKeys(baseConfig()))).hash, hash);
    const text = '# a comment\n' + stringify(baseConfig());
    assert.equal(loaded(parseConfigText(text, {}, 'other.yaml')).hash, hash);
    const explicit = baseConfig();
    at(explicit, 'models', 'fraud').budget_ms = 250;
    assert.equal(loaded(load(explicit)).hash, hash);
  });

  test('its hash changes when a weight changes', () => {
    const before = loaded(load(baseConfig())).hash;
    const config = baseConfig();
    at(config, 'models', 'fraud', 'variants', 0).weight = 80;
    at(config, 'models', 'fraud', 'variants', 1).weight = 20;
    assert.notEqual(loaded(load(config)).hash, before);
  });

  test('is deep-frozen', () => {
    const snapshot = loaded(load(baseConfig()));
    const fraud = snapshot.config.models['fraud'];
    assert.ok(fraud);
    assert.throws(() => {
      snapshot.config.listen.port = 1;
    }, TypeError);
    assert.throws(() => {
      fraud.variants.push({ name: 'v9', upstream: 'onnx', model: 'fraud', version: '9', weight: 0 });
    }, TypeError);
    const variant = fraud.variants[0];
    assert.ok(variant);
    assert.throws(() => {
      variant.weight = 100;
    }, TypeError);
    assert.throws(() => {
      (snapshot as { hash: string }).hash = 'x';
    }, TypeError);
    assert.equal(variant.weight, 90);
  });
});
