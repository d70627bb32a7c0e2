import fs from "node:fs";
import path from "node:path";
import { beamtimeKeyFor } from "./beamtime.js";
import { withReadOnlyDb } from "./sqlite.js";

/**
 * What an operator types for `--beamtime` → the beamtime key records carry. Keys no longer hold paths, so a DB
 * path (relative to the DATA root, as the index and `status` show it) is read for its first run; anything else
 * (a key, a proposal id) is taken as it is.
 */
export function beamtimeKeyFromArgument(argument: string, dataRoot: string, busyTimeoutMs: number): string {
  if (/^(resonance|bluesky):/.test(argument) || !argument.endsWith(".db")) return argument;
  const file = path.resolve(dataRoot, argument);
  if (!fs.existsSync(file)) return argument;
  try {
    const first = withReadOnlyDb(file, busyTimeoutMs, (db) => db.prepare("SELECT uid FROM runs ORDER BY time_start, uid LIMIT 1").get() as { uid: string } | undefined);
    return first ? beamtimeKeyFor(first.uid) : argument;
  } catch {
    return argument;
  }
}
