/**
 * The `server-timing` header: each gateway stage's own time, the runtime's queue and inference
 * time taken from its own header, what was left of the budget, and the total. Stages are
 * exclusive of each other, so the stage entries add up to `total` (less the HTTP layer's share).
 */
export function formatServerTiming(
  stageNames: readonly string[],
  stageMs: Float64Array,
  runtimeTiming: string | undefined,
  totalMs: number,
  budgetLeftMs: number,
): string {
  const parts: string[] = [];
  for (let i = 0; i < stageNames.length; i++) parts.push(`${stageNames[i]};dur=${round(stageMs[i]!)}`);
  if (runtimeTiming) {
    for (const entry of runtimeTiming.split(',')) {
      const trimmed = entry.trim();
      if (trimmed) parts.push(`rt-${trimmed}`);
    }
  }
  parts.push(`budget;desc="left";dur=${round(Math.max(0, budgetLeftMs))}`, `total;dur=${round(totalMs)}`);
  return parts.join(', ');
}

function round(ms: number): string {
  return ms.toFixed(3);
}
