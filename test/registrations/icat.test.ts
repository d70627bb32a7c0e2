import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat, type Row } from "../fakes/icat/index.js";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { runCli, writeConfig } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";
import { REGISTRATION } from "./fixtures.js";

/**
 * Issue 14 in ICAT: the registered proposal is an Investigation (when allowed), its specimens Samples with
 * their tray, slot, QR label and metadata scalars as SampleParameters.
 */

let world: ScicatWorld | undefined;
let icat: FakeIcat | undefined;
afterEach(async () => {
  await world?.close();
  await icat?.close();
});

async function openWorld(): Promise<{ w: ScicatWorld; icat: FakeIcat }> {
  const fake = await startFakeIcat({ fixtures: true });
  icat = fake;
  // A metadata scalar becomes a parameter where the facility has its type (cycles), and is left out where not.
  const [facility] = fake.entities("Facility");
  fake.create({ ParameterType: { facility: { id: facility!.id }, name: "cycles", units: "N/A", valueType: "NUMERIC", applicableToSample: true } });
  world = await scicatWorld({ beamtimes: [] }, { config: { sources: { bluesky: { enabled: true }, registrations: { enabled: true, facility: "TESTFAC" } } } });
  const w = world;
  const document = YAML.parse(fs.readFileSync(w.configFile, "utf8")) as Record<string, unknown>;
  document.destinations = {
    scicat: { url: w.scicat.url, username: "ingestor", password: w.password, pidPrefix: "test/" },
    icat: { enabled: true, url: fake.url, plugin: "simple", username: "ingestor", password: DEFAULT_PLUGINS.simple?.users?.ingestor ?? "", facility: FIXTURE.facility, instrument: FIXTURE.instrument, createInvestigations: true },
  };
  writeConfig(w.dir, document);
  fs.mkdirSync(path.join(w.dataRoot, "registrations"));
  return { w, icat: fake };
}

