// The console: asks for the admin key once per tab, then reads the admin API every few seconds
// and redraws in place (no reload). Every number on the page is an /admin/* answer.
import { adminCall, forgetKey, keyRefused, storedKey, storeKey } from './api.js';
import { renderConfig } from './config.js';
import { clock } from './dom.js';
import { ModelCard } from './models.js';
import { renderUpstreams } from './upstreams.js';

/** @typedef {import('./types.js').Snapshot} Snapshot */
/** @typedef {import('./dom.js').Result} Result */

/** Often enough to follow a rollout judged every few seconds; four small GETs a refresh. */
const REFRESH_MS = 2000;

/** @template {HTMLElement} T @param {string} id @param {new () => T} type @returns {T} */
function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page lacks #${id}`);
  return element;
}

const ui = {
  keyForm: byId('key-form', HTMLFormElement),
  keyInput: byId('key-input', HTMLInputElement),
  keyError: byId('key-error', HTMLElement),
  forget: byId('forget-key', HTMLButtonElement),
  status: byId('status', HTMLElement),
  main: byId('console', HTMLElement),
  config: byId('config', HTMLElement),
  models: byId('models', HTMLElement),
  upstreams: byId('upstreams', HTMLElement),
};

/** @type {string | null} */
let key = storedKey();
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** @type {Snapshot | undefined} */
let latest;
/** @type {Map<string, ModelCard>} */
const cards = new Map();
/** The last action's answer per model or upstream, kept across redraws. @type {Map<string, Result>} */
const results = new Map();

/** @param {string} message */
function askForKey(message) {
  key = null;
  forgetKey();
  clearTimeout(timer);
  ui.main.hidden = true;
  ui.forget.hidden = true;
  ui.keyForm.hidden = false;
  ui.keyError.textContent = message;
  ui.status.textContent = 'no key';
  ui.keyInput.focus();
}

ui.keyForm.addEventListener('submit', async (event) => {
  event.preventDefault(); // read by script; the form is never submitted (CSP form-action 'none')
  const candidate = ui.keyInput.value.trim();
  if (!candidate) return askForKey('enter a key with the admin scope');
  const answer = await adminCall(candidate, '/admin/config');
  if (!answer.ok) return askForKey(`${answer.code}: ${answer.message}`);
  ui.keyInput.value = '';
  storeKey(candidate);
  start(candidate);
});

ui.forget.addEventListener('click', () => askForKey(''));

/** @param {string} accepted */
function start(accepted) {
  key = accepted;
  ui.keyForm.hidden = true;
  ui.keyError.textContent = '';
  ui.forget.hidden = false;
  ui.main.hidden = false;
  void refresh();
}

async function refresh() {
  clearTimeout(timer);
  const current = key;
  if (!current) return;
  const [config, models, rollouts, upstreams] = await Promise.all([
    adminCall(current, '/admin/config'),
    adminCall(current, '/admin/models'),
    adminCall(current, '/admin/rollouts'),
    adminCall(current, '/admin/upstreams'),
  ]);
  if (current !== key) return; // the key was forgotten meanwhile
  const answers = [config, models, rollouts, upstreams];
  const refused = answers.find(keyRefused);
  if (refused && !refused.ok) return askForKey(`${refused.code}: ${refused.message}`);
  const failed = answers.find((a) => !a.ok);
  if (failed && !failed.ok) {
    ui.status.textContent = `refresh failed: ${failed.code}: ${failed.message}; retrying`;
    ui.status.className = 'status bad';
  } else if (config.ok && models.ok && rollouts.ok && upstreams.ok) {
    latest = {
      config: /** @type {Snapshot['config']} */ (config.body),
      models: /** @type {Snapshot['models']} */ (models.body),
      rollouts: /** @type {{ rollouts: Snapshot['rollouts'] }} */ (rollouts.body).rollouts,
      upstreams: /** @type {Snapshot['upstreams']} */ (upstreams.body),
    };
    draw(latest);
    ui.status.textContent = `updated ${clock(latest.models.at)} · every ${REFRESH_MS / 1000} s`;
    ui.status.className = 'status ok';
  }
  timer = setTimeout(() => void refresh(), REFRESH_MS);
}

/** @param {Snapshot} snapshot */
function draw(snapshot) {
  ui.config.replaceChildren(...renderConfig(snapshot.config));
  const names = Object.keys(snapshot.models.models);
  for (const [name, card] of cards) {
    if (!names.includes(name)) {
      card.element.remove();
      cards.delete(name);
    }
  }
  for (const name of names) {
    let card = cards.get(name);
    if (!card) cards.set(name, (card = new ModelCard(name)));
    ui.models.append(card.element); // in the config's order; append moves an existing card
    card.update(
      /** @type {import('./types.js').ModelView} */ (snapshot.models.models[name]),
      snapshot.rollouts.find((r) => r.model === name),
      rolloutActions,
      snapshot.models.window_s,
    );
  }
  ui.upstreams.replaceChildren(...renderUpstreams(snapshot.upstreams, upstreamActions));
}

/** @param {string} slot @param {Result} result */
function show(slot, result) {
  results.set(slot, result);
  if (latest) draw(latest);
}

/** @type {import('./rollout.js').RolloutActions} */
const rolloutActions = {
  async act(model, action) {
    if (!key) return;
    show(`model:${model}`, { ok: true, text: `${action}…` });
    const answer = await adminCall(key, `/admin/rollouts/${encodeURIComponent(model)}/${action}`, {
      method: 'POST',
    });
    if (keyRefused(answer) && !answer.ok) return askForKey(`${answer.code}: ${answer.message}`);
    show(
      `model:${model}`,
      answer.ok
        ? {
            ok: true,
            text: `${action}: done, the rollout is ${/** @type {{ status: string }} */ (answer.body).status}`,
          }
        : { ok: false, text: `${action} refused: ${answer.code}: ${answer.message}` },
    );
    void refresh();
  },
  promoteCommand(model) {
    const rollout = latest?.rollouts.find((r) => r.model === model);
    const source = latest?.config.source ?? 'FILE';
    return `switchyard rollout ${model} promote ${rollout?.candidate ?? 'CANDIDATE'} --config ${source}`;
  },
  result: (model) => results.get(`model:${model}`),
  show: (model, result) => show(`model:${model}`, result),
};

/** @type {import('./upstreams.js').UpstreamActions} */
const upstreamActions = {
  async drain(upstream, endpoint, undrain) {
    if (!key) return;
    const verb = undrain ? 'undrain' : 'drain';
    show(`upstream:${upstream}`, { ok: true, text: `${verb} ${endpoint}…` });
    const answer = await adminCall(key, `/admin/upstreams/${encodeURIComponent(upstream)}/${verb}`, {
      method: 'POST',
      body: { endpoint },
    });
    if (keyRefused(answer) && !answer.ok) return askForKey(`${answer.code}: ${answer.message}`);
    show(
      `upstream:${upstream}`,
      answer.ok
        ? {
            ok: true,
            text: undrain
              ? `${endpoint} is back in rotation`
              : `${endpoint} takes no new requests (${/** @type {{ in_flight?: number }} */ (answer.body).in_flight ?? 0} in flight finish)`,
          }
        : { ok: false, text: `${verb} refused: ${answer.code}: ${answer.message}` },
    );
    void refresh();
  },
  result: (upstream) => results.get(`upstream:${upstream}`),
};

if (key) start(key);
else askForKey('');
