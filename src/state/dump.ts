import { UsageError } from "../sync/errors.js";

/**
 * The portable form of a state (`beamsync state export` / `import`): JSON lines, a header, then one row per
 * line, table by table. It moves a beamline's SQLite state into a shared PostgreSQL one (and back) so that
 * joining a central deployment pushes nothing again. Leases, heartbeats and the workers list belong to the
 * processes of the old state and are not carried.
 */

/** The tables a dump carries, in the order they are written and loaded. */
export const DUMP_TABLES = ["meta", "sources", "records", "requests", "upload_log"] as const;
export type DumpTable = (typeof DUMP_TABLES)[number];

export interface DumpRow {
  table: DumpTable;
  row: Record<string, unknown>;
}

export interface DumpHeader {
  beamsyncState: 1;
  /** The state schema version the rows follow (state migrations). */
  schema: number;
  exportedAt: string;
  /** Where it came from (a file, or a URL without its password). */
  from: string;
}

/** Meta keys that describe the exporting process, not the state. */
export const PROCESS_META = new Set(["daemon_heartbeat", "doctor_checked_at"]);

/** Columns of each table as both backends name them (upload_log and requests ids are given anew on import). */
export const DUMP_COLUMNS: Record<DumpTable, readonly string[]> = {
  meta: ["key", "value"],
  sources: ["source", "path", "size", "mtime_ms", "data", "problem", "retry", "scanned_at"],
  records: [
    "id", "destination", "kind", "key", "session_identifier", "run_uid", "beamtime_key", "state", "desired_hash", "synced_hash",
    "payload", "depends_on", "remote_id", "remote_url", "attempts", "next_attempt_at", "last_error", "changed_at_ms", "created_at",
    "updated_at", "written", "conflicts",
  ],
  requests: ["action", "scope", "requested_at", "handled_at", "result"],
  upload_log: ["session_identifier", "destination_name", "success", "timestamp", "record_id", "record_url", "error_message", "metadata_json", "worker"],
};

/** An import refused before it wrote anything (exit 2). */
export class StateImportError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = "StateImportError";
  }
}

export function parseDumpHeader(line: string | undefined, file: string): DumpHeader {
  let header: Partial<DumpHeader> | undefined;
  try {
    header = line ? (JSON.parse(line) as Partial<DumpHeader>) : undefined;
  } catch {
    header = undefined;
  }
  if (header?.beamsyncState !== 1 || typeof header.schema !== "number") {
    throw new UsageError(`${file} is not a beamsync state export (its first line should be the header written by \`beamsync state export\`)`);
  }
  return header as DumpHeader;
}

/** One line of a dump; the line number names a bad one. */
export function parseDumpRow(line: string, file: string, lineNumber: number): DumpRow {
  let parsed: Partial<DumpRow>;
  try {
    parsed = JSON.parse(line) as Partial<DumpRow>;
  } catch (err) {
    throw new UsageError(`${file}:${lineNumber}: not JSON (${(err as Error).message}); nothing was imported`);
  }
  if (!parsed.table || !(DUMP_TABLES as readonly string[]).includes(parsed.table) || typeof parsed.row !== "object" || parsed.row === null) {
    throw new UsageError(`${file}:${lineNumber}: not a row of a beamsync state export; nothing was imported`);
  }
  return { table: parsed.table, row: pick(parsed.row, DUMP_COLUMNS[parsed.table]) };
}

/** Only the columns a table has: a row naming others (a newer beamsync's) does not reach the SQL. */
export function pick(row: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) out[c] = row[c] ?? null;
  return out;
}
