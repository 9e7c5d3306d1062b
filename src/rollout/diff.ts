/**
 * A unified diff of two texts by lines (`--- a`, `+++ b`, `@@ -l,n +l,n @@` hunks with `context`
 * unchanged lines around each change), for showing what a rollout edit does. The common head and
 * tail are cut first, so the quadratic part only sees the lines around the edits.
 */
export function unifiedDiff(before: string, after: string, name: string, context = 2): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;

  type Op = { kind: ' ' | '-' | '+'; line: string; aLine: number; bLine: number };
  const ops: Op[] = [];
  for (let i = 0; i < head; i++) ops.push({ kind: ' ', line: a[i]!, aLine: i, bLine: i });
  const middle = lcsOps(a.slice(head, a.length - tail), b.slice(head, b.length - tail));
  let ai = head;
  let bi = head;
  for (const { kind, line } of middle) {
    ops.push({ kind, line, aLine: ai, bLine: bi });
    if (kind !== '+') ai++;
    if (kind !== '-') bi++;
  }
  for (let i = 0; i < tail; i++) {
    ops.push({ kind: ' ', line: a[a.length - tail + i]!, aLine: ai + i, bLine: bi + i });
  }

  const out = [`--- ${name}`, `+++ ${name}`];
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.kind === ' ') {
      i++;
      continue;
    }
    // A hunk: back up `context` lines, then run until `context * 2` unchanged lines in a row.
    const start = Math.max(0, i - context);
    let end = i;
    let unchanged = 0;
    while (end < ops.length && unchanged <= context * 2) {
      unchanged = ops[end]!.kind === ' ' ? unchanged + 1 : 0;
      end++;
    }
    end -= Math.max(0, unchanged - context);
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((op) => op.kind !== '+').length;
    const bCount = hunk.filter((op) => op.kind !== '-').length;
    const aStart = aCount === 0 ? hunk[0]!.aLine : hunk[0]!.aLine + 1;
    const bStart = bCount === 0 ? hunk[0]!.bLine : hunk[0]!.bLine + 1;
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    i = end;
  }
  return `${out.join('\n')}\n`;
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => line.replace(/\r$/, ''));
}

/** Line operations turning `a` into `b` along a longest common subsequence. */
function lcsOps(a: readonly string[], b: readonly string[]): { kind: ' ' | '-' | '+'; line: string }[] {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const length = new Uint32Array(rows * cols);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      length[i * cols + j] =
        a[i] === b[j]
          ? length[(i + 1) * cols + j + 1]! + 1
          : Math.max(length[(i + 1) * cols + j]!, length[i * cols + j + 1]!);
    }
  }
  const ops: { kind: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i++]! });
      j++;
    } else if (i < a.length && (j === b.length || length[(i + 1) * cols + j]! >= length[i * cols + j + 1]!)) {
      ops.push({ kind: '-', line: a[i++]! }); // removals first, as diff(1) prints them
    } else {
      ops.push({ kind: '+', line: b[j++]! });
    }
  }
  return ops;
}
