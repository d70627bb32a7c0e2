import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { fitKey, mapToIcat, mapToIcatWithSkips, type IcatDatasetPayload, type IcatInvestigationPayload, type IcatSamplePayload } from "../../src/mapping/icat/index.js";
import type { DesiredRecord } from "../../src/mapping/record.js";
import type { Run, Snapshot } from "../../src/model/types.js";
import { smallSnapshot } from "../support/snapshot.js";

/** Model → ICAT records: keys, payload shapes and the limits and date pattern of icat-api.md. */

const config = configSchema.parse({
  dataRoot: "/data",
  destinations: {
    scicat: { enabled: false },
    icat: {
      enabled: true,
      parameters: {
        plan_name: { type: "plan_name", units: "N/A" },
        num_events: { type: "num_events", units: "N/A" },
        // Two fields onto one ParameterType: only one parameter may be sent (one per dataset and type).
        "num_events.primary": { type: "num_events", units: "N/A" },
        "metadata_flag": { type: "flag", units: "N/A" },
        "energy_range": { type: "energy_range", units: "eV" },
        "not_finite": { type: "not_finite", units: "N/A" },
      },
    },
  },
  mapping: { proposalIdTemplate: "{researcherSlug}-{label}" },
});

const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function byKind(records: DesiredRecord[], kind: string): DesiredRecord[] {
  return records.filter((r) => r.kind === kind);
}

function withRun(snapshot: Snapshot, change: (run: Run) => Run): Snapshot {
  return { ...snapshot, runs: snapshot.runs.map(change) };
}

