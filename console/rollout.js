// A model's rollout: the steps as a track, the latest checks, the events, and an operator's hand.
import { badge, clock, h, num, resultLine, table } from './dom.js';

/** @typedef {import('./types.js').RolloutView} RolloutView */

/**
 * @typedef {object} RolloutActions
 * @property {(model: string, action: 'pause' | 'resume' | 'abort') => void} act calls the admin API
 * @property {(model: string) => string} promoteCommand the CLI command that promotes the candidate
 * @property {(model: string) => import('./dom.js').Result | undefined} result what the last action said
 * @property {(model: string, result: import('./dom.js').Result) => void} show sets that line
 */

const VERDICT_KIND = { pass: 'ok', fail: 'bad', inconclusive: 'warn' };
const STATUS_KIND = { running: 'ok', paused: 'warn', completed: 'ok', rolled_back: 'bad' };

/** @param {RolloutView} r @param {RolloutActions} actions */
export function renderRollout(r, actions) {
  const track = h(
    'ol',
    { class: 'steps' },
    r.steps.map((step, i) =>
      h(
        'li',
        {
          class: i < r.step_index ? 'done' : i === r.step_index ? 'current' : 'todo',
          data: { step: String(step) },
        },
        typeof step === 'number' ? `${step}%` : step,
      ),
    ),
  );
  const running = r.status === 'running';
  const paused = r.status === 'paused' || r.waiting_for === 'resume';
  const button = (/** @type {'pause' | 'resume' | 'abort'} */ action, /** @type {boolean} */ enabled) =>
    h(
      'button',
      {
        type: 'button',
        class: `action action-${action}`,
        disabled: !enabled,
        data: { action },
        onclick: () => {
          // Abort cannot be undone from here: the candidate serves no one until the policy changes.
          if (
            action === 'abort' &&
            !window.confirm(`Abort the rollout of ${r.model}? ${r.candidate} stops serving at once.`)
          )
            return;
          actions.act(r.model, action);
        },
      },
      action,
    );
  const promote = h(
    'button',
    {
      type: 'button',
      class: 'action action-promote',
      data: { action: 'promote' },
      onclick: () =>
        actions.show(r.model, {
          ok: true,
          text:
            'The gateway never writes its config file (it may be a read-only ConfigMap), so promoting is an edit ' +
            'of that file (add --dry-run to see the diff first):',
          code: actions.promoteCommand(r.model),
          after:
            `It gives ${r.candidate} the weight and removes the rollout block in one edit; gateways pick the file up.` +
            (r.status === 'completed'
              ? ''
              : ` The rollout is ${r.status}, not completed: promoting now moves every user at once.`),
        }),
    },
    'promote…',
  );
  const result = actions.result(r.model);
  const judgement = r.last_judgement;
  return h(
    'div',
    { class: 'rollout', data: { status: r.status } },
    h(
      'p',
      null,
      badge(r.status, STATUS_KIND[r.status] ?? 'warn'),
      ` ${r.baseline} → ${r.candidate}: the candidate serves ${num(r.candidate_share_percent, 2)}% of ${r.baseline}'s users, `,
      `${num(r.mirror_percent)}% of ${r.baseline}'s requests mirrored; failures in a row ${r.failures_in_a_row} of ${r.failure_limit}; `,
      `step started ${clock(r.step_started_at)}, judged every ${r.interval_s} s`,
      r.waiting_for ? `; waiting for ${r.waiting_for}` : '',
      r.shared ? `; shared through Redis (${r.leader ? 'this replica leads' : 'another replica leads'})` : '',
      r.shared?.holding ? ` — ${r.shared.holding}` : '',
    ),
    track,
    h(
      'div',
      { class: 'actions' },
      button('pause', running),
      button('resume', paused),
      button('abort', running || paused),
      promote,
    ),
    result ? resultLine(result) : null,
    h('h4', null, judgement ? `last judgement: ${judgement.verdict}` : 'last judgement: none yet'),
    judgement?.abort ? h('p', { class: 'result bad' }, judgement.abort) : null,
    judgement
      ? table(
          ['check', 'verdict', 'value', '95% interval', 'samples (candidate / baseline)', 'reason'],
          judgement.checks.map((c) => [
            c.subject ? `${c.check} (${c.subject})` : c.check,
            badge(c.verdict, VERDICT_KIND[c.verdict] ?? 'warn'),
            num(c.value, 4),
            c.interval ? `[${num(c.interval[0], 4)}, ${num(c.interval[1], 4)}]` : '–',
            `${num(c.samples.candidate)} / ${num(c.samples.baseline)}`,
            c.reason,
          ]),
        )
      : null,
    h('h4', null, 'events (newest first)'),
    table(
      ['at', 'event', 'step', 'detail'],
      groupEvents(r.events)
        .reverse()
        .slice(0, 12)
        .map((g) => [
          g.count > 1 ? `${clock(g.first.at)}–${clock(g.last.at)}` : clock(g.last.at),
          g.count > 1 ? `${g.last.event} ×${g.count}` : g.last.event,
          typeof g.last.step === 'number' ? `${g.last.step}%` : g.last.step,
          g.last.detail,
        ]),
    ),
  );
}

/**
 * Runs of the same event at the same step as one row (the latest detail): a step that holds is
 * judged every interval, and a row per judgement would push everything else off the list.
 * @param {RolloutView['events']} events oldest first
 */
function groupEvents(events) {
  /** @type {{ first: RolloutView['events'][number], last: RolloutView['events'][number], count: number }[]} */
  const groups = [];
  for (const event of events) {
    const previous = groups.at(-1);
    if (previous && previous.last.event === event.event && previous.last.step === event.step) {
      previous.last = event;
      previous.count++;
    } else groups.push({ first: event, last: event, count: 1 });
  }
  return groups;
}
