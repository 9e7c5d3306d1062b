// Building the page's elements. Text goes in as text nodes, never as HTML: model names, reasons
// and config problems come from a config file and the network, and must not become markup.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {{ class?: string, title?: string, type?: string, disabled?: boolean, data?: Record<string, string>,
 *   onclick?: (event: Event) => void }} Attributes
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes | null} [attributes]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  if (attributes) {
    if (attributes.class) element.className = attributes.class;
    if (attributes.title) element.title = attributes.title;
    if (attributes.type && element instanceof HTMLButtonElement)
      element.type = /** @type {'button'} */ (attributes.type);
    if (attributes.disabled && element instanceof HTMLButtonElement) element.disabled = true;
    for (const [name, value] of Object.entries(attributes.data ?? {})) element.dataset[name] = value;
    if (attributes.onclick) element.addEventListener('click', attributes.onclick);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/**
 * A table from a header row and body rows.
 * @param {string[]} headings
 * @param {Child[][]} rows
 * @param {string} [empty] shown instead when there are no rows
 */
export function table(headings, rows, empty = 'none yet') {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'table',
    null,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        headings.map((heading) => h('th', null, heading)),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((cells) =>
        h(
          'tr',
          null,
          cells.map((cell) => h('td', null, cell)),
        ),
      ),
    ),
  );
}

/** A number as people read it, or '–' for null. @param {number | null | undefined} value @param {number} [digits] */
export function num(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A 0..1 ratio as a percent. @param {number | null | undefined} value @param {number} [digits] */
export function pct(value, digits = 1) {
  return value === null || value === undefined ? '–' : `${num(value * 100, digits)}%`;
}

/** A small coloured label. @param {string} text @param {string} kind */
export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** The time part of an ISO timestamp, in the browser's zone. @param {string} iso */
export function clock(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString('en-GB');
}

/**
 * What an operator's action answered: a sentence, and a command to copy when there is one.
 * @typedef {{ ok: boolean, text: string, code?: string, after?: string }} Result
 */

/** @param {Result} result */
export function resultLine(result) {
  return h(
    'p',
    { class: result.ok ? 'result ok' : 'result bad' },
    result.text,
    result.code ? h('code', { class: 'command' }, result.code) : null,
    result.after ?? null,
  );
}