describe("ICAT mapping", () => {
  it("maps a beamtime to an investigation keyed by (name, visitId), dates with milliseconds", () => {
    const [record] = byKind(mapToIcat(smallSnapshot(), config), "investigation");
    const payload = record!.payload as unknown as IcatInvestigationPayload;
    expect(record).toMatchObject({ destination: "icat", key: "jdoe/2026-03-05.db", dependsOn: [] });
    expect(payload).toEqual({ name: "jane-doe-2026-03-05", visitId: "2026-03-05", title: "Polymer films", startDate: "2026-03-05T08:40:00.000Z", groups: { owner: "beamline-staff", readers: [] } });
    expect(payload.startDate).toMatch(ISO_MILLIS);
  });

  it("keeps titles within 255 characters and the whole description as the summary", () => {
    const snapshot = smallSnapshot();
    snapshot.beamtimes[0] = { ...snapshot.beamtimes[0]!, description: "d".repeat(300), proposalId: "ab123" };
    const payload = byKind(mapToIcat(snapshot, config), "investigation")[0]!.payload as unknown as IcatInvestigationPayload;
    expect(payload.name).toBe("ab123");
    expect(payload.title).toHaveLength(255);
    expect(payload.summary).toHaveLength(300);
  });

  it("maps samples into their beamtime's investigation; a blank name falls back to the key", () => {
    const snapshot = smallSnapshot();
    const [sample] = byKind(mapToIcat(snapshot, config), "sample");
    expect(sample).toMatchObject({ key: "jdoe/2026-03-05.db#1", dependsOn: ["icat/investigation/jdoe/2026-03-05.db"] });
    expect(sample!.payload as unknown as IcatSamplePayload).toEqual({
      investigationKey: "jdoe/2026-03-05.db",
      investigation: { name: "jane-doe-2026-03-05", visitId: "2026-03-05" },
      name: "PS-b-PMMA",
    });
    snapshot.samples[0] = { ...snapshot.samples[0]!, name: "  " };
    const blank = byKind(mapToIcat(snapshot, config), "sample")[0]!.payload as unknown as IcatSamplePayload;
    expect(blank.name).toBe("sample jdoe/2026-03-05.db#1");
    const dataset = byKind(mapToIcat(snapshot, config), "dataset")[0]!.payload as unknown as IcatDatasetPayload;
    expect(dataset.sampleName).toBe(blank.name);
  });

  it("keeps two samples of a beamtime that share a name apart: the later ones get their local id", () => {
    const snapshot = smallSnapshot();
    const first = snapshot.samples[0]!;
    // Ids 2 and 10: ordered as numbers, not as text ("#10" < "#2").
    const ten = { ...first, key: "jdoe/2026-03-05.db#10", serial: "B" };
    const two = { ...first, key: "jdoe/2026-03-05.db#2", serial: "A" };
    const elsewhere = { ...first, key: "other/2026-04-01.db#1", beamtimeKey: "other/2026-04-01.db" };
    snapshot.samples.push(ten, two, elsewhere);
    snapshot.runs = snapshot.runs.map((run) => ({ ...run, sampleKey: ten.key }));
    const records = mapToIcat(snapshot, config);
    const names = new Map(byKind(records, "sample").map((r) => [r.key, (r.payload as unknown as IcatSamplePayload).name]));
    expect(names.get(first.key)).toBe("PS-b-PMMA");
    expect(names.get(two.key)).toBe("PS-b-PMMA [2]");
    expect(names.get(ten.key)).toBe("PS-b-PMMA [10]");
    // Another beamtime is another investigation: the name is free there (that sample has no beamtime here, so it is skipped).
    expect(new Set(names.values()).size).toBe(3);
    const dataset = byKind(records, "dataset")[0]!.payload as unknown as IcatDatasetPayload;
    expect(dataset.sampleName).toBe("PS-b-PMMA [10]");
  });

  it("maps a closed run to a complete dataset named by its uid, with parameters and datafiles", () => {
    const snapshot = withRun(smallSnapshot({ files: 2 }), (run) => ({
      ...run,
      streams: [{ ...run.streams[0]!, eventCount: 12 }],
      metadata: { ...run.metadata, metadata_flag: true, not_finite: Number.NaN },
    }));
    const [record] = byKind(mapToIcat(snapshot, config), "dataset");
    const payload = record!.payload as unknown as IcatDatasetPayload;
    expect(record!.dependsOn).toEqual(["icat/investigation/jdoe/2026-03-05.db", "icat/sample/jdoe/2026-03-05.db#1"]);
    expect(payload).toMatchObject({
      name: "0123456789abcdef0123456789ab0000",
      // The SciCat datasetName and description (the beamtime's), in ICAT's one text field.
      description: "nexafs PS-b-PMMA 2026-03-05 — Polymer films",
      location: "/data/jdoe",
      complete: true,
      startDate: "2026-03-05T08:56:40.250Z",
      endDate: "2026-03-05T08:57:40.500Z",
      sampleKey: "jdoe/2026-03-05.db#1",
      sampleName: "PS-b-PMMA",
    });
    expect(payload.parameters).toEqual([
      { field: "metadata_flag", type: "flag", units: "N/A", stringValue: "true" },
      { field: "num_events", type: "num_events", units: "N/A", numericValue: 12 },
      { field: "plan_name", type: "plan_name", units: "N/A", stringValue: "nexafs" },
    ]);
    expect(payload.datafiles.map((f) => f.name)).toEqual([
      "2026-03-05.db",
      "2026-03-05.zarr/runs/0123456789abcdef0123456789ab0000/image/c/0/0/0",
      "2026-03-05.zarr/runs/0123456789abcdef0123456789ab0000/image/c/1/0/0",
    ]);
    expect(payload.datafiles[0]).toEqual({ name: "2026-03-05.db", location: "/data/jdoe/2026-03-05.db", fileSize: 8192, datafileModTime: "2026-03-05T08:57:41.000Z" });
    for (const date of [payload.startDate, payload.endDate, ...payload.datafiles.map((f) => f.datafileModTime)]) expect(date).toMatch(ISO_MILLIS);
  });

  it("keeps datafile names unique and within 255 characters; files outside the location keep their path", () => {
    const long = `/data/jdoe/${"deep/".repeat(60)}frame.tif`;
    const snapshot = withRun(smallSnapshot(), (run) => ({
      ...run,
      files: [
        { path: long, size: 1, mtimeMs: 0 },
        { path: long.replace("frame", "other"), size: 1, mtimeMs: 0 },
        { path: "/elsewhere/log.txt", size: 1, mtimeMs: 0 },
        { path: "/elsewhere/log.txt", size: 1, mtimeMs: 0 },
      ],
    }));
    const payload = byKind(mapToIcat(snapshot, config), "dataset")[0]!.payload as unknown as IcatDatasetPayload;
    const names = payload.datafiles.map((f) => f.name);
    expect(names).toHaveLength(3);
    expect(new Set(names).size).toBe(3);
    expect(names).toContain("/elsewhere/log.txt");
    for (const name of names) expect(name.length).toBeLessThanOrEqual(255);
    expect(names.some((n) => n.endsWith("/frame.tif"))).toBe(true);
    // 320 characters: more than ICAT before 6.2 stores, so the location is left out (not cut); 6.2 stores it.
    expect(payload.datafiles.find((f) => f.name.endsWith("/frame.tif"))).not.toHaveProperty("location");
    const icat62 = configSchema.parse({ ...config, destinations: { ...config.destinations, icat: { ...config.destinations.icat, locationLength: 511 } } });
    const on62 = byKind(mapToIcat(snapshot, icat62), "dataset")[0]!.payload as unknown as IcatDatasetPayload;
    expect(on62.datafiles.find((f) => f.name.endsWith("/frame.tif"))?.location).toBe(long);
    expect(fitKey("short", 255)).toBe("short");
    expect(fitKey(long, 255)).toBe(fitKey(long, 255));
  });

  it("leaves out a dataset location longer than the server stores", () => {
    const deep = `/data/jdoe/${"nested/".repeat(40)}run`;
    const snapshot = withRun(smallSnapshot(), (run) => ({ ...run, sourceFolder: deep }));
    const payload = byKind(mapToIcat(snapshot, config), "dataset")[0]!.payload as unknown as IcatDatasetPayload;
    expect(payload).not.toHaveProperty("location");
    expect(payload.name).toBe(snapshot.runs[0]!.uid);
  });

  it("pushes stale runs as incomplete without an end date, skips open runs and runs without a beamtime", () => {
    const base = smallSnapshot({ runs: 3 });
    const snapshot: Snapshot = {
      ...base,
      runs: [
        { ...base.runs[0]!, state: "stale" },
        { ...base.runs[1]!, state: "open" },
        { ...base.runs[2]!, beamtimeKey: "nobody/else.db" },
      ],
    };
    const { records, skipped } = mapToIcatWithSkips(snapshot, config);
    const datasets = byKind(records, "dataset");
    expect(datasets).toHaveLength(1);
    expect(datasets[0]!.payload).toMatchObject({ complete: false });
    expect(datasets[0]!.payload).not.toHaveProperty("endDate");
    expect(skipped).toEqual([{ kind: "dataset", key: base.runs[2]!.uid, reason: expect.stringMatching(/beamtime nobody\/else\.db is unknown/) }]);
  });

  it("does not count a growing beamtime DB as a change of earlier runs, but does count their own files", () => {
    const hash = (snapshot: Snapshot) => byKind(mapToIcat(snapshot, config), "dataset")[0]!.hash;
    const base = smallSnapshot();
    const dbGrew = withRun(base, (run) => ({ ...run, files: run.files.map((f) => (f.path.endsWith(".db") ? { ...f, size: f.size * 2, mtimeMs: f.mtimeMs + 1000 } : f)) }));
    const chunkGrew = withRun(base, (run) => ({ ...run, files: run.files.map((f) => (f.path.endsWith(".db") ? f : { ...f, size: f.size + 1 })) }));
    expect(hash(dbGrew)).toBe(hash(base));
    expect(hash(chunkGrew)).not.toBe(hash(base));
    // The payload still carries the current size, for the adapter to send.
    expect((byKind(mapToIcat(dbGrew, config), "dataset")[0]!.payload as unknown as IcatDatasetPayload).datafiles[0]?.fileSize).toBe(16384);
  });
});

