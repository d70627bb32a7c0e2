import type { Researcher } from "../../model/types.js";
import { parseJsonObject } from "../python-json.js";
import { SourceReadError, withReadOnlyDb } from "./sqlite.js";

/** One `beamtimes` row of the master index with its researcher (resonance-data.md §2). Plain JSON: it is cached in the watermark. */
export interface IndexEntry {
  /** db_path exactly as stored (validated later, relative to the DATA root). */
  dbPath: string;
  label: string;
  researcher: Researcher;
  description?: string | undefined;
  timeStart?: number | undefined;
  timeStop?: number | undefined;
  extra: Record<string, unknown>;
  /** Why `extra` could not be parsed, if it could not. */
  extraError?: string | undefined;
}

export const INDEX_SCHEMA_VERSION = 1;

interface IndexRow {
  label: string;
  db_path: string;
  time_start: number | null;
  time_stop: number | null;
  description: string | null;
  extra: string | null;
  name: string | null;
  email: string | null;
  orcid: string | null;
  affiliation: string | null;
  root_path: string | null;
}

/**
 * Read the index. `empty` when the file holds no index tables or no beamtimes (resonance's IndexWriter is a
 * skeleton, so a missing or empty index is the normal case): the caller then discovers beamtime DBs.
 */
export function readIndexDb(file: string, busyTimeoutMs: number): { entries: IndexEntry[]; empty: boolean } {
  return withReadOnlyDb(file, busyTimeoutMs, (db) => {
    const version = db.pragma("user_version", { simple: true }) as number;
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    if (!tables.has("beamtimes") && !tables.has("researchers")) {
      if (version === 0) return { entries: [], empty: true };
    }
    if (version !== INDEX_SCHEMA_VERSION) {
      throw new SourceReadError(`unknown index schema version ${version} (beamsync reads ${INDEX_SCHEMA_VERSION})`, false);
    }
    const missing = ["researchers", "beamtimes"].filter((t) => !tables.has(t));
    if (missing.length) throw new SourceReadError(`index is missing table(s) ${missing.join(", ")}`, false);
    const rows = db
      .prepare(
        `SELECT b.label, b.db_path, b.time_start, b.time_stop, b.description, b.extra,
                r.name, r.email, r.orcid, r.affiliation, r.root_path
         FROM beamtimes b LEFT JOIN researchers r ON r.id = b.researcher_id
         ORDER BY b.id`,
      )
      .all() as IndexRow[];
    return { entries: rows.map(toEntry), empty: rows.length === 0 };
  });
}

function toEntry(row: IndexRow): IndexEntry {
  const extra = parseJsonObject(row.extra);
  // A beamtime row without its researcher names nobody (the DB's runs may): never the directory.
  const researcher: Researcher = { name: row.name ?? "" };
  if (row.email) researcher.email = row.email;
  if (row.orcid) researcher.orcid = row.orcid;
  if (row.affiliation) researcher.affiliation = row.affiliation;
  if (row.root_path) researcher.rootPath = row.root_path;
  const entry: IndexEntry = {
    dbPath: row.db_path,
    label: row.label,
    researcher,
    extra: extra.ok ? extra.value : {},
  };
  if (!extra.ok) entry.extraError = `beamtimes.extra ${extra.error}`;
  if (row.description !== null) entry.description = row.description;
  if (typeof row.time_start === "number") entry.timeStart = row.time_start;
  if (typeof row.time_stop === "number") entry.timeStop = row.time_stop;
  return entry;
}
