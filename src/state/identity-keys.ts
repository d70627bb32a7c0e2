import type Database from "better-sqlite3";
import { urlSafeId, type IdentityPin } from "../model/keys.js";

/**
 * State migration for issue 13: record keys that no longer depend on paths, and samples inside their proposal.
 *
 * - A resonance beamtime was keyed by its DB path; now by one of its runs (`resonance:<uid>`), normally the
 *   first. The migration takes the beamtime's earliest dataset record (SciCat's are inserted in run order,
 *   ICAT's in uid order) and pins the beamtime to that run (meta `identity_pins`): the source keeps it as the
 *   identity even where an earlier run was never pushed, and wherever the DB is moved later.
 * - Resonance samples `<db path>#<id>` become `<beamtime key>#<id>`; serial keys `serial:<s>` become
 *   `<beamtime key>#serial:<s>`. Bluesky samples `bluesky:<id>` become `bluesky:<proposal>/<id>`.
 * - SciCat sample rows move to their new key but keep their remote id (the sampleId the catalog holds): the
 *   adapter updates that sample, and datasets link to it, so no second sample is created.
 * - A beamtime the index did not list keeps the researcher and label it had (from its path, as before), tied to
 *   its identity, so its proposal id and ICAT visit stay what the catalogs hold.
 * - Every source is marked for one more read, so the records are mapped again under the new keys at the next scan.
 *
 * Self-contained (it reads and writes only the records, sources and meta tables of version 1).
 */
export function migrateIdentityKeys(db: Database.Database): void {
  const renames = new Map<string, { destination: string; kind: string; key: string; session?: string; beamtimeKey?: string | null }>();
  const beamtimeKeys = new Map<string, string>();

  const oldBeamtimes = db
    .prepare(
      `SELECT DISTINCT beamtime_key AS key FROM records
       WHERE beamtime_key IS NOT NULL AND beamtime_key <> '' AND beamtime_key NOT LIKE 'bluesky:%' AND beamtime_key NOT LIKE 'resonance:%'`,
    )
    .all() as { key: string }[];
  const firstRun = db.prepare(
    `SELECT run_uid FROM records WHERE beamtime_key = ? AND kind = 'dataset' AND run_uid IS NOT NULL
     ORDER BY CASE destination WHEN 'scicat' THEN 0 ELSE 1 END, rowid LIMIT 1`,
  );
  for (const { key } of oldBeamtimes) {
    const row = firstRun.get(key) as { run_uid: string } | undefined;
    if (row) beamtimeKeys.set(key, `resonance:${row.run_uid}`);
  }

  const rows = db.prepare("SELECT id, destination, kind, key, session_identifier, beamtime_key FROM records WHERE kind IN ('investigation', 'sample')").all() as {
    id: string;
    destination: string;
    kind: string;
    key: string;
    session_identifier: string;
    beamtime_key: string | null;
  }[];
  for (const row of rows) {
    if (row.kind === "investigation") {
      const to = beamtimeKeys.get(row.key);
      if (to) renames.set(row.id, { destination: row.destination, kind: row.kind, key: to, session: to });
      continue;
    }
    // The sample's key as the model had it: the ICAT record key, or what SciCat rows keep as session identifier.
    const modelKey = row.destination === "icat" ? row.key : row.session_identifier;
    const newModelKey = newSampleKey(modelKey, row.beamtime_key, beamtimeKeys);
    if (!newModelKey) continue;
    const key = row.destination === "icat" ? newModelKey : urlSafeId(newModelKey);
    renames.set(row.id, { destination: row.destination, kind: row.kind, key, session: newModelKey });
  }

  const rename = db.prepare("UPDATE records SET id = @id, key = @key, session_identifier = @session WHERE id = @old");
  for (const [old, to] of renames) {
    const id = `${to.destination}/${to.kind}/${to.key}`;
    if (id === old) continue;
    const taken = db.prepare("SELECT 1 FROM records WHERE id = ?").get(id);
    // Two old rows for one new record (never on a plain upgrade): keep the one already there.
    if (taken) db.prepare("DELETE FROM records WHERE id = ?").run(old);
    else rename.run({ id, key: to.key, session: to.session ?? to.key, old });
  }

  const moveBeamtime = db.prepare("UPDATE records SET beamtime_key = ? WHERE beamtime_key = ?");
  for (const [from, to] of beamtimeKeys) moveBeamtime.run(to, from);

  const ids = new Map<string, string>();
  for (const [old, to] of renames) ids.set(old, `${to.destination}/${to.kind}/${to.key}`);
  const withDeps = db.prepare("SELECT id, depends_on FROM records WHERE depends_on <> '[]'").all() as { id: string; depends_on: string }[];
  const setDeps = db.prepare("UPDATE records SET depends_on = ? WHERE id = ?");
  for (const row of withDeps) {
    const deps = JSON.parse(row.depends_on) as string[];
    const mapped = deps.map((d) => ids.get(d) ?? d);
    if (mapped.some((d, i) => d !== deps[i])) setDeps.run(JSON.stringify(mapped), row.id);
  }

  pinUnlistedBeamtimes(db, beamtimeKeys);

  // Read every file once more: unchanged files are otherwise not mapped again, and their records would keep the
  // old payloads (an mtime no file has makes the next scan read it; the watermark is then rewritten).
  db.prepare("UPDATE sources SET mtime_ms = -1").run();
}

