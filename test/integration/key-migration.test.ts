import fs from "node:fs";
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { Database } from "../../src/sqlite.js";
import { afterEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { buildEngine } from "../../src/app/wire.js";
import { loadConfig } from "../../src/config/loader.js";
import type { Config } from "../../src/config/schema.js";
import { mapToIcat } from "../../src/mapping/icat/index.js";
import { proposalIdFor, slug, type MappingIndex } from "../../src/mapping/common.js";
import type { DesiredRecord } from "../../src/mapping/record.js";
import { makeRecord } from "../../src/mapping/record.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { scicatSampleId } from "../../src/mapping/scicat/proposal-sample.js";
import type { Snapshot } from "../../src/model/types.js";
import { silentLogger } from "../../src/ops/logger.js";
import { LATEST_VERSION, migrations } from "../../src/state/migrations.js";
import { migrateIdentityKeys } from "../../src/state/identity-keys.js";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat } from "../fakes/icat/index.js";
import { runCli, writeConfig } from "../support/cli.js";
import { closedBeamtime, worldPerTest, type ScicatWorld } from "../support/scicat-setup.js";

/** The schema version a store synced by the old beamsync had: the one before the identity-key migration. */
const BEFORE_IDENTITY_KEYS = (migrations.find((m) => m.up === migrateIdentityKeys)?.version ?? 1) - 1;

/**
 * Issue 13, item 4: keys that change are migrations, not duplicates. A state store synced with the keys of
 * before (beamtimes by DB path, samples `<db path>#<id>` and bare bluesky sample ids, in the state store and as
 * SciCat sampleIds) is upgraded by the state migration; the next sync creates nothing in the catalog, and every
 * dataset still links to the sample it had.
 */

const worlds = worldPerTest();
let icat: FakeIcat | undefined;
afterEach(async () => {
  await icat?.close();
  icat = undefined;
});

/** Every string value equal to a key of `to`, replaced (deep). */
function replaceStrings(value: unknown, to: ReadonlyMap<string, string>): unknown {
  if (typeof value === "string") return to.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => replaceStrings(v, to));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceStrings(v, to)]));
  return value;
}

/**
 * The SciCat records as beamsync made them before issue 13: same content, the old keys and sampleIds, and for a
 * DB the index did not list, the proposal id made from its directory and file name.
 */
function oldKeyMapper(w: ScicatWorld, unlisted: ReadonlySet<string> = new Set()) {
  const dbPathOf = new Map(w.written.beamtimes.map((b) => [`resonance:${b.runs[0]!.uid}`, b.dbPath]));
  return (snapshot: Snapshot, config: Config, index: MappingIndex): DesiredRecord[] => {
    const oldProposal = new Map<string, string>();
    for (const b of snapshot.beamtimes) {
      const dbPath = dbPathOf.get(b.key);
      if (!dbPath || !unlisted.has(dbPath)) continue;
      const [dir, file] = dbPath.split("/") as [string, string];
      oldProposal.set(proposalIdFor(b, config.mapping), `${slug(dir)}-${file.replace(/\.db$/, "")}`);
    }
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
      if (r.kind === "proposal") key = oldProposal.get(key) ?? key;
      const dependsOn = r.dependsOn.map(sampleDep).map((d) => (d.startsWith("scicat/proposal/") ? `scicat/proposal/${oldProposal.get(d.slice(16)) ?? d.slice(16)}` : d));
      return makeRecord({ ...r, key, sessionIdentifier, beamtimeKey: beamtime(r.beamtimeKey), payload: replaceStrings(payload, oldProposal) as Record<string, unknown>, dependsOn });
    });
  };
}

/** The ICAT records as before: investigations and samples keyed by DB path, bluesky samples by bare id. */
function oldIcatMapper(w: ScicatWorld) {
  const dbPathOf = new Map(w.written.beamtimes.map((b) => [`resonance:${b.runs[0]!.uid}`, b.dbPath]));
  const beamtime = (key: string | undefined) => (key && dbPathOf.has(key) ? dbPathOf.get(key) : key);
  const sample = (key: string) => {
    if (key.startsWith("bluesky:")) return `bluesky:${key.slice(key.indexOf("/") + 1)}`;
    const [bt, local] = key.split("#") as [string, string];
    return `${dbPathOf.get(bt)!}#${local}`;
  };
  const dep = (id: string) => {
    const [, kind, ...rest] = id.split("/");
    const key = rest.join("/");
    if (kind === "investigation") return `icat/investigation/${beamtime(key)!}`;
    if (kind === "sample") return `icat/sample/${sample(key)}`;
    return id;
  };
  return (snapshot: Snapshot, config: Config, index: MappingIndex): DesiredRecord[] =>
    mapToIcat(snapshot, config, index).map((r) => {
      const payload = { ...r.payload };
      if (typeof payload.investigationKey === "string") payload.investigationKey = beamtime(payload.investigationKey);
      if (typeof payload.sampleKey === "string") payload.sampleKey = sample(payload.sampleKey);
      const key = r.kind === "investigation" ? beamtime(r.key)! : r.kind === "sample" ? sample(r.key) : r.key;
      return makeRecord({ ...r, key, sessionIdentifier: r.kind === "dataset" ? r.sessionIdentifier : key, beamtimeKey: beamtime(r.beamtimeKey), payload, dependsOn: r.dependsOn.map(dep) });
    });
}