async function cli(w: ScicatWorld, args: string[]): Promise<void> {
  const r = await runCli([...args, "--config", w.configFile]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

/** Each sample's parameters as `type = value`, by sample name. */
function sampleParameters(fake: FakeIcat): Record<string, string[]> {
  const types = new Map(fake.entities("ParameterType").map((t) => [t.id, String(t.name)]));
  const names = new Map(fake.entities("Sample").map((s) => [s.id, String(s.name)]));
  const out: Record<string, string[]> = {};
  for (const p of fake.entities("SampleParameter")) {
    const sample = names.get(p.sample as number)!;
    (out[sample] ??= []).push(`${types.get(p.type as number)} = ${String(p.stringValue ?? p.numericValue)}`);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

describe("registrations in ICAT", () => {
  it("creates the Investigation and one Sample per specimen, and a linked run's Dataset in them", async () => {
    const { w, icat: fake } = await openWorld();
    fs.writeFileSync(path.join(w.dataRoot, "registrations", "p.yaml"), REGISTRATION);
    writeRunFile(path.join(w.dataRoot, "bluesky", "run.jsonl"), runDocuments({ uid: "f0000000-0000-4000-8000-000000000001", extraStart: { proposal_id: "P-REG-1", specimen_id: "S-0002" } }), "jsonl-pairs");

    await cli(w, ["sync"]);
    const investigations = fake.entities("Investigation").filter((i) => i.name === "P-REG-1");
    expect(investigations).toHaveLength(1);
    expect(investigations[0]).toMatchObject({ name: "P-REG-1", visitId: "P-REG-1", title: "Cathodes in operando" });
    const samples = fake.entities("Sample").filter((s) => s.investigation === investigations[0]!.id);
    expect(samples.map((s) => s.name).sort()).toEqual(["S-0001", "S-0002"]);
    const dataset = fake.entities("Dataset")[0]!;
    expect(dataset.investigation).toBe(investigations[0]!.id);
    expect(dataset.sample).toBe(samples.find((s) => s.name === "S-0002")!.id);
  });

  it("writes each specimen's tray, slot, QR label and metadata as SampleParameters, nothing on a second push, and updates an edited slot", async () => {
    const { w, icat: fake } = await openWorld();
    const file = path.join(w.dataRoot, "registrations", "p.yaml");
    // `holder` has no ParameterType in ICAT: left out, not an error.
    fs.writeFileSync(file, REGISTRATION.replace("metadata: { cycles: 100 }", "metadata: { cycles: 100, holder: clamp }"));

    await cli(w, ["sync"]);
    expect(sampleParameters(fake)).toEqual({
      "S-0001": ["qr_label = bsr:TESTFAC/P-REG-1/s/S-0001", "slot = A1", "tray = T1"],
      "S-0002": ["cycles = 100", "qr_label = bsr:TESTFAC/P-REG-1/s/S-0002", "slot = A2", "tray = T1"],
    });
    const cycles = fake.entities("SampleParameter").find((p) => p.numericValue === 100);
    expect(cycles?.stringValue).toBeUndefined();

    // Pushed again, unchanged (resync pushes even what reconcile finds unchanged): ICAT is not written.
    fake.clearRequests();
    await cli(w, ["sync"]);
    await cli(w, ["resync", "--all", "--destination", "icat"]);
    const parameterSearches = fake.requests.filter((r) => r.route === "search" && (r.query.query ?? "").includes("FROM SampleParameter"));
    expect(parameterSearches.length).toBeGreaterThanOrEqual(2);
    expect(fake.writeCount()).toBe(0);

    // An edited slot updates that one parameter, in place.
    const before = new Map(fake.entities("SampleParameter").map((p: Row) => [p.id, p]));
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("slot: A2", "slot: B7"));
    await cli(w, ["sync"]);
    expect(sampleParameters(fake)["S-0002"]).toEqual(["cycles = 100", "qr_label = bsr:TESTFAC/P-REG-1/s/S-0002", "slot = B7", "tray = T1"]);
    const after = fake.entities("SampleParameter");
    expect(after.map((p) => p.id).sort()).toEqual([...before.keys()].sort());
    expect(after.filter((p) => p.stringValue !== before.get(p.id)?.stringValue).map((p) => p.stringValue)).toEqual(["B7"]);
  });

  it("makes the registered groups readers of the investigation and links the members ICAT knows, for that proposal only", async () => {
    const { w, icat: fake } = await openWorld();
    fake.create({ User: { name: "simple/grace", email: "grace@example.org" } });
    const file = path.join(w.dataRoot, "registrations", "p.yaml");
    fs.writeFileSync(file, REGISTRATION.replace("members: [grace@example.org]", `members: [grace@example.org, "${FIXTURE.user}", nobody@example.org]\n  groups: [battery-lab]`));
    fs.writeFileSync(path.join(w.dataRoot, "registrations", "q.yaml"), "proposal:\n  id: P-REG-2\n  pi: { name: Grace Hopper, email: grace@example.org }\nsamples:\n  - { id: S-0900, name: other film }\n");
    await cli(w, ["sync"]);

    const investigation = (name: string) => fake.entities("Investigation").find((i) => i.name === name)!;
    const groupNames = new Map(fake.entities("Grouping").map((g) => [g.id, String(g.name)]));
    const userNames = new Map(fake.entities("User").map((u) => [u.id, String(u.name)]));
    const links = (name: string) => ({
      groups: fake.entities("InvestigationGroup").filter((g) => g.investigation === investigation(name).id).map((g) => `${String(g.role)} ${groupNames.get(g.grouping as number)}`).sort(),
      members: fake.entities("InvestigationUser").filter((u) => u.investigation === investigation(name).id && u.role === "member").map((u) => userNames.get(u.user as number)).sort(),
    });
    const mine = links("P-REG-1");
    expect(mine.groups).toContain("reader battery-lab");
    // Members are linked where ICAT has their User (by e-mail or by name); nobody@example.org has none.
    expect(mine.members).toEqual(["simple/grace", FIXTURE.user]);
    const theirs = links("P-REG-2");
    expect(theirs.groups).not.toContain("reader battery-lab");
    expect(theirs.groups.length).toBeGreaterThan(0);
    expect(theirs.members).toEqual([]);
    // The other groups are the configured ones, the same for both proposals.
    expect(mine.groups.filter((g) => g !== "reader battery-lab").map((g) => g.replace("P-REG-1", "P"))).toEqual(theirs.groups.map((g) => g.replace("P-REG-2", "P")));

    // Taken out of the file, a member and a group are unlinked.
    fs.writeFileSync(file, REGISTRATION);
    await cli(w, ["sync"]);
    expect(links("P-REG-1")).toEqual({ groups: theirs.groups.map((g) => g.replace("P-REG-2", "P-REG-1")), members: ["simple/grace"] });
  });

  it("without the sample ParameterTypes in ICAT, names the missing types and how to fix them", async () => {
    const { w, icat: fake } = await openWorld();
    const document = YAML.parse(fs.readFileSync(w.configFile, "utf8")) as { destinations: { icat: Record<string, unknown> } };
    document.destinations.icat.sampleParameters = { slot: { type: "no_such_type", units: "N/A" } };
    writeConfig(w.dir, document);
    fs.writeFileSync(path.join(w.dataRoot, "registrations", "p.yaml"), REGISTRATION);
    const r = await runCli(["sync", "--config", w.configFile]);
    expect(r.code).toBe(1);
    expect(fake.entities("Sample").filter((s) => String(s.name).startsWith("S-"))).toHaveLength(0);
    const doctor = await runCli(["doctor", "--config", w.configFile, "--json"]);
    expect(doctor.stdout).toContain("ParameterType 'no_such_type' (units 'N/A') for specimen field slot not found");
    expect(doctor.stdout).toContain("applicableToSample=true");
  });
});
