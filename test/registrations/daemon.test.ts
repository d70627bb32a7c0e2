import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { afterEach, describe, expect, it } from "vitest";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { spawnCli, waitFor } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";
import { REGISTRATION } from "./fixtures.js";

/** Issue 14 with `beamsync run`: a registration dropped into the folder is picked up like any source file. */

let world: ScicatWorld | undefined;
let daemon: ReturnType<typeof spawnCli> | undefined;
afterEach(async () => {
  if (daemon && daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
  await daemon?.exited;
  await world?.close();
  daemon = undefined;
  world = undefined;
});

function lastScan(w: ScicatWorld): string | undefined {
  const file = path.join(w.stateDir, "beamsync.sqlite");
  if (!fs.existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT value FROM meta WHERE key = 'last_scan'").get() as { value: string } | undefined)?.value;
  } catch {
    return undefined; // not migrated yet
  } finally {
    db.close();
  }
}

describe("beamsync run with registrations", () => {
  it("pushes a dropped registration file, then links a run written after it", async () => {
    world = await scicatWorld({ beamtimes: [] }, { config: { sources: { bluesky: { enabled: true }, registrations: { enabled: true, facility: "TESTFAC" } } } });
    const w = world;
    fs.mkdirSync(path.join(w.dataRoot, "registrations"));
    daemon = spawnCli(["run", "--config", w.configFile]);
    // The watcher is up before the daemon's first pass, which leaves its time in the state store.
    await waitFor(() => lastScan(w) !== undefined, { what: "the daemon's first pass", timeoutMs: 30_000 });

    fs.writeFileSync(path.join(w.dataRoot, "registrations", "p.yaml"), REGISTRATION);
    await waitFor(() => w.scicat.samples().length === 2 && w.scicat.proposals().length === 1, { what: "registration in the catalog", timeoutMs: 30_000 });

    writeRunFile(path.join(w.dataRoot, "bluesky", "run.jsonl"), runDocuments({ uid: "d0000000-0000-4000-8000-000000000001", extraStart: { proposal_id: "P-REG-1", specimen_id: "S-0001" } }), "jsonl-pairs");
    await waitFor(() => w.scicat.datasets().length === 1, { what: "linked run in the catalog", timeoutMs: 30_000 });
    expect(w.scicat.datasets()[0]).toMatchObject({ proposalIds: ["P-REG-1"], sampleIds: ["registration_P-REG-1_S-0001"] });
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
  });
});