/** meta key of the beamtimes that keep the researcher and label they were synced with (see pinUnlistedBeamtimes). */
export const IDENTITY_PINS = "identity_pins";

/**
 * Every migrated beamtime is pinned to the key its records got, so the source uses that run as its identity even
 * where an earlier run of the DB was never pushed (and so unseen by this migration).
 * Before, a beamtime DB the index did not list took its researcher from its first directory and its label from
 * its file name, and its proposal id (and ICAT visit) from those. To keep such a proposal rather than create a
 * new one, the beamtime also keeps those two values, tied to its identity (so a later move changes nothing).
 * A DB the index lists had both from the index, as it has now.
 */
function pinUnlistedBeamtimes(db: Database.Database, beamtimeKeys: ReadonlyMap<string, string>): void {
  const listed = new Set<string>();
  for (const row of db.prepare("SELECT data FROM sources WHERE source = 'resonance' AND data LIKE '%\"entries\"%'").all() as { data: string }[]) {
    const entries = (JSON.parse(row.data) as { entries?: { dbPath?: string }[] }).entries ?? [];
    for (const e of entries) if (e.dbPath) listed.add(e.dbPath);
  }
  const meta = db.prepare("SELECT value FROM meta WHERE key = ?").get(IDENTITY_PINS) as { value: string } | undefined;
  const pins = meta ? (JSON.parse(meta.value) as Record<string, IdentityPin>) : {};
  for (const [dbPath, key] of beamtimeKeys) {
    if (listed.has(dbPath)) {
      pins[key] = {};
      continue;
    }
    const parts = dbPath.split("/").filter((p) => p && p !== ".");
    pins[key] = { researcher: parts.length > 1 ? (parts[0] as string) : "unknown", label: (parts[parts.length - 1] ?? dbPath).replace(/\.db$/, "") };
  }
  if (Object.keys(pins).length > 0) db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(IDENTITY_PINS, JSON.stringify(pins));
}

/** The pins a migration left, for the resonance source. */
export async function readIdentityPins(getMeta: (key: string) => Promise<string | undefined>): Promise<ReadonlyMap<string, IdentityPin>> {
  const value = await getMeta(IDENTITY_PINS);
  return new Map(value ? Object.entries(JSON.parse(value) as Record<string, IdentityPin>) : []);
}

function newSampleKey(modelKey: string, beamtimeKey: string | null, beamtimeKeys: ReadonlyMap<string, string>): string | undefined {
  if (modelKey.startsWith("bluesky:")) {
    if (modelKey.includes("/")) return undefined;
    const proposal = beamtimeKey?.startsWith("bluesky:") ? beamtimeKey.slice("bluesky:".length) : "";
    return `bluesky:${proposal}/${modelKey.slice("bluesky:".length)}`;
  }
  const beamtime = beamtimeKey ? beamtimeKeys.get(beamtimeKey) : undefined;
  if (!beamtime || !beamtimeKey) return undefined;
  if (modelKey.startsWith("serial:")) return `${beamtime}#${modelKey}`;
  if (modelKey.startsWith(`${beamtimeKey}#`)) return `${beamtime}#${modelKey.slice(beamtimeKey.length + 1)}`;
  return undefined;
}
