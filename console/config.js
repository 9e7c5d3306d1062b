// The active config and the last reload: an edit that was refused shows its problems here.
import { badge, clock, h } from './dom.js';

/** @param {import('./types.js').ConfigView} config */
export function renderConfig(config) {
  const reload = config.last_reload;
  return [
    h(
      'p',
      null,
      'config ',
      h('code', { class: 'config-hash' }, config.hash),
      ' from ',
      h('code', null, config.source),
      `, loaded ${clock(config.loaded_at)}`,
    ),
    reload
      ? h(
          'div',
          { class: 'reload', data: { outcome: reload.outcome } },
          h(
            'p',
            null,
            'last reload ',
            badge(reload.outcome, reload.outcome === 'ok' ? 'ok' : 'bad'),
            ` at ${clock(reload.at)}`,
            reload.outcome === 'ok' ? '' : ': the file was refused and the config above keeps serving',
            reload.error ? ` (${reload.error})` : '',
          ),
          reload.problems.length
            ? h(
                'ul',
                { class: 'problems' },
                reload.problems.map((p) => h('li', null, h('code', null, p.path), ` ${p.message}`)),
              )
            : null,
        )
      : h('p', { class: 'muted' }, 'no reload since the gateway started'),
  ];
}
