import fs from "node:fs";
import path from "node:path";
import { beamtimeKeyFor } from "./beamtime.js";
import { withReadOnlyDb } from "./sqlite.js";

/**
 * What an operator types for `--beamtime` → the beamtime key records carry. Keys no longer hold paths, so a DB
 * path (relative to the DATA root, as the index and `status` show it) is read for its first run; anything else
 * (a key, a proposal id) is taken as it is.
 */
export function beamtimeKeyFromArgument(argument: string, dataRoot: string, busyTimeoutMs: number, pins: ReadonlyMap<string, unknown> = new Map()): string {
  if (/^(resonance|bluesky):/.test(argument) || !argument.endsWith(".db")) return argument;
  const file = path.resolve(dataRoot, argument);
  if (!fs.existsSync(file)) return argument;
  try {
    const runs = withReadOnlyDb(file, busyTimeoutMs, (db) => db.prepare("SELECT uid FROM runs ORDER BY time_start, uid").all() as { uid: string }[]);
    // As the source does: the run a key migration pinned the beamtime to, else its first run.
    const keys = runs.map((r) => beamtimeKeyFor(r.uid));
    return keys.find((k) => pins.has(k)) ?? keys[0] ?? argument;
  } catch {
    return argument;
  }
}
