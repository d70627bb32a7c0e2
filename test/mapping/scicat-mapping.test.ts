import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import type { Beamtime, Run, Sample, Snapshot } from "../../src/model/types.js";

const config = configSchema.parse({
  dataRoot: "/data",
  destinations: { scicat: { enabled: false, pidPrefix: "20.500.12269/" } },
  mapping: { ownerGroup: "bl-staff", accessGroups: ["bl-readers"], instrument: "11.0.1.2", instrumentName: "ALS 11.0.1.2" },
});

const beamtime: Beamtime = {
  key: "resonance:0123456789abcdef0123456789abcdef",
  source: "resonance",
  label: "2026-03-05",
  researcher: { name: "Jane Doe", email: "jane@example.org" },
  timeStart: 1772700000,
  extra: {},
};
const sample: Sample = { key: "resonance:0123456789abcdef0123456789abcdef#1", beamtimeKey: beamtime.key, name: "PS-b-PMMA", formula: "C8H8", tags: ["polymer"], extra: { thickness_nm: 50 } };

function run(overrides: Partial<Run> = {}): Run {
  return {
    uid: "0123456789abcdef0123456789abcdef",
    source: "resonance",
    beamtimeKey: beamtime.key,
    sampleKey: sample.key,
    planName: "nexafs",
    timeStart: 1772701000.25,
    timeStop: 1772701060.5,
    state: "complete",
    exitStatus: "success",
    numEvents: 12,
    metadata: { energy_range: [270, 300] },
    streams: [{ name: "primary", dataKeys: { energy: { dtype: "number", units: "eV", source: "motor", shape: [] } } }],
    sourceFolder: "/data/jdoe",
    ownFolder: "/data/jdoe/2026-03-05.zarr/runs/0123456789abcdef0123456789abcdef",
    files: [
      { path: "/data/jdoe/2026-03-05.db", size: 8192, mtimeMs: 1772701061000, shared: true },
      { path: "/data/jdoe/2026-03-05.zarr/runs/0123456789abcdef0123456789abcdef/detector_image/c/0/0/0", size: 100, mtimeMs: 1772701050000 },
    ],
    dataFormat: "resonance-sqlite+zarr",
    ...overrides,
  };
}

function snapshot(runs: Run[]): Snapshot {
  return { beamtimes: [beamtime], samples: [sample], runs, problems: [] };
}

describe("SciCat mapping", () => {
  it("maps a beamtime, sample and closed run to Proposal, Sample, Instrument, Dataset and its file list", () => {
    const records = mapToScicat(snapshot([run()]), config);
    expect(records.map((r) => `${r.kind}:${r.key}`).sort()).toEqual([
      "dataset:20.500.12269/0123456789abcdef0123456789abcdef",
      "instrument:11.0.1.2",
      "origdatablocks:20.500.12269/0123456789abcdef0123456789abcdef",
      "proposal:jane-doe-2026-03-05",
      "sample:resonance_0123456789abcdef0123456789abcdef_1",
    ]);
    const dataset = records.find((r) => r.kind === "dataset");
    expect(dataset?.payload).toMatchObject({
      pid: "20.500.12269/0123456789abcdef0123456789abcdef",
      type: "raw",
      datasetName: "nexafs PS-b-PMMA 2026-03-05",
      owner: "Jane Doe",
      contactEmail: "jane@example.org",
      ownerGroup: "bl-staff",
      accessGroups: ["bl-readers"],
      principalInvestigators: ["Jane Doe"],
      creationTime: "2026-03-05T08:57:40.500Z",
      startTime: "2026-03-05T08:56:40.250Z",
      endTime: "2026-03-05T08:57:40.500Z",
      sourceFolder: "/data/jdoe/2026-03-05.zarr/runs/0123456789abcdef0123456789abcdef",
      proposalIds: ["jane-doe-2026-03-05"],
      sampleIds: ["resonance_0123456789abcdef0123456789abcdef_1"],
      instrumentIds: ["11.0.1.2"],
      keywords: ["polymer", "nexafs"],
      scientificMetadata: {
        run: { plan_name: "nexafs", exit_status: "success", num_events: 12, beamtime_db: "/data/jdoe/2026-03-05.db" },
        streams: { primary: { data_keys: { energy: { units: "eV", dtype: "number", source: "motor", shape: [] } } } },
        metadata: { energy_range: [270, 300] },
      },
    });
    expect(dataset?.dependsOn.sort()).toEqual(["scicat/instrument/11.0.1.2", "scicat/proposal/jane-doe-2026-03-05", "scicat/sample/resonance_0123456789abcdef0123456789abcdef_1"]);
    const blocks = records.find((r) => r.kind === "origdatablocks");
    // The beamtime DB every run shares is in no run's file list (its size would count once per run).
    expect(blocks?.payload.files).toEqual([{ path: "detector_image/c/0/0/0", size: 100, time: "2026-03-05T08:57:30.000Z" }]);
  });

  it("is deterministic, and a growing beamtime DB does not change earlier runs' file lists", () => {
    const a = mapToScicat(snapshot([run()]), config);
    const grown = run({ files: run().files.map((f) => (f.path.endsWith(".db") ? { ...f, size: 99999, mtimeMs: f.mtimeMs + 60_000 } : f)) });
    const b = mapToScicat(snapshot([grown]), config);
    expect(b.map((r) => r.hash)).toEqual(a.map((r) => r.hash));
    const changedChunk = run({ files: run().files.map((f) => (f.path.endsWith("/0") ? { ...f, size: 101 } : f)) });
    const c = mapToScicat(snapshot([changedChunk]), config);
    expect(c.find((r) => r.kind === "origdatablocks")?.hash).not.toBe(a.find((r) => r.kind === "origdatablocks")?.hash);
  });

  it("does not push open runs; pushes stale runs as incomplete without an end time", () => {
    expect(mapToScicat(snapshot([run({ state: "open", timeStop: undefined, exitStatus: undefined })]), config).some((r) => r.kind === "dataset")).toBe(false);
    const stale = mapToScicat(snapshot([run({ state: "stale", timeStop: undefined, exitStatus: undefined })]), config).find((r) => r.kind === "dataset");
    expect(stale?.payload.endTime).toBeUndefined();
    expect(stale?.payload.keywords).toContain("incomplete");
    expect((stale?.payload.scientificMetadata as { run: { exit_status: string } }).run.exit_status).toBe("incomplete");
  });

  it("uses the proposal id a beamtime states", () => {
    const records = mapToScicat({ ...snapshot([run()]), beamtimes: [{ ...beamtime, proposalId: "ALS-12345" }] }, config);
    expect(records.find((r) => r.kind === "proposal")?.key).toBe("ALS-12345");
    expect(records.find((r) => r.kind === "dataset")?.payload.proposalIds).toEqual(["ALS-12345"]);
  });
});