describe("ICAT sample parameters", () => {
  it("gives a registered specimen its tray, slot, QR label and metadata scalars, and other samples none", () => {
    const snapshot = smallSnapshot({ runs: 1, files: 1 });
    const beamtime = snapshot.beamtimes[0]!;
    const registered = {
      key: "registration:P-1/S-1",
      beamtimeKey: beamtime.key,
      name: "film",
      tags: [],
      extra: { specimenId: "S-1", tray: "T1", trayLabel: "Front", slot: "A1", qrLabel: "bsr:F/P-1/s/S-1", metadata: { cycles: 100, cured: true, notes: { nested: 1 }, empty: "" } },
    };
    const records = mapToIcat({ ...snapshot, samples: [...snapshot.samples, registered] }, config);
    const samples = new Map(byKind(records, "sample").map((r) => [r.key, r.payload as unknown as IcatSamplePayload]));
    expect(samples.get(registered.key)?.parameters).toEqual([
      { field: "metadata.cured", type: "cured", units: "N/A", stringValue: "true", optional: true },
      { field: "metadata.cycles", type: "cycles", units: "N/A", numericValue: 100, optional: true },
      { field: "qrLabel", type: "qr_label", units: "N/A", stringValue: "bsr:F/P-1/s/S-1" },
      { field: "slot", type: "slot", units: "N/A", stringValue: "A1" },
      { field: "tray", type: "tray", units: "N/A", stringValue: "T1" },
    ]);
    for (const sample of snapshot.samples) expect(samples.get(sample.key)).not.toHaveProperty("parameters");
    const quiet = configSchema.parse({ dataRoot: "/data", destinations: { scicat: { enabled: false }, icat: { enabled: true, sampleParameters: {}, sampleMetadata: false } } });
    expect(byKind(mapToIcat({ ...snapshot, samples: [registered] }, quiet), "sample")[0]!.payload).not.toHaveProperty("parameters");
  });
});
