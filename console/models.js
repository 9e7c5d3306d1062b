// One card per model: variants and their split, time charts, shadows, drift, fallbacks, admission.
// The card's element and its charts live across refreshes; its tables are made anew each time.
import { colourOf, driftBars, TimeChart } from './charts.js';
import { badge, h, num, pct, table } from './dom.js';
import { renderRollout } from './rollout.js';

/** @typedef {import('./types.js').ModelView} ModelView */
/** @typedef {import('./types.js').RolloutView} RolloutView */
/** @typedef {import('./rollout.js').RolloutActions} RolloutActions */

export class ModelCard {
  /** @param {string} name */
  constructor(name) {
    this.name = name;
    this.charts = {
      rps: new TimeChart('requests/s', (v) => num(v, 1)),
      errors: new TimeChart('error rate', (v) => `${num(v * 100, 1)}%`),
      p99: new TimeChart('p99 latency (ms)', (v) => num(v, 1)),
    };
    this.variants = h('div', { class: 'slot' });
    this.rollout = h('div', { class: 'slot' });
    this.shadows = h('div', { class: 'slot' });
    this.drift = h('div', { class: 'slot' });
    this.fallbacks = h('div', { class: 'slot' });
    this.admission = h('div', { class: 'slot' });
    this.element = h(
      'section',
      { class: 'card model', data: { model: name } },
      h('h2', null, `model ${name}`),
      h('h3', null, 'variants'),
      this.variants,
      h(
        'div',
        { class: 'charts' },
        this.charts.rps.element,
        this.charts.errors.element,
        this.charts.p99.element,
      ),
      h('h3', null, 'rollout'),
      this.rollout,
      h(
        'div',
        { class: 'columns' },
        h('div', null, h('h3', null, 'shadow comparison'), this.shadows),
        h('div', null, h('h3', null, 'drift (PSI)'), this.drift),
      ),
      h(
        'div',
        { class: 'columns' },
        h('div', null, h('h3', null, 'fallbacks'), this.fallbacks),
        h('div', null, h('h3', null, 'admission'), this.admission),
      ),
    );
  }

  /**
   * @param {ModelView} model
   * @param {RolloutView | undefined} rollout
   * @param {RolloutActions} actions
   * @param {number} windowS the seconds "last minute" covers (less while the gateway is younger)
   */
  update(model, rollout, actions, windowS) {
    const last = `last ${Math.round(windowS)} s`;
    this.variants.replaceChildren(
      table(
        [
          'variant',
          'version',
          'weight (file)',
          'weight (effective)',
          `split (${last})`,
          'requests',
          'error rate',
          'p99 ms',
          'breaker',
        ],
        model.variants.map((v, i) => {
          const swatch = h('span', { class: 'swatch' });
          swatch.style.background = colourOf(i);
          return [
            h('span', { class: 'variant-name', data: { variant: v.name } }, swatch, v.name),
            v.version,
            `${num(v.weight, 2)}%`,
            h(
              'span',
              { class: 'effective-weight', data: { variant: v.name } },
              `${num(v.effective_weight, 2)}%`,
            ),
            h(
              'span',
              { class: 'split', data: { variant: v.name } },
              v.last_minute.split_percent === null ? '–' : `${num(v.last_minute.split_percent, 1)}%`,
            ),
            h('span', { class: 'requests', data: { variant: v.name } }, num(v.last_minute.requests)),
            pct(v.last_minute.error_rate, 2),
            num(v.last_minute.p99_ms, 1),
            badge(v.breaker, v.breaker === 'closed' ? 'ok' : v.breaker === 'open' ? 'bad' : 'warn'),
          ];
        }),
      ),
    );

    const { t, variants } = model.series;
    const lines = (/** @type {'rps' | 'error_rate' | 'p99_ms'} */ measure) =>
      model.variants.map((v) => ({ name: v.name, values: variants[v.name]?.[measure] ?? [] }));
    this.charts.rps.update(t, lines('rps'));
    this.charts.errors.update(t, lines('error_rate'));
    this.charts.p99.update(t, lines('p99_ms'));

    this.rollout.replaceChildren(
      rollout
        ? renderRollout(rollout, actions)
        : h('p', { class: 'muted' }, 'no rollout policy runs for this model'),
    );

    this.shadows.replaceChildren(
      table(
        ['primary → shadow', 'agreement', 'mean |Δ score|', 'sent', 'dropped', 'errors', 'compared'],
        model.shadows.map((s) => [
          `${s.primary} → ${s.shadow}`,
          pct(s.agreement_rate, 2),
          num(s.mean_score_delta, 4),
          num(s.sent),
          num(s.dropped),
          num(s.errors),
          num(s.compared),
        ]),
        'no copies mirrored yet',
      ),
    );

    this.drift.replaceChildren(
      driftBars(model.drift.psi, model.drift.threshold),
      h(
        'p',
        { class: 'muted' },
        `threshold ${model.drift.threshold} (${model.drift.threshold_source === 'rollout' ? "the rollout's drift_psi.max" : 'rule of thumb: above 0.25 is a significant shift'})`,
      ),
    );

    this.fallbacks.replaceChildren(
      table(
        ['variant', 'kind', 'reason', last, 'total'],
        model.fallbacks.map((f) => [f.variant, f.kind, f.reason, num(f.last_minute), num(f.total)]),
        'no fallback has answered',
      ),
    );

    const { admission } = model;
    this.admission.replaceChildren(
      h('p', null, `in flight ${num(admission.in_flight)} · queued ${num(admission.queued)}`),
      table(
        ['shed: priority', 'reason', last, 'total'],
        admission.shed.map((s) => [s.priority, s.reason, num(s.last_minute), num(s.total)]),
        'nothing shed',
      ),
      table(
        ['rate limited: limit', last, 'total'],
        admission.rate_limited.map((r) => [r.limit, num(r.last_minute), num(r.total)]),
        'no rate-limit refusals',
      ),
    );
  }
}
