import type { Snapshot } from "../model/types.js";
import type { Watermark } from "../sources/contract.js";
import type { StateStore } from "../state/contract.js";

/** A run the catalogs hold (beamsync pushed it) that its beamtime DB no longer lists. */
export interface GoneRun {
  beamtime: string;
  /** The beamtime DB as the DATA root names it (beamtime keys no longer hold paths). */
  path?: string | undefined;
  runUid: string;
  /** Record ids in the state store (destination/kind/key) that came from it. */
  records: string[];
}

const META_KEY = "runs_gone";

/**
 * The runs of each beamtime read whole in `snapshot` (a resonance DB holds all of its beamtime's runs; a
 * bluesky file does not hold all of a proposal's) that the state store has records for but the DB no longer
 * lists. The catalogs keep them (deleting is an operator's decision); `status` and dry-run name them.
 */
export async function runsGone(store: StateStore, snapshot: Snapshot, watermarks: readonly Watermark[] = []): Promise<GoneRun[]> {
  const out: GoneRun[] = [];
  const pathOf = (key: string) => watermarks.find((w) => (w.data as { beamtimeKey?: unknown } | undefined)?.beamtimeKey === key)?.path;
  for (const beamtime of snapshot.beamtimes) {
    if (beamtime.source !== "resonance") continue;
    const present = new Set(snapshot.runs.filter((r) => r.beamtimeKey === beamtime.key).map((r) => r.uid));
    const byRun = new Map<string, string[]>();
    const rows = await store.runRecordsOfBeamtime(beamtime.key);
    for (const row of rows) {
      if (present.has(row.run_uid)) continue;
      const list = byRun.get(row.run_uid) ?? [];
      list.push(row.id);
      byRun.set(row.run_uid, list);
    }
    const path = pathOf(beamtime.key);
    for (const [runUid, records] of byRun) out.push({ beamtime: beamtime.key, ...(path ? { path } : {}), runUid, records: records.sort() });
  }
  return out;
}

/** Remember, per beamtime read in this batch, which of its runs are gone (replacing what an earlier read said). */
export async function rememberRunsGone(store: StateStore, snapshot: Snapshot, watermarks: readonly Watermark[] = []): Promise<void> {
  const read = snapshot.beamtimes.filter((b) => b.source === "resonance").map((b) => b.key);
  if (read.length === 0) return;
  const known = (await loadRunsGone(store)).filter((g) => !read.includes(g.beamtime));
  const all = [...known, ...(await runsGone(store, snapshot, watermarks))];
  const before = await store.getMeta(META_KEY);
  const after = JSON.stringify(all);
  if (before !== after && !(before === undefined && all.length === 0)) await store.setMeta(META_KEY, after);
}

export async function loadRunsGone(store: StateStore): Promise<GoneRun[]> {
  const raw = await store.getMeta(META_KEY);
  return raw ? (JSON.parse(raw) as GoneRun[]) : [];
}
