import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseConfigText } from './load.js';
import type { ConfigProblem } from './problem.js';
import type { ConfigSnapshot } from './snapshot.js';
import { watchConfig, type ConfigWatchOptions } from './watch.js';

const WAIT_MS = 5000;
// Polling is set far beyond the test's bounds where a test is about fs.watch events, so a pass
// can't come from the safety-net poll.
const EVENTS_ONLY: ConfigWatchOptions = { debounce_ms: 20, poll_ms: 60_000 };

function configText(v1Weight: number, comment = ''): string {
  return `${comment}
upstreams:
  onnx: { endpoints: ["http://127.0.0.1:8001"] }
models:
  fraud:
    routing: { salt: watch-test }
    variants:
      - { name: v1, upstream: onnx, model: fraud, version: "1", weight: ${v1Weight} }
      - { name: v2, upstream: onnx, model: fraud, version: "2", weight: ${100 - v1Weight} }
`;
}

function hashOf(text: string): string {
  const result = parseConfigText(text, {}, 'expected');
  assert.ok(result.ok);
  return result.snapshot.hash;
}

type Seen =
  | { kind: 'snapshot'; snapshot: ConfigSnapshot }
  | { kind: 'invalid'; problems: ConfigProblem[] }
  | { kind: 'error'; error: Error };

/** A temp dir, a watcher on `relativePath` in it, and what the watcher reported; all cleaned up after the test. */
async function setUp(
  t: TestContext,
  prepare: (dir: string) => Promise<void>,
  relativePath = 'gateway.yaml',
  options: ConfigWatchOptions = EVENTS_ONLY,
) {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await prepare(dir);
  const seen: Seen[] = [];
  const watcher = watchConfig(
    join(dir, relativePath),
    {
      onSnapshot: (snapshot) => seen.push({ kind: 'snapshot', snapshot }),
      onInvalid: (problems) => seen.push({ kind: 'invalid', problems }),
      onError: (error) => seen.push({ kind: 'error', error }),
    },
    { ...options, env: {} },
  );
  t.after(() => watcher.close());

  /** Resolves with the first report after `from` that matches, or fails after WAIT_MS. */
  const waitFor = async <T extends Seen>(match: (s: Seen) => s is T, from = 0): Promise<T> => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = seen.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline)
        assert.fail(`nothing reported in ${WAIT_MS} ms; seen: ${describeSeen(seen)}`);
      await sleep(10);
    }
  };
  return { dir, seen, watcher, waitFor };
}

const isSnapshot = (s: Seen): s is Extract<Seen, { kind: 'snapshot' }> => s.kind === 'snapshot';
const isInvalid = (s: Seen): s is Extract<Seen, { kind: 'invalid' }> => s.kind === 'invalid';

