/** Small printing helpers shared by the commands: JSON for scripts, aligned tables for people. */

export interface Output {
  json: boolean;
  write(text: string): void;
  error(text: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    write: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    error: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  };
}

export function printJson(out: Output, value: unknown): void {
  out.write(JSON.stringify(value, null, 2));
}

/** Render rows as an aligned text table; cells are stringified and long ones cut. */
export function table(headers: string[], rows: (string | number | null | undefined)[][], maxWidth = 80): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => truncate(c === null || c === undefined ? "" : String(c), maxWidth)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(cells[0] ?? []), rule, ...cells.slice(1).map(line)].join("\n");
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** "3m 12s", "2h 5m", "4d 1h": ages an operator reads at a glance. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