function stateDb(w: ScicatWorld): BetterSqlite3.Database {
  return new Database(path.join(w.stateDir, "beamsync.sqlite"));
}

/**
 * Make the store look as the old beamsync left it: its schema version back, and what later migrations added
 * (the workers table and upload_log's worker column, migration 4) gone, so that they apply again.
 */
function rewindToBeforeIdentityKeys(w: ScicatWorld): void {
  const db = stateDb(w);
  db.exec("DROP TABLE workers; ALTER TABLE upload_log DROP COLUMN worker");
  db.pragma(`user_version = ${BEFORE_IDENTITY_KEYS}`);
  db.close();
}

describe("state migration of record keys", () => {
  it("keeps every catalog record and its ids: an upgraded store syncs with zero creates", async () => {
    const w = await worlds.open(
      {
        beamtimes: [
          closedBeamtime("2026-03-05", { samples: [{ name: "LaB6" }, { name: "film" }] }),
          closedBeamtime("2026-03-06", { researcher: "Lise Meitner" }),
          // Not in the index: before, its proposal id came from its directory and file name.
          closedBeamtime("night-shift", { researcher: "Marie Curie", indexed: false }),
          // Its first run never closed, so no record of it tells the migration it is the first.
          closedBeamtime("2026-03-08", { researcher: "Emmy Noether", runs: [{ state: "open" }, { state: "closed", frames: 1 }, { state: "closed" }] }),
        ],
      },
      { config: { sources: { bluesky: { enabled: true } } } },
    );
    const unlisted = new Set([w.written.beamtimes[2]!.dbPath]);
    writeRunFile(path.join(w.dataRoot, "bluesky", "run.jsonl"), runDocuments({ uid: "d0000000-0000-4000-8000-000000000001", extraStart: { proposal_id: "P-9", sample_name: "Si", beamline_id: "bl-1" } }), "jsonl-pairs");

    // Synced by "the old beamsync", then the store is put back at the schema version it had then.
    const engine = await buildEngine(w.config, silentLogger, { mappers: { scicat: oldKeyMapper(w, unlisted) } });
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
    expect(w.scicat.proposals().map((p) => p.proposalId)).toContain("marie-curie-night-shift");
    expect(before.samples).toContain(`${w.written.beamtimes[0]!.dbPath.replace(/[^A-Za-z0-9._-]+/g, "_")}_1`);
    rewindToBeforeIdentityKeys(w);

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

  it("moves ICAT investigation and sample keys too: nothing is created in either catalog", async () => {
    icat = await startFakeIcat({ fixtures: true });
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-03-05", { samples: [{ name: "LaB6" }, { name: "film" }] }), closedBeamtime("2026-03-06", { researcher: "Lise Meitner" })] });
    const document = YAML.parse(fs.readFileSync(w.configFile, "utf8")) as Record<string, Record<string, unknown>>;
    document.destinations!.icat = {
      enabled: true,
      url: icat.url,
      plugin: "simple",
      username: "ingestor",
      password: DEFAULT_PLUGINS.simple?.users?.ingestor ?? "",
      facility: FIXTURE.facility,
      instrument: FIXTURE.instrument,
      createInvestigations: true,
    };
    writeConfig(w.dir, document);
    const { config } = loadConfig({ configPath: w.configFile, env: {} });

    const engine = await buildEngine(config, silentLogger, { mappers: { scicat: oldKeyMapper(w), icat: oldIcatMapper(w) } });
    try {
      const { push } = await engine.syncOnce();
      expect(push.failed + push.dead).toBe(0);
    } finally {
      await engine.close();
    }
    const count = () => ({
      investigations: icat!.entities("Investigation").length,
      samples: icat!.entities("Sample").length,
      datasets: icat!.entities("Dataset").length,
      scicatSamples: w.scicat.samples().length,
      scicatDatasets: w.scicat.datasets().length,
    });
    const before = count();
    expect(before.samples).toBeGreaterThanOrEqual(3);
    rewindToBeforeIdentityKeys(w);

    const result = await runCli(["sync", "--json", "--config", w.configFile]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { reconcile: { created: number } }).reconcile.created).toBe(0);
    expect(count()).toEqual(before);
    const after = stateDb(w);
    try {
      const icatKeys = after.prepare("SELECT kind, key FROM records WHERE destination = 'icat' AND kind IN ('investigation', 'sample')").all() as { kind: string; key: string }[];
      expect(icatKeys.length).toBeGreaterThan(0);
      for (const k of icatKeys) expect(k.key).toMatch(/^resonance:[0-9a-f]{32}(#\d+)?$/);
    } finally {
      after.close();
    }
  });
});
