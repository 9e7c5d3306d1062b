import type { Reply } from '../pipeline/stage.js';

/**
 * The gateway's `server-timing` header, in milliseconds, built so that its parts add up:
 *
 * - The gateway's entries — each stage's own time (`respond`, `auth`, …, `upstream`: exclusive of
 *   the stages after it) and `other` (the handler's time outside the pipeline) — add up to
 *   `total`, from receiving the request to answering it. Only the promise hops between stages are
 *   counted nowhere: microseconds.
 * - The `rt-` entries split the stage that called the runtime whose answer was used (`upstream`,
 *   or `fallback` when a variant fallback answered): `rt-net` + `rt-queue` + `rt-infer` = that
 *   stage. `rt-queue` and `rt-infer` are the runtime's own (from its `server-timing`); `rt-net` is
 *   the rest — network, HTTP and JSON on both ends, and any failed attempt before. Other runtime
 *   entries pass through prefixed (`rt-batch;desc="4"`, the rows in the batch).
 * - `budget;desc="left"` is what was left of the request's budget when the answer was ready.
 */
export interface TimingInput {
  stageNames: readonly string[];
  /** Each stage's own milliseconds, by position (ctx.stageMs). */
  stageMs: Float64Array;
  /** The runtime's `server-timing` on the answer used, when a runtime answered. */
  runtimeTiming: string | undefined;
  /** The answer the pipeline gave: says which stage's call the runtime answered. */
  reply: Reply;
  /** From calling the pipeline to its answer. */
  pipelineMs: number;
  /** From receiving the request to its answer. */
  totalMs: number;
  budgetLeftMs: number;
}

export interface TimingEntry {
  name: string;
  dur: number | undefined;
  desc: string | undefined;
}

export function formatServerTiming(input: TimingInput): string {
  const { stageNames, stageMs } = input;
  const parts: string[] = [];
  let hopMs: number | undefined;
  const hopStage = input.reply.ok && input.reply.fallback?.kind === 'variant' ? 'fallback' : 'upstream';
  for (let i = 0; i < stageNames.length; i++) {
    parts.push(`${stageNames[i]};dur=${round(stageMs[i]!)}`);
    if (stageNames[i] === hopStage) hopMs = stageMs[i];
  }
  parts.push(`other;dur=${round(Math.max(0, input.totalMs - input.pipelineMs))}`);
  if (input.runtimeTiming) {
    const runtime = parseServerTiming(input.runtimeTiming);
    const queue = runtime.find((e) => e.name === 'queue')?.dur;
    const infer = runtime.find((e) => e.name === 'infer')?.dur;
    if (hopMs !== undefined && queue !== undefined && infer !== undefined) {
      parts.push(`rt-net;dur=${round(Math.max(0, hopMs - queue - infer))}`);
    }
    for (const entry of runtime) parts.push(`rt-${formatEntry(entry)}`);
  }
  parts.push(`budget;desc="left";dur=${round(Math.max(0, input.budgetLeftMs))}`);
  parts.push(`total;dur=${round(input.totalMs)}`);
  return parts.join(', ');
}

/**
 * Reads a `server-timing` value: `name;dur=1.2;desc="x", …`. Parameters other than dur and desc
 * are ignored. A scan with indexOf rather than split/map/trim: it runs on every answer.
 */
export function parseServerTiming(header: string): TimingEntry[] {
  const entries: TimingEntry[] = [];
  let from = 0;
  while (from <= header.length) {
    let to = header.indexOf(',', from);
    if (to < 0) to = header.length;
    let cut = header.indexOf(';', from);
    if (cut < 0 || cut > to) cut = to;
    const name = header.slice(from, cut).trim();
    let dur: number | undefined;
    let desc: string | undefined;
    while (cut < to) {
      let next = header.indexOf(';', cut + 1);
      if (next < 0 || next > to) next = to;
      const eq = header.indexOf('=', cut + 1);
      if (eq >= 0 && eq < next) {
        const key = header
          .slice(cut + 1, eq)
          .trim()
          .toLowerCase();
        const value = header.slice(eq + 1, next).trim();
        if (key === 'dur') {
          const ms = Number(value);
          if (value !== '' && Number.isFinite(ms)) dur = ms;
        } else if (key === 'desc') {
          desc = value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
        }
      }
      cut = next;
    }
    if (name) entries.push({ name, dur, desc });
    from = to + 1;
  }
  return entries;
}

function formatEntry(entry: TimingEntry): string {
  let text = entry.name;
  if (entry.desc !== undefined) text += `;desc="${entry.desc}"`;
  if (entry.dur !== undefined) text += `;dur=${round(entry.dur)}`;
  return text;
}

/**
 * To the microsecond, without trailing zeros, as `String(Math.round(ms * 1000) / 1000)` writes it
 * but from whole numbers: turning a fraction into text was most of this header's cost.
 */
export function round(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e15)) return String(us / 1000); // negative, huge or not a number: rare
  const whole = Math.floor(us / 1000);
  const fraction = us - whole * 1000;
  if (fraction === 0) return String(whole);
  if (fraction % 100 === 0) return `${whole}.${fraction / 100}`;
  if (fraction % 10 === 0) return `${whole}.${fraction < 100 ? '0' : ''}${fraction / 10}`;
  return `${whole}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
}
