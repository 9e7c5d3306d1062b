// The runtime pools: each endpoint's health and load, with drain / undrain.
import { badge, clock, h, num, resultLine, table } from './dom.js';

/** @typedef {import('./types.js').UpstreamsView} UpstreamsView */

/**
 * @typedef {object} UpstreamActions
 * @property {(upstream: string, endpoint: string, undrain: boolean) => void} drain calls the admin API
 * @property {(upstream: string) => import('./dom.js').Result | undefined} result what the last action said
 */

/** @param {UpstreamsView} upstreams @param {UpstreamActions} actions */
export function renderUpstreams(upstreams, actions) {
  const names = Object.keys(upstreams).sort();
  if (names.length === 0) return [h('p', { class: 'muted' }, 'no upstreams')];
  return names.map((name) => {
    const result = actions.result(name);
    return h(
      'div',
      { class: 'upstream', data: { upstream: name } },
      h('h3', null, `upstream ${name}`),
      table(
        ['endpoint', 'health', 'in flight', 'ejected', 'ejections', 'draining', 'requests', 'errors', ''],
        (upstreams[name] ?? []).map((e) => [
          h('span', { class: 'endpoint-url' }, e.url),
          badge(e.health, e.health === 'healthy' ? 'ok' : e.health === 'unhealthy' ? 'bad' : 'warn'),
          num(e.inFlight),
          e.ejected
            ? badge(`until ${e.ejectedUntil ? clock(new Date(e.ejectedUntil).toISOString()) : '?'}`, 'bad')
            : 'no',
          num(e.ejections),
          e.draining ? badge(`draining (${e.drainReasons.join(', ')})`, 'warn') : 'no',
          num(e.requests),
          num(e.errors),
          h(
            'button',
            {
              type: 'button',
              class: e.draining ? 'action action-undrain' : 'action action-drain',
              data: { endpoint: e.url, action: e.draining ? 'undrain' : 'drain' },
              onclick: () => actions.drain(name, e.url, e.draining),
            },
            e.draining ? 'undrain' : 'drain',
          ),
        ]),
        'no endpoints (discovery found none yet)',
      ),
      result ? resultLine(result) : null,
    );
  });
}
