// The time charts (uPlot, loaded as a classic script before the modules: the global `uPlot`) and
// the drift bars (plain elements). uPlot draws on a canvas and styles its elements through the
// CSSOM (element.style), which a Content-Security-Policy without 'unsafe-inline' allows.
import { h, num } from './dom.js';

/** Colours per variant, in the config's order; the same in every chart of a model. */
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];

/** @param {number} index */
export function colourOf(index) {
  return PALETTE[index % PALETTE.length] ?? '#000';
}

/**
 * One small line chart per (model, measure) that lives across refreshes: data is replaced in
 * place, and the chart is made again only when the variants change.
 */
export class TimeChart {
  /** @param {string} title @param {(value: number) => string} format */
  constructor(title, format) {
    this.title = title;
    this.format = format;
    this.element = h('figure', { class: 'chart' }, h('figcaption', null, title));
    this.body = h(
      'div',
      { class: 'chart-body' },
      h('p', { class: 'muted' }, 'collecting (a point every few seconds)'),
    );
    this.element.append(this.body);
    /** @type {uPlot | null} */
    this.plot = null;
    this.names = '';
  }

  /**
   * @param {number[]} t epoch seconds
   * @param {{ name: string, values: (number | null)[] }[]} lines
   */
  update(t, lines) {
    if (t.length < 2) return; // a line needs two points
    /** @type {uPlot.AlignedData} */
    const data = [t, ...lines.map((line) => line.values)];
    const names = lines.map((line) => line.name).join('\u0000');
    if (this.plot && names === this.names) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.names = names;
    const format = this.format;
    this.body.replaceChildren();
    this.plot = new uPlot(
      {
        width: 300,
        height: 130,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
        axes: [{ size: 30 }, { size: 50, values: (_u, splits) => splits.map((v) => format(v)) }],
        series: [
          {},
          ...lines.map((line, i) => ({ label: line.name, stroke: colourOf(i), width: 1.5, spanGaps: false })),
        ],
      },
      data,
      this.body,
    );
  }
}

/**
 * PSI per (variant, feature) as horizontal bars against the threshold line.
 * @param {{ variant: string, feature: string, against: string | null, psi: number }[]} values
 * @param {number} threshold
 */
export function driftBars(values, threshold) {
  if (values.length === 0) return h('p', { class: 'muted' }, 'no PSI measured yet');
  // The scale leaves room past the threshold, so the line sits inside the bar's track.
  const top = Math.max(threshold * 1.5, ...values.map((v) => v.psi));
  const rows = [...values]
    .sort((a, b) => a.variant.localeCompare(b.variant) || a.feature.localeCompare(b.feature))
    .map((v) => {
      const fill = h('span', { class: v.psi > threshold ? 'bar-fill over' : 'bar-fill' });
      fill.style.width = `${Math.min(100, (100 * v.psi) / top)}%`;
      const line = h('span', { class: 'bar-threshold', title: `threshold ${threshold}` });
      line.style.left = `${(100 * threshold) / top}%`;
      const label = `${v.variant} · ${v.feature}${v.against ? ` (vs ${v.against})` : ''}`;
      return h(
        'div',
        { class: 'bar-row', data: { variant: v.variant, feature: v.feature } },
        h('span', { class: 'bar-label' }, label),
        h('span', { class: 'bar-track' }, fill, line),
        h('span', { class: 'bar-value' }, num(v.psi, 3)),
      );
    });
  return h('div', { class: 'bars' }, ...rows);
}
