import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat } from "../fakes/icat/index.js";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { runCli, writeConfig } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";
import { REGISTRATION } from "./fixtures.js";

/** Issue 14 in ICAT: the registered proposal is an Investigation (when allowed), its specimens Samples. */

let world: ScicatWorld | undefined;
let icat: FakeIcat | undefined;
afterEach(async () => {
  await world?.close();
  await icat?.close();
});

describe("registrations in ICAT", () => {
  it("creates the Investigation and one Sample per specimen, and a linked run's Dataset in them", async () => {
    icat = await startFakeIcat({ fixtures: true });
    world = await scicatWorld({ beamtimes: [] }, { config: { sources: { bluesky: { enabled: true }, registrations: { enabled: true, facility: "TESTFAC" } } } });
    const w = world;
    const document = YAML.parse(fs.readFileSync(w.configFile, "utf8")) as Record<string, unknown>;
    document.destinations = {
      scicat: { url: w.scicat.url, username: "ingestor", password: w.password, pidPrefix: "test/" },
      icat: { enabled: true, url: icat.url, plugin: "simple", username: "ingestor", password: DEFAULT_PLUGINS.simple?.users?.ingestor ?? "", facility: FIXTURE.facility, instrument: FIXTURE.instrument, createInvestigations: true },
    };
    writeConfig(w.dir, document);
    fs.mkdirSync(path.join(w.dataRoot, "registrations"));
    fs.writeFileSync(path.join(w.dataRoot, "registrations", "p.yaml"), REGISTRATION);
    writeRunFile(path.join(w.dataRoot, "bluesky", "run.jsonl"), runDocuments({ uid: "f0000000-0000-4000-8000-000000000001", extraStart: { proposal_id: "P-REG-1", specimen_id: "S-0002" } }), "jsonl-pairs");

    const sync = await runCli(["sync", "--config", w.configFile]);
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    const investigations = icat.entities("Investigation").filter((i) => i.name === "P-REG-1");
    expect(investigations).toHaveLength(1);
    expect(investigations[0]).toMatchObject({ name: "P-REG-1", visitId: "P-REG-1", title: "Cathodes in operando" });
    const samples = icat.entities("Sample").filter((s) => s.investigation === investigations[0]!.id);
    expect(samples.map((s) => s.name).sort()).toEqual(["S-0001", "S-0002"]);
    const dataset = icat.entities("Dataset")[0]!;
    expect(dataset.investigation).toBe(investigations[0]!.id);
    expect(dataset.sample).toBe(samples.find((s) => s.name === "S-0002")!.id);
  });
});
