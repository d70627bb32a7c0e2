import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat } from "../fakes/icat/index.js";
import fs from "node:fs";
import YAML from "yaml";
import { runCli, writeConfig } from "../support/cli.js";
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

/** The world's configuration with ICAT (the fake's ingest user) beside SciCat; written back by the caller. */
function withIcat(w: ScicatWorld, icatUrl: string): Record<string, unknown> {
  const password = DEFAULT_PLUGINS.simple?.users?.ingestor ?? "";
  const document = YAML.parse(fs.readFileSync(w.configFile, "utf8")) as Record<string, unknown>;
  document.destinations = {
    scicat: { url: w.scicat.url, username: "ingestor", password: w.password, pidPrefix: "test/" },
    icat: { enabled: true, url: icatUrl, plugin: "simple", username: "ingestor", password, facility: FIXTURE.facility, instrument: FIXTURE.instrument, createInvestigations: true },
  };
  return document;
}

describe("SciCat and ICAT together", () => {
  it("syncs both; with ICAT down SciCat still gets everything and status shows ICAT pending", async () => {
    icat = await startFakeIcat({ fixtures: true });
    world = await scicatWorld(
      { beamtimes: [{ label: "2026-09-01", researcher: "Ada", samples: [{ name: "s" }], runs: [{ state: "closed", frames: 1 }, { state: "closed" }, { state: "open" }] }] },
      { config: { destinations: undefined } },
    );
    const w = world;
    const document = withIcat(w, icat.url);
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

  it("one mapping rule shapes the dataset in both catalogs: name and description, and techniques as ICAT DatasetTechniques", async () => {
    icat = await startFakeIcat({ fixtures: true });
    // A test term, not a PaNET id: ICAT links what its facility loaded, found by pid.
    const technique = { pid: "http://example.org/technique/test-nexafs", name: "test NEXAFS" };
    const [techniqueId] = icat.create({ Technique: technique });
    world = await scicatWorld(
      { beamtimes: [{ label: "2026-09-02", researcher: "Ada", samples: [{ name: "HOPG" }], runs: [{ state: "closed", planName: "nexafs" }, { state: "closed", planName: "count" }] }] },
      { config: { destinations: undefined } },
    );
    const w = world;
    const document = withIcat(w, icat.url);
    const rule = (description: string) => ({
      rules: [{ name: "nexafs", match: { source: "resonance", plan: "nexafs" }, techniques: [technique], fields: { datasetName: "NEXAFS {sample} #{scan_id} {label}", description } }],
    });
    document.mapping = { ...(document.mapping as Record<string, unknown>), rules: rule("Carbon K-edge of {sample}") };
    writeConfig(w.dir, document);

    const first = await runCli(["sync", "--config", w.configFile]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const [nexafs, count] = w.written.beamtimes[0]!.runs;
    const scicatDataset = (uid: string) => w.scicat.datasets().find((d) => d.pid === `test/${uid}`)!;
    const icatDataset = (uid: string) => icat!.entities("Dataset").find((d) => d.name === uid)!;
    expect(scicatDataset(nexafs!.uid)).toMatchObject({ datasetName: "NEXAFS HOPG #1 2026-09-02", description: "Carbon K-edge of HOPG", techniques: [technique] });
    expect(icatDataset(nexafs!.uid).description).toBe("NEXAFS HOPG #1 2026-09-02 — Carbon K-edge of HOPG");
    expect(icat.entities("DatasetTechnique").map((dt) => [dt.dataset, dt.technique])).toEqual([[icatDataset(nexafs!.uid).id, techniqueId]]);
    // The run no rule matches keeps the default name in both, and has no technique.
    expect(icatDataset(count!.uid).description).toBe(scicatDataset(count!.uid).datasetName);
    expect(scicatDataset(count!.uid).techniques ?? []).toEqual([]);

    // Changing the rule changes both catalogs' records on the next pass.
    document.mapping = { ...(document.mapping as Record<string, unknown>), rules: rule("HOPG reference, {plan_name}") };
    writeConfig(w.dir, document);
    const second = await runCli(["sync", "--config", w.configFile]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(scicatDataset(nexafs!.uid).description).toBe("HOPG reference, nexafs");
    expect(icatDataset(nexafs!.uid).description).toBe("NEXAFS HOPG #1 2026-09-02 — HOPG reference, nexafs");
    expect(icat.entities("DatasetTechnique")).toHaveLength(1);
  });
});
