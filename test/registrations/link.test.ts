import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import type { Beamtime, Run, Sample } from "../../src/model/types.js";
import { buildView } from "../../src/sources/registrations/folder.js";
import { linkBatch } from "../../src/sources/registrations/link.js";
import { parseRegistrationText } from "../../src/sources/registrations/parse.js";
import type { RegistrationError } from "../../src/sources/registrations/types.js";
import { REGISTRATION } from "./fixtures.js";

/** Linking one batch of a resonance beamtime DB to registered specimens, without files or catalogs. */

const config = configSchema.parse({ dataRoot: "/data", sources: { registrations: { enabled: true, facility: "TESTFAC", keys: { resonance: ["serial", "name"] } } } });

function view() {
  const parsed = parseRegistrationText(REGISTRATION, "p.yaml", (f) => f);
  return buildView([{ relative: "p.yaml", size: 1, mtimeMs: 1, registration: parsed.registration, errors: [] }], "TESTFAC");
}

function resonanceBatch(proposalId: string | undefined, samples: Partial<Sample>[]) {
  const beamtime: Beamtime = { key: "resonance:aaaa", source: "resonance", label: "2026-12-10", proposalId, researcher: { name: "Ada" }, extra: {} };
  const ss: Sample[] = samples.map((s, i) => ({ key: `resonance:aaaa#${i + 1}`, beamtimeKey: beamtime.key, name: `s${i}`, tags: [], extra: {}, ...s }));
  const runs: Run[] = ss.map((s, i) => ({
    uid: `run${i}`,
    source: "resonance",
    beamtimeKey: beamtime.key,
    sampleKey: s.key,
    planName: "scan",
    timeStart: 1,
    state: "complete",
    numEvents: 1,
    metadata: {},
    streams: [],
    sourceFolder: "/data",
    files: [],
    dataFormat: "zarr",
  }));
  return { snapshot: { beamtimes: [beamtime], samples: ss, runs, problems: [] }, watermarks: [{ source: "resonance" as const, path: "ada/bt.db", size: 1, mtimeMs: 1 }], unchanged: 0 };
}

describe("linking resonance runs to registered specimens", () => {
  it("links by serial or by a scanned label in the name, and leaves ordinary samples alone and unreported", () => {
    const out = linkBatch(resonanceBatch(undefined, [{ serial: "S-0001" }, { name: "bsr:TESTFAC/P-REG-1/s/S-0002" }, { name: "LaB6" }]), view(), config);
    expect(out.snapshot.runs.map((r) => [r.sampleKey, r.beamtimeKey])).toEqual([
      ["registration:P-REG-1/S-0001", "registration:P-REG-1"],
      ["registration:P-REG-1/S-0002", "registration:P-REG-1"],
      ["resonance:aaaa#3", "resonance:aaaa"],
    ]);
    // The DB's own samples that only linked runs measured are gone; the registered ones are there for the mapping.
    expect(out.snapshot.samples.map((s) => s.key).sort()).toEqual(["registration:P-REG-1/S-0001", "registration:P-REG-1/S-0002", "resonance:aaaa#3"]);
    expect(out.snapshot.beamtimes.map((b) => b.key).sort()).toEqual(["registration:P-REG-1", "resonance:aaaa"]);
    expect(out.snapshot.problems).toEqual([]);
  });

  it("does not link a specimen of another proposal, and reports it and an unknown one against the DB", () => {
    const out = linkBatch(resonanceBatch("P-OTHER", [{ serial: "S-0001" }]), view(), config);
    expect(out.snapshot.runs[0]!.sampleKey).toBe("resonance:aaaa#1");
    expect(out.snapshot.problems).toEqual([
      { source: "resonance", path: "ada/bt.db", reason: "run run0 names specimen S-0001 of proposal P-REG-1, but the run belongs to proposal P-OTHER: not linked" },
    ]);
    const unknown = linkBatch(resonanceBatch("P-REG-1", [{ serial: "S-0404" }]), view(), config);
    expect(unknown.snapshot.runs[0]).toMatchObject({ sampleKey: "resonance:aaaa#1", beamtimeKey: "registration:P-REG-1" });
    expect(unknown.snapshot.problems[0]!.reason).toBe("run run0 names specimen S-0404, which is not registered for proposal P-REG-1: kept with a sample of its own");
    // The DB stated the registered proposal: its beamtime gave way to the registration's, samples included.
    expect(unknown.snapshot.beamtimes.map((b) => b.key)).toEqual(["registration:P-REG-1"]);
    expect(unknown.snapshot.samples[0]!.beamtimeKey).toBe("registration:P-REG-1");
  });
});

describe("parsing registrations", () => {
  it("names the line and field of each mistake", () => {
    const text = REGISTRATION.replace("end: 2026-12-12T18:00:00Z", "end: 2026-02-30").replace("id: S-0002", "id: S-0001").replace("{ name: Ada Lovelace, email: ada@example.org }", "{ name: Ada Lovelace, email: not-an-email }");
    const parsed = parseRegistrationText(text, "p.yaml", (f) => f);
    expect(parsed.registration).toBeUndefined();
    expect(parsed.errors.map((e) => `${e.line} ${e.field}`)).toEqual(["6 proposal.pi.email", "9 proposal.end", "15 samples[1].id"]);
  });

  it("refuses an entry that is not a mapping, an unknown field, a taken slot and a second file of the same proposal", () => {
    const text = REGISTRATION.replace("  - { id: S-0001, name: NMC811 pristine, tray: T1, slot: A1 }", "  - just a name\n  - { id: S-0003, name: x, tray: T1, slot: A2, colour: red }");
    const parsed = parseRegistrationText(text, "p.yaml", (f) => f);
    expect(parsed.errors.map((e) => `${e.line} ${e.field}: ${e.message}`)).toEqual([
      "14 samples[0]: must be a mapping (id, name, tray, slot, metadata)",
      "15 samples[1].colour: unknown field; allowed are id, name, tray, slot, metadata",
      '16 samples[2].slot: slot "A2" of tray "T1" is already taken by another sample',
    ]);
    const good = parseRegistrationText(REGISTRATION, "a.yaml", (f) => f).registration;
    const files = ["a.yaml", "b.yaml"].map((relative) => ({ relative, size: 1, mtimeMs: 1, registration: good && { ...good, file: relative }, errors: [] as RegistrationError[] }));
    const both = buildView(files, "TESTFAC");
    expect(both.proposals.size).toBe(1);
    expect(files[1]!.registration).toBeUndefined();
    expect(files[1]!.errors[0]!.message).toBe('proposal "P-REG-1" is already registered by a.yaml; keep one file per proposal');
  });
});
