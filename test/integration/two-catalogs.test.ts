import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat } from "../fakes/icat/index.js";
import { runCli } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";

/** Issue 4.5: one outbox, two catalogs; a record may be in one and still pending in the other. */

let world: ScicatWorld | undefined;
let icat: FakeIcat | undefined;
afterEach(async () => {
  await world?.close();
  await icat?.close();
  world = undefined;
  icat = undefined;
});

describe("SciCat and ICAT together", () => {
  it("syncs both; with ICAT down SciCat still gets everything and status shows ICAT pending", async () => {
    icat = await startFakeIcat({ fixtures: true });
    const password = DEFAULT_PLUGINS.simple?.users?.ingestor ?? "";
    world = await scicatWorld(
      { beamtimes: [{ label: "2026-09-01", researcher: "Ada", samples: [{ name: "s" }], runs: [{ state: "closed", frames: 1 }, { state: "closed" }, { state: "open" }] }] },
      { config: { destinations: undefined } },
    );
    const w = world;
    const { writeConfig } = await import("../support/cli.js");
    const YAML = await import("yaml");
    const fs = await import("node:fs");
    const document = YAML.parse(fs.readFileSync(w.configFile, "utf8")) as Record<string, unknown>;
    document.destinations = {
      scicat: { url: w.scicat.url, username: "ingestor", password: w.password, pidPrefix: "test/" },
      icat: { enabled: true, url: icat.url, plugin: "simple", username: "ingestor", password, facility: FIXTURE.facility, instrument: FIXTURE.instrument, createInvestigations: true },
    };
    writeConfig(w.dir, document);

    await icat.down();
    const first = await runCli(["sync", "--config", w.configFile]);
    expect(first.code).toBe(1);
    expect(w.scicat.datasets()).toHaveLength(2);
    const status = JSON.parse((await runCli(["status", "--json", "--config", w.configFile])).stdout) as { records: Record<string, { synced: number; pending: number }> };
    expect(status.records.scicat?.pending).toBe(0);
    expect(status.records.icat?.synced).toBe(0);
    expect(status.records.icat?.pending).toBeGreaterThan(0);

    await icat.up();
    const second = await runCli(["sync", "--config", w.configFile]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(icat.entities("Dataset")).toHaveLength(2);
    expect(icat.entities("Datafile").length).toBeGreaterThanOrEqual(3);
    const log = w.uploadLog();
    expect(new Set(log.map((r) => r.destination_name))).toEqual(new Set(["scicat", "icat"]));
    expect(log.some((r) => r.destination_name === "icat" && r.success === 0)).toBe(true);
  });
});