function describeSeen(seen: Seen[]): string {
  return JSON.stringify(seen.map((s) => (s.kind === 'snapshot' ? `snapshot ${s.snapshot.hash}` : s)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

test('an edit is seen quickly', async (t) => {
  const { dir, waitFor } = await setUp(t, (dir) => writeFile(join(dir, 'gateway.yaml'), configText(90)));
  const started = Date.now();
  await writeFile(join(dir, 'gateway.yaml'), configText(80));
  const { snapshot } = await waitFor(isSnapshot);
  assert.equal(snapshot.hash, hashOf(configText(80)));
  assert.equal(snapshot.config.models['fraud']?.variants[0]?.weight, 80);
  assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
});

test('an invalid edit is reported as problems and gives no snapshot; the fix does', async (t) => {
  const { dir, waitFor, seen } = await setUp(t, (dir) =>
    writeFile(join(dir, 'gateway.yaml'), configText(90)),
  );
  await writeFile(join(dir, 'gateway.yaml'), configText(90).replace('weight: 10', 'weight: 0'));
  // writeFile truncates first, so a check may also catch the empty file; wait for the real problem.
  const { problems } = await waitFor(
    (s): s is Extract<Seen, { kind: 'invalid' }> => isInvalid(s) && s.problems[0]?.path !== '',
  );
  assert.deepEqual(problems, [{ path: '/models/fraud/variants', message: 'weights sum to 90, not 100' }]);
  await sleep(200);
  assert.equal(seen.filter(isSnapshot).length, 0, describeSeen(seen));

  const from = seen.length;
  await writeFile(join(dir, 'gateway.yaml'), configText(70));
  const { snapshot } = await waitFor(isSnapshot, from);
  assert.equal(snapshot.hash, hashOf(configText(70)));
});

test('rewriting the same bytes reports nothing', async (t) => {
  const { dir, seen } = await setUp(t, (dir) => writeFile(join(dir, 'gateway.yaml'), configText(90)));
  await writeFile(join(dir, 'gateway.yaml'), configText(90));
  await sleep(300);
  assert.deepEqual(seen, []);
});

test('a Kubernetes ConfigMap update (atomic ..data symlink swap) is seen', async (t) => {
  const { dir, waitFor, seen } = await setUp(t, async (dir) => {
    await mkdir(join(dir, '..2026_a'));
    await writeFile(join(dir, '..2026_a', 'gateway.yaml'), configText(90));
    await symlink('..2026_a', join(dir, '..data'));
    await symlink(join('..data', 'gateway.yaml'), join(dir, 'gateway.yaml'));
  });

  // What the kubelet does: write the new version beside the old, re-point ..data atomically by
  // renaming a fresh symlink over it, then delete the old version. The snapshot is awaited before
  // the deletion, so it must come from the directory watcher: nothing touches the old file.
  await mkdir(join(dir, '..2026_b'));
  await writeFile(join(dir, '..2026_b', 'gateway.yaml'), configText(60));
  await symlink('..2026_b', join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  const first = await waitFor(isSnapshot);
  assert.equal(first.snapshot.hash, hashOf(configText(60)));
  await rm(join(dir, '..2026_a'), { recursive: true });

  // The watchers now follow the new target: a second swap is seen as well.
  const from = seen.length;
  await mkdir(join(dir, '..2026_c'));
  await writeFile(join(dir, '..2026_c', 'gateway.yaml'), configText(30));
  await symlink('..2026_c', join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await rm(join(dir, '..2026_b'), { recursive: true });
  const second = await waitFor(isSnapshot, from);
  assert.equal(second.snapshot.hash, hashOf(configText(30)));
  assert.equal(seen.filter(isSnapshot).length, 2, describeSeen(seen));
});

test('rename-and-replace saves are seen, including a moment with no file', async (t) => {
  const { dir, waitFor, seen } = await setUp(t, (dir) =>
    writeFile(join(dir, 'gateway.yaml'), configText(90)),
  );
  const path = join(dir, 'gateway.yaml');

  // Write a temp file, rename it over the original (most editors, and `rollout`).
  await writeFile(`${path}.tmp`, configText(50));
  await rename(`${path}.tmp`, path);
  const first = await waitFor(isSnapshot);
  assert.equal(first.snapshot.hash, hashOf(configText(50)));

  // Move the original away, then write a new one a little later (vim's default on some systems).
  const from = seen.length;
  await rename(path, `${path}~`);
  await sleep(80);
  await writeFile(path, configText(40));
  await unlink(`${path}~`);
  const second = await waitFor(isSnapshot, from);
  assert.equal(second.snapshot.hash, hashOf(configText(40)));
  assert.deepEqual(
    seen.filter((s) => s.kind !== 'snapshot'),
    [],
  );
});

test('a file that changed between loading and watching is reported at once', async (t) => {
  const loaded = parseConfigText(configText(90), {}, 'loaded');
  assert.ok(loaded.ok);
  const { waitFor } = await setUp(
    t,
    (dir) => writeFile(join(dir, 'gateway.yaml'), configText(75)),
    'gateway.yaml',
    { ...EVENTS_ONLY, initial: loaded.snapshot },
  );
  const { snapshot } = await waitFor(isSnapshot);
  assert.equal(snapshot.hash, hashOf(configText(75)));
});

test('a lasting absence is reported once, and the file coming back is seen', async (t) => {
  const { dir, waitFor, seen } = await setUp(
    t,
    (dir) => writeFile(join(dir, 'gateway.yaml'), configText(90)),
    'gateway.yaml',
    { debounce_ms: 20, poll_ms: 50 },
  );
  await unlink(join(dir, 'gateway.yaml'));
  const { error } = await waitFor((s): s is Extract<Seen, { kind: 'error' }> => s.kind === 'error');
  assert.match(error.message, /is missing; keeping the config in use/);
  await sleep(200);
  assert.equal(seen.length, 1, describeSeen(seen));

  await writeFile(join(dir, 'gateway.yaml'), configText(20));
  const { snapshot } = await waitFor(isSnapshot);
  assert.equal(snapshot.hash, hashOf(configText(20)));
});

test('nothing is reported after close', async (t) => {
  const { dir, seen, watcher } = await setUp(
    t,
    (dir) => writeFile(join(dir, 'gateway.yaml'), configText(90)),
    'gateway.yaml',
    { debounce_ms: 20, poll_ms: 50 },
  );
  watcher.close();
  await writeFile(join(dir, 'gateway.yaml'), configText(10));
  await sleep(300);
  assert.deepEqual(seen, []);
});
