import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/http/console.js';
import { rolloutConfig, rolloutStatus, sendDecisions, type Answered } from '../delivery/harness.js';
import { AUTH, DEMO_KEY, startGateway, writeConfig } from '../harness/gateway.js';
import { createClient, getJson, wireError } from '../harness/http.js';
import { runtimeRequests, tenantWithKey } from '../harness/load.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

/** Debian's chromium, driven by playwright-core (which downloads no browser of its own). */
const CHROMIUM = '/usr/bin/chromium';

const upstreamsOf = async (client: Parameters<typeof getJson>[0], gatewayUrl: string) =>
  (await getJson(client, `${gatewayUrl}/admin/upstreams`, AUTH)).body as Record<
    string,
    { url: string; draining: boolean; inFlight: number; health: string }[]
  >;

/** The number in a cell of the page (`1,234`, `25.3%`); NaN for '–'. */
async function cellNumber(page: Page, selector: string): Promise<number> {
  const text = (await page.locator(selector).textContent()) ?? '';
  return Number(text.replace(/[,%]/g, ''));
}

test(
  'the console in a real browser: key, split, pause, drain, CSP',
  {
    timeout: 90_000,
    skip: existsSync(CHROMIUM) ? false : `needs Debian's chromium at ${CHROMIUM} (.ci/run installs it)`,
  },
  async (t) => {
    // Kept after the test: the screenshot in it is the run's artifact.
    const artifacts = await mkdtemp(join(tmpdir(), 'switchyard-console-'));
    // One at a time, each stopped by the test whatever fails after it started.
    const kept = await startRuntime();
    t.after(() => kept.stop());
    const drained = await startRuntime();
    t.after(() => drained.stop());
    const client = createClient(16);
    t.after(() => client.close());
    const caller = tenantWithKey('caller', ['infer']);
    // The candidate is the baseline's model under another name, at its first step (25% of the
    // baseline's users) and held there: min_samples is out of reach, so every judgement is
    // inconclusive and the rollout keeps running while the page acts on it.
    const base = rolloutConfig(
      { baseline: kept.url },
      { name: 'v1b', version: '1' },
      {
        steps: [25, 50, 100],
        interval_s: 0.5,
        min_samples: 100_000,
        // drift_psi sets switchyard_drift_psi per feature, which the page draws as bars.
        criteria: { error_rate: { max_increase: 0.05 }, drift_psi: { max: 0.25 } },
      },
    );
    const config = {
      ...base,
      admin: { console: true },
      tenants: [...base.tenants, caller.tenant],
      upstreams: { ...base.upstreams, onnx: { ...base.upstreams.onnx, endpoints: [kept.url, drained.url] } },
    };
    const gateway = await startGateway(config);
    t.after(() => gateway.stop());
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
    t.after(() => browser.close());
    await waitFor('both runtimes healthy in the pool', async () =>
      (await upstreamsOf(client, gateway.url)).onnx?.every((e) => e.health === 'healthy'),
    );

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Any console error or uncaught exception fails the test, a CSP violation among them (Chrome
    // reports one as a console error). Refused keys are the exception: the browser logs each 401
    // or 403 answer as a failed resource load, which those steps expect.
    const errors: string[] = [];
    let expectRefusals = false;
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      if (expectRefusals && /status of 40[13]/.test(message.text())) return;
      errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));

    await t.test(
      'without a key the page shows nothing but the key form, and refuses wrong keys',
      async () => {
        const response = await page.goto(`${gateway.url}/console`);
        assert.equal(response?.status(), 200);
        assert.equal(response?.headers()['content-security-policy'], CONSOLE_CSP);
        await page.locator('#key-form').waitFor({ state: 'visible' });
        assert.equal(await page.locator('#console').isVisible(), false);
        assert.equal(await page.locator('[data-model]').count(), 0);

        expectRefusals = true;
        for (const [key, code] of [
          ['sk-not-a-key', 'SWY_ERR_AUTH_UNKNOWN_KEY'],
          [caller.key, 'SWY_ERR_AUTH_FORBIDDEN'], // a real key, without the admin scope
        ] as const) {
          await page.fill('#key-input', key);
          await page.click('#key-form button[type=submit]');
          await page.locator('#key-error', { hasText: code }).waitFor();
          assert.equal(await page.locator('#console').isVisible(), false);
          assert.equal(await page.locator('[data-model]').count(), 0);
          assert.equal(await page.evaluate<number>('sessionStorage.length'), 0, 'a refused key is not kept');
        }
        expectRefusals = false;
      },
    );

    await t.test('with the admin key it shows the variants and the split the test sent', async () => {
      await page.fill('#key-input', DEMO_KEY);
      await page.click('#key-form button[type=submit]');
      await page.locator('[data-model="fraud"]').waitFor();
      // Kept in the tab's session storage, never in the URL; a reload does not ask again.
      assert.equal(
        await page.evaluate<string | null>("sessionStorage.getItem('switchyard.admin-key')"),
        DEMO_KEY,
      );
      assert.ok(!page.url().includes(DEMO_KEY));
      await page.reload();
      await page.locator('[data-model="fraud"]').waitFor();
      assert.equal(await page.locator('#key-form').isVisible(), false);

      const answers: Answered[] = await sendDecisions(client, gateway.url, 400);
      assert.ok(answers.every((a) => a.status === 200));
      const sent = { v1: 0, v1b: 0 };
      for (const a of answers) sent[a.variant as keyof typeof sent]++;
      assert.ok(sent.v1 > 0 && sent.v1b > 0, JSON.stringify(sent));

      // The page redraws every 2 s; wait for the redraw that has every request in it.
      const fraud = '[data-model="fraud"]';
      await waitFor(
        'the page to count every request sent',
        async () =>
          (await cellNumber(page, `${fraud} .requests[data-variant="v1"]`)) === sent.v1 &&
          (await cellNumber(page, `${fraud} .requests[data-variant="v1b"]`)) === sent.v1b,
        15_000,
        200,
      );
      for (const variant of ['v1', 'v1b'] as const) {
        const shown = await cellNumber(page, `${fraud} .split[data-variant="${variant}"]`);
        const expected = (100 * sent[variant]) / answers.length;
        // The page rounds to one decimal.
        assert.ok(
          Math.abs(shown - expected) <= 0.05 + 1e-9,
          `${variant}: shown ${shown}%, sent ${expected}%`,
        );
      }
      assert.equal(await cellNumber(page, `${fraud} .effective-weight[data-variant="v1"]`), 75);
      assert.equal(await cellNumber(page, `${fraud} .effective-weight[data-variant="v1b"]`), 25);
      await page.locator(`${fraud} .steps li.current[data-step="25"]`).waitFor();
    });

    await t.test('pause on the page pauses the rollout in the admin API', async () => {
      assert.equal((await rolloutStatus(client, gateway.url)).status, 'running');
      await page.click('[data-model="fraud"] button[data-action="pause"]');
      await waitFor(
        'the rollout paused',
        async () => (await rolloutStatus(client, gateway.url)).status === 'paused',
      );
      await page.locator('[data-model="fraud"] .result', { hasText: 'the rollout is paused' }).waitFor();
      await page.locator('[data-model="fraud"] .rollout[data-status="paused"]').waitFor();
    });

    await t.test('drain on the page stops new requests to that endpoint', async () => {
      const endpoint = (await upstreamsOf(client, gateway.url)).onnx!.find((e) => e.url === drained.url)!;
      assert.ok(endpoint, `the pool lists ${drained.url}`);
      await page.click(`[data-upstream="onnx"] button[data-endpoint="${drained.url}"][data-action="drain"]`);
      await waitFor('the endpoint draining, nothing in flight to it', async () => {
        const status = (await upstreamsOf(client, gateway.url)).onnx!.find((e) => e.url === drained.url)!;
        return status.draining && status.inFlight === 0;
      });
      await page
        .locator(`[data-upstream="onnx"] button[data-endpoint="${drained.url}"][data-action="undrain"]`)
        .waitFor();

      const before = {
        kept: await runtimeRequests(client, kept.url),
        drained: await runtimeRequests(client, drained.url),
      };
      const answers = await sendDecisions(client, gateway.url, 200, 400);
      assert.ok(answers.every((a) => a.status === 200));
      const after = {
        kept: await runtimeRequests(client, kept.url),
        drained: await runtimeRequests(client, drained.url),
      };
      assert.equal(after.drained, before.drained, 'the drained runtime got no new request');
      assert.ok(
        after.kept - before.kept >= 200,
        `the other runtime served them: ${JSON.stringify({ before, after })}`,
      );
    });

    await t.test('the CSP is in force, and the page broke none of it', async () => {
      // An inline script is refused (and reported as a console error, which is what the listener catches).
      // (Browser code as a string: the tests' TypeScript has no DOM library.)
      const ran = await page.evaluate<string>(`(() => {
        const script = document.createElement('script');
        script.textContent = 'document.body.dataset.inline = "ran"';
        document.head.append(script);
        return document.body.dataset.inline ?? 'refused';
      })()`);
      assert.equal(ran, 'refused');
      await waitFor('the violation reported', () => errors.some((e) => /Content Security Policy/.test(e)));
      const violations = errors.splice(0).filter((e) => !/Executing inline script violates/.test(e));
      assert.deepEqual(violations, [], 'the page itself logged no error');

      const screenshot = join(artifacts, 'console.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok((await stat(screenshot)).size > 10_000);
      t.diagnostic(`console screenshot: ${screenshot}`);
      console.log(`console screenshot: ${screenshot}`);
    });

    await t.test(
      'an invalid edit shows its problems; admin.console: false then takes the page away',
      async () => {
        const predictionLog = { path: join(gateway.dir, 'predictions.jsonl') }; // where startGateway put it
        const fraud = config.models.fraud;
        await writeConfig(gateway.configPath, {
          ...config,
          prediction_log: predictionLog,
          models: { fraud: { ...fraud, variants: fraud.variants.map((v) => ({ ...v, weight: 50 })) } },
        });
        // The candidate of a rollout must stay at weight 0: refused, and said so on the page.
        const problem = page.locator('.reload[data-outcome="invalid"] .problems li', {
          hasText: '/models/fraud',
        });
        await problem.first().waitFor({ timeout: 10_000 });
        const lastReload = (await getJson(client, `${gateway.url}/admin/config`, AUTH)).body as {
          last_reload: { outcome: string; problems: { path: string }[] };
        };
        assert.equal(lastReload.last_reload.outcome, 'invalid');
        assert.ok(lastReload.last_reload.problems.some((p) => p.path.startsWith('/models/fraud')));

        await writeConfig(gateway.configPath, {
          ...config,
          admin: { console: false },
          prediction_log: predictionLog,
        });
        await waitFor(
          'the console turned off',
          async () => (await getJson(client, `${gateway.url}/console`)).status === 404,
          10_000,
          100,
        );
        const asset = await getJson(client, `${gateway.url}/console/assets/main.js`);
        assert.equal(asset.status, 404);
        assert.equal(wireError(asset.body)?.code, 'SWY_ERR_HTTP_NOT_FOUND');
        assert.equal((await getJson(client, `${gateway.url}/admin/models`, AUTH)).status, 200);
        assert.equal((await getJson(client, `${gateway.url}/admin/models`)).status, 401);
      },
    );
  },
);
