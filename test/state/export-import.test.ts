import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, writeConfig } from "../support/cli.js";
import { pgAvailable, usePostgres, type PostgresServer } from "../support/postgres.js";
import { closedBeamtime, worldPerTest, type ScicatWorld } from "../support/scicat-setup.js";

/**
 * Issue 19, item 4: `beamsync state export` / `import` move a beamline's state to another backend, so that
 * joining a central deployment (or leaving it) pushes nothing again.
 */

const worlds = worldPerTest();

/** The world's configuration with another state: a stateDir of its own, or a PostgreSQL database. */
function configWithState(w: ScicatWorld, name: string, state: Record<string, unknown> | undefined): string {
  return writeConfig(path.join(w.dir, name), {
    dataRoot: w.dataRoot,
    stateDir: path.join(w.dir, `${name}-state`),
    ...(state ? { state } : {}),
    sources: { bluesky: { enabled: false } },
    destinations: { scicat: { url: w.scicat.url, username: "ingestor", password: w.password, pidPrefix: "test/" } },
    mapping: { ownerGroup: "group-a", accessGroups: ["staff"], instrument: "bl-1" },
    sync: { backoffBaseMs: 20, backoffMaxMs: 200, concurrency: 4 },
    http: { enabled: false },
    log: { level: "warn" },
  });
}

async function statusOf(configFile: string): Promise<{ records: unknown; lastScan: unknown }> {
  const result = await runCli(["status", "--json", "--config", configFile]);
  expect(result.code, result.stderr).toBe(0);
  const status = JSON.parse(result.stdout) as { records: unknown; lastScan: unknown };
  return { records: status.records, lastScan: status.lastScan };
}

/** A synced world, its state exported: what every case starts from. */
async function syncedAndExported(): Promise<{ w: ScicatWorld; dump: string; status: { records: unknown; lastScan: unknown } }> {
  const w = await worlds.open({ beamtimes: [closedBeamtime("export-a"), closedBeamtime("export-b")] });
  const sync = await runCli(["sync", "--config", w.configFile]);
  expect(sync.code, sync.stderr).toBe(0);
  const dump = path.join(w.dir, "state.jsonl");
  const exported = await runCli(["state", "export", "--out", dump, "--config", w.configFile]);
  expect(exported.code, exported.stderr).toBe(0);
  expect(exported.stdout).toMatch(/exported \d+ meta, \d+ sources, \d+ records/);
  return { w, dump, status: await statusOf(w.configFile) };
}

/** Import the dump into `target` and sync from there: the catalog gets no new record. */
async function importAndSyncNothing(w: ScicatWorld, dump: string, target: string, before: { records: unknown; lastScan: unknown }): Promise<void> {
  const imported = await runCli(["state", "import", dump, "--config", target]);
  expect(imported.code, imported.stderr).toBe(0);
  expect(await statusOf(target)).toEqual(before);
  const datasets = w.scicat.datasets().length;
  w.scicat.resetRequests();
  const sync = await runCli(["sync", "--json", "--config", target]);
  expect(sync.code, sync.stderr).toBe(0);
  const outcome = JSON.parse(sync.stdout) as { reconcile: { created: number; updated: number }; push: { attempts: number } };
  expect(outcome.reconcile).toMatchObject({ created: 0, updated: 0 });
  expect(outcome.push.attempts).toBe(0);
  expect(w.scicat.datasets()).toHaveLength(datasets);
  expect(w.scicat.requests.filter((r) => r.method !== "GET")).toEqual([]);
}

describe("state export and import", () => {
  it("moves a SQLite state into a new one: the same records and upload_log, and the next sync pushes nothing", async () => {
    const { w, dump, status } = await syncedAndExported();
    const target = configWithState(w, "copy", undefined);
    await importAndSyncNothing(w, dump, target, status);
    const log = await runCli(["log", "--json", "--limit", "1000", "--config", target]);
    const original = await runCli(["log", "--json", "--limit", "1000", "--config", w.configFile]);
    const strip = (text: string) => (JSON.parse(text) as { id: number }[]).map(({ id: _id, ...rest }) => rest);
    expect(strip(log.stdout)).toEqual(strip(original.stdout));
  });

  it("refuses to import into a state that holds records, and names a broken line without importing anything", async () => {
    const { w, dump } = await syncedAndExported();
    const into = await runCli(["state", "import", dump, "--config", w.configFile]);
    expect(into.code).toBe(2);
    expect(into.stderr).toMatch(/already holds records/);

    const broken = path.join(w.dir, "broken.jsonl");
    const lines = fs.readFileSync(dump, "utf8").split("\n");
    lines[5] = "{not json";
    fs.writeFileSync(broken, lines.join("\n"));
    const target = configWithState(w, "broken", undefined);
    const result = await runCli(["state", "import", broken, "--config", target]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${broken}:6: not JSON`);
    const status = await runCli(["status", "--json", "--config", target]);
    expect((JSON.parse(status.stdout) as { records: Record<string, unknown> }).records).toEqual({});

    const notADump = path.join(w.dir, "other.jsonl");
    fs.writeFileSync(notADump, '{"hello": 1}\n');
    const other = await runCli(["state", "import", notADump, "--config", target]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/not a beamsync state export/);
  });
});

describe.runIf(pgAvailable())("state export and import with PostgreSQL", () => {
  const server: PostgresServer = usePostgres();

  it("moves a beamline's SQLite state into PostgreSQL and back: nothing is pushed again either way", async () => {
    const { w, dump, status } = await syncedAndExported();
    const url = await server.createDatabase("export_import");
    const shared = configWithState(w, "shared", { backend: "postgres", url });
    await importAndSyncNothing(w, dump, shared, status);

    const back = path.join(w.dir, "back.jsonl");
    const exported = await runCli(["state", "export", "--out", back, "--config", shared]);
    expect(exported.code, exported.stderr).toBe(0);
    // The dump names where it came from, never with the password.
    expect(fs.readFileSync(back, "utf8")).not.toContain(server.password);
    expect(fs.readFileSync(back, "utf8")).not.toContain(encodeURIComponent(server.password));
    const local = configWithState(w, "local-again", undefined);
    await importAndSyncNothing(w, back, local, await statusOf(shared));
  });
});
