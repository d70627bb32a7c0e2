import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { buildEngine } from "../../src/app/wire.js";
import type { Config } from "../../src/config/schema.js";
import type { MappingIndex } from "../../src/mapping/common.js";
import type { DesiredRecord } from "../../src/mapping/record.js";
import { makeRecord } from "../../src/mapping/record.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { scicatSampleId } from "../../src/mapping/scicat/proposal-sample.js";
import type { Snapshot } from "../../src/model/types.js";
import { silentLogger } from "../../src/ops/logger.js";
import { LATEST_VERSION } from "../../src/state/migrations.js";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { runCli } from "../support/cli.js";
import { closedBeamtime, worldPerTest, type ScicatWorld } from "../support/scicat-setup.js";

/**
 * Issue 13, item 4: keys that change are migrations, not duplicates. A state store synced with the keys of
 * before (beamtimes by DB path, samples `<db path>#<id>` and bare bluesky sample ids, in the state store and as
 * SciCat sampleIds) is upgraded by the state migration; the next sync creates nothing in the catalog, and every
 * dataset still links to the sample it had.
 */

const worlds = worldPerTest();

/** The SciCat records as beamsync made them before issue 13: same content, the old keys and sampleIds. */
function oldKeyMapper(w: ScicatWorld) {
  const dbPathOf = new Map(w.written.beamtimes.map((b) => [`resonance:${b.runs[0]!.uid}`, b.dbPath]));
  return (snapshot: Snapshot, config: Config, index: MappingIndex): DesiredRecord[] => {
    const oldSample = new Map<string, { key: string; session: string }>();
    for (const sample of snapshot.samples) {
      const [beamtimeKey, local] = sample.key.split("#") as [string, string | undefined];
      const session = sample.key.startsWith("bluesky:") ? `bluesky:${sample.key.slice(sample.key.indexOf("/") + 1)}` : `${dbPathOf.get(beamtimeKey)!}#${local!}`;
      const key = session.startsWith("bluesky:") ? session.slice("bluesky:".length) : session.replace(/[^A-Za-z0-9._-]+/g, "_");
      oldSample.set(scicatSampleId(sample, config), { key, session });
    }
    const beamtime = (key: string | undefined) => (key && dbPathOf.has(key) ? dbPathOf.get(key) : key);
    const sampleDep = (id: string) => (id.startsWith("scicat/sample/") ? `scicat/sample/${oldSample.get(id.slice("scicat/sample/".length))!.key}` : id);
    return mapToScicat(snapshot, config, index).map((r) => {
      const payload = { ...r.payload };
      let key = r.key;
      let sessionIdentifier = r.sessionIdentifier;
      if (r.kind === "sample") {
        const old = oldSample.get(r.key)!;
        key = old.key;
        sessionIdentifier = old.session;
        payload.sampleId = old.key;
      }
      if (r.kind === "dataset" && Array.isArray(payload.sampleIds)) payload.sampleIds = (payload.sampleIds as string[]).map((id) => oldSample.get(id)!.key);
      return makeRecord({ ...r, key, sessionIdentifier, beamtimeKey: beamtime(r.beamtimeKey), payload, dependsOn: r.dependsOn.map(sampleDep) });
    });
  };
}

function stateDb(w: ScicatWorld): Database.Database {
  return new Database(path.join(w.stateDir, "beamsync.sqlite"));
}

describe("state migration of record keys", () => {
  it("keeps every catalog record and its ids: an upgraded store syncs with zero creates", async () => {
    const w = await worlds.open(
      { beamtimes: [closedBeamtime("2026-03-05", { samples: [{ name: "LaB6" }, { name: "film" }] }), closedBeamtime("2026-03-06", { researcher: "Lise Meitner" })] },
      { config: { sources: { bluesky: { enabled: true } } } },
    );
    writeRunFile(path.join(w.dataRoot, "bluesky", "run.jsonl"), runDocuments({ uid: "d0000000-0000-4000-8000-000000000001", extraStart: { proposal_id: "P-9", sample_name: "Si", beamline_id: "bl-1" } }), "jsonl-pairs");

    // Synced by "the old beamsync", then the store is put back at the schema version it had then.
    const engine = buildEngine(w.config, silentLogger, { mappers: { scicat: oldKeyMapper(w) } });
    try {
      const { push } = await engine.syncOnce();
      expect(push.failed + push.dead).toBe(0);
    } finally {
      await engine.close();
    }
    const before = {
      proposals: w.scicat.proposals().length,
      samples: w.scicat.samples().map((s) => s.sampleId).sort(),
      links: w.scicat.datasets().map((d) => `${String(d.pid)} ${JSON.stringify(d.sampleIds)}`).sort(),
      blocks: w.scicat.origdatablocks().length,
    };
    expect(before.samples).toContain("Si");
    expect(before.samples).toContain(`${w.written.beamtimes[0]!.dbPath.replace(/[^A-Za-z0-9._-]+/g, "_")}_1`);
    const db = stateDb(w);
    db.pragma("user_version = 1");
    db.close();

    w.scicat.resetRequests();
    const result = await runCli(["sync", "--json", "--config", w.configFile]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { reconcile: { created: number; filesRead: number } };
    expect(summary.reconcile.filesRead).toBeGreaterThan(0);
    expect(summary.reconcile.created).toBe(0);
    expect(w.scicat.requests.filter((r) => r.method === "POST" && !/auth/.test(r.path))).toEqual([]);
    expect({
      proposals: w.scicat.proposals().length,
      samples: w.scicat.samples().map((s) => s.sampleId).sort(),
      links: w.scicat.datasets().map((d) => `${String(d.pid)} ${JSON.stringify(d.sampleIds)}`).sort(),
      blocks: w.scicat.origdatablocks().length,
    }).toEqual(before);

    const after = stateDb(w);
    try {
      expect(after.pragma("user_version", { simple: true })).toBe(LATEST_VERSION);
      const keys = after.prepare("SELECT key, beamtime_key, remote_id, state FROM records WHERE kind = 'sample' ORDER BY key").all() as { key: string; beamtime_key: string; remote_id: string; state: string }[];
      expect(keys.every((k) => k.state === "synced")).toBe(true);
      // New keys, old catalog ids.
      expect(keys.map((k) => k.key).every((k) => k.startsWith("resonance_") || k.startsWith("bluesky_P-9_Si"))).toBe(true);
      expect(keys.map((k) => k.remote_id).sort()).toEqual(before.samples);
      const beamtimeKeys = after.prepare("SELECT DISTINCT beamtime_key FROM records WHERE beamtime_key IS NOT NULL").all() as { beamtime_key: string }[];
      expect(beamtimeKeys.every((b) => /^(resonance|bluesky):/.test(b.beamtime_key))).toBe(true);
    } finally {
      after.close();
    }
  });
});
