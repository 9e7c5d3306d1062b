export type Cell = string | number | undefined;

/** A number for a table: fixed decimals, thousands kept readable, "-" when missing. */
export function fmt(value: number | undefined, decimals = 2): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return value.toFixed(decimals);
}

/** "63% " style share; `fraction` is 0.63. */
export function pct(fraction: number | undefined): string {
  return fraction === undefined || !Number.isFinite(fraction) ? '-' : `${(fraction * 100).toFixed(0)}%`;
}

/** A target check: "yes", "NO", or "-" when the figure is missing. */
export function met(ok: boolean | undefined): string {
  return ok === undefined ? '-' : ok ? 'yes' : 'NO';
}

/** Prints a plain-text table with a title; numbers right-aligned, text left-aligned. */
export function printTable(title: string, header: string[], rows: Cell[][]): void {
  const text = rows.map((row) => row.map((cell) => (cell === undefined ? '-' : String(cell))));
  const widths = header.map((name, i) => Math.max(name.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[], numeric: boolean[]) =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  const numericColumns = header.map((_, i) =>
    rows.every((row) => typeof row[i] !== 'string' || /^[-\d.,%x]+$/.test(String(row[i]))),
  );
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`${line(header, numericColumns)}\n`);
  process.stdout.write(`${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of text) process.stdout.write(`${line(row, numericColumns)}\n`);
}

/** A line of context under a table (targets, caveats). */
export function note(text: string): void {
  process.stdout.write(`  ${text}\n`);
}
