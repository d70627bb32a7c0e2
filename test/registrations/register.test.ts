import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { runCli } from "../support/cli.js";
import { worldPerTest, type ScicatWorld } from "../support/scicat-setup.js";
import { REGISTRATION } from "./fixtures.js";

/**
 * Issue 14: registrations dropped into the folder go through reconcile, outbox and upload_log like any source;
 * runs naming a registered specimen (by id or by its label's QR payload) link to it and take its proposal.
 */

const worlds = worldPerTest();


const OTHER = `proposal:
  id: P-REG-2
  pi: { name: Grace Hopper, email: grace@example.org }
samples:
  - { id: S-0900, name: other film }
`;

async function openWorld(): Promise<ScicatWorld> {
  const w = await worlds.open(
    { beamtimes: [] },
    {
      config: {
        sources: { bluesky: { enabled: true }, registrations: { enabled: true, facility: "TESTFAC" } },
        mapping: { ownerGroup: "p{proposalId}", accessGroups: ["{beamline}-staff"], instrument: "bl-1" },
      },
    },
  );
  fs.mkdirSync(path.join(w.dataRoot, "registrations"));
  return w;
}

function register(w: ScicatWorld, name: string, text: string): void {
  fs.writeFileSync(path.join(w.dataRoot, "registrations", name), text);
}

function blueskyRun(w: ScicatWorld, name: string, uid: string, start: Record<string, unknown>): void {
  writeRunFile(path.join(w.dataRoot, "bluesky", `${name}.jsonl`), runDocuments({ uid, extraStart: { beamline_id: "bl-1", ...start } }), "jsonl-pairs");
}

async function sync(w: ScicatWorld): Promise<void> {
  const r = await runCli(["sync", "--config", w.configFile]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

function datasetOf(w: ScicatWorld, uid: string) {
  return w.scicat.datasets().find((d) => String(d.pid).endsWith(uid));
}

describe("registrations", () => {
  it("creates exactly the registered records, writes nothing the second time, and updates on an edit", async () => {
    const w = await openWorld();
    register(w, "p-reg-1.yaml", REGISTRATION);
    await sync(w);

    expect(w.scicat.proposals()).toHaveLength(1);
    expect(w.scicat.proposals()[0]).toMatchObject({
      proposalId: "P-REG-1",
      title: "Cathodes in operando",
      abstract: "NMC cathodes cycled in situ",
      pi_firstname: "Ada",
      pi_lastname: "Lovelace",
      pi_email: "ada@example.org",
      ownerGroup: "pP-REG-1",
      accessGroups: ["bl-1-staff"],
    });
    const metadata = w.scicat.proposals()[0]!.metadata as { registration: { trays: unknown } };
    const trays = metadata.registration.trays;
    expect(trays).toEqual([{ id: "T1", label: "Front tray", qrLabel: "bsr:TESTFAC/P-REG-1/t/T1", specimens: ["S-0001", "S-0002"] }]);
    const samples = w.scicat.samples().sort((a, b) => String(a.sampleId).localeCompare(String(b.sampleId)));
    expect(samples.map((s) => s.sampleId)).toEqual(["registration_P-REG-1_S-0001", "registration_P-REG-1_S-0002"]);
    expect(samples[1]).toMatchObject({ proposalId: "P-REG-1", ownerGroup: "pP-REG-1", accessGroups: ["bl-1-staff"], description: "NMC811 cycled", owner: "Ada Lovelace" });
    expect(samples[1]!.sampleCharacteristics).toMatchObject({
      name: "NMC811 cycled",
      specimenId: "S-0002",
      tray: "T1",
      trayLabel: "Front tray",
      slot: "A2",
      qrLabel: "bsr:TESTFAC/P-REG-1/s/S-0002",
      metadata: { cycles: 100 },
    });
    expect(w.uploadLog().filter((r) => r.success === 1).map((r) => r.session_identifier).sort()).toEqual([
      "registration:P-REG-1",
      "registration:P-REG-1/S-0001",
      "registration:P-REG-1/S-0002",
    ]);

    // A second pass writes nothing.
    const writes = w.scicat.writeCount();
    await sync(w);
    expect(w.scicat.writeCount()).toBe(writes);

    // An edit updates; a specimen that left the file is reported, not deleted.
    register(w, "p-reg-1.yaml", REGISTRATION.replace("Cathodes in operando", "Cathodes, in operando").replace(/ {2}- \{ id: S-0001.*\n/, ""));
    await sync(w);
    expect(w.scicat.proposals()[0]!.title).toBe("Cathodes, in operando");
    expect(w.scicat.samples()).toHaveLength(2);
    const status = await runCli(["status", "--json", "--config", w.configFile]);
    expect(status.stdout + status.stderr).toMatch(/S-0001 left proposal P-REG-1's registration/);
  });

  it("refuses a bad file with its file, line and field, pushes nothing of it, and goes on with the others", async () => {
    const w = await openWorld();
    register(w, "bad.yaml", REGISTRATION.replace("email: ada@example.org", "phone: 123").replace("tray: T1, slot: A2", "tray: T9, slot: A2"));
    register(w, "good.yaml", OTHER);
    await sync(w);
    expect(w.scicat.proposals().map((p) => p.proposalId)).toEqual(["P-REG-2"]);
    expect(w.scicat.samples().map((s) => s.sampleId)).toEqual(["registration_P-REG-2_S-0900"]);
    const status = await runCli(["status", "--json", "--config", w.configFile]);
    expect(status.stdout).toMatch(/bad\.yaml:6: proposal\.pi\.phone: unknown field/);
    expect(status.stdout).toMatch(/bad\.yaml:6: proposal\.pi\.email: missing/);
    expect(status.stdout).toMatch(/bad\.yaml:15: samples\[1\]\.tray: tray \\"T9\\" is not registered/);
    const doctor = JSON.parse((await runCli(["doctor", "--json", "--config", w.configFile])).stdout) as { checks: { name: string; severity: string; message: string }[] };
    expect(doctor.checks.find((c) => c.name === "registrations folder")).toMatchObject({ severity: "ok", message: expect.stringContaining("1 proposal(s) registered (P-REG-2)") as unknown });
    expect(doctor.checks.find((c) => c.name === "registration files")).toMatchObject({ severity: "warning", message: expect.stringContaining("bad.yaml:6: proposal.pi.phone") as unknown });
  });

  it("links runs naming a registered specimen or its QR label, and reports another proposal's or an unknown one", async () => {
    const w = await openWorld();
    // The run written before its registration: linked once the registration arrives.
    blueskyRun(w, "early", "e0000000-0000-4000-8000-000000000001", { proposal_id: "P-REG-1", specimen_id: "S-0001", sample_name: "whatever" });
    await sync(w);
    expect(datasetOf(w, "e0000000-0000-4000-8000-000000000001")!.sampleIds).not.toContain("registration_P-REG-1_S-0001");

    register(w, "p-reg-1.yaml", REGISTRATION);
    register(w, "p-reg-2.yaml", OTHER);
    blueskyRun(w, "qr", "e0000000-0000-4000-8000-000000000002", { proposal_id: undefined, qr_code: "bsr:TESTFAC/P-REG-1/s/S-0002" });
    blueskyRun(w, "other", "e0000000-0000-4000-8000-000000000003", { proposal_id: "P-REG-1", specimen_id: "S-0900", sample_name: "borrowed" });
    blueskyRun(w, "unknown", "e0000000-0000-4000-8000-000000000004", { proposal_id: "P-REG-1", specimen_id: "S-7777", sample_name: "surprise" });
    await sync(w);

    const early = datasetOf(w, "e0000000-0000-4000-8000-000000000001")!;
    expect(early).toMatchObject({ proposalIds: ["P-REG-1"], sampleIds: ["registration_P-REG-1_S-0001"], ownerGroup: "pP-REG-1", accessGroups: ["bl-1-staff"] });
    const qr = datasetOf(w, "e0000000-0000-4000-8000-000000000002")!;
    expect(qr).toMatchObject({ proposalIds: ["P-REG-1"], sampleIds: ["registration_P-REG-1_S-0002"], ownerGroup: "pP-REG-1" });
    const other = datasetOf(w, "e0000000-0000-4000-8000-000000000003")!;
    expect(other.proposalIds).toEqual(["P-REG-1"]);
    expect(other.sampleIds).not.toContain("registration_P-REG-2_S-0900");
    const unknown = datasetOf(w, "e0000000-0000-4000-8000-000000000004")!;
    expect(unknown.proposalIds).toEqual(["P-REG-1"]);
    expect((unknown.sampleIds as string[])[0]).toMatch(/^bluesky_P-REG-1_/);
    // One proposal record, the registered one: the runs' own beamtime gave way to it.
    expect(w.scicat.proposals().map((p) => p.proposalId).sort()).toEqual(["P-REG-1", "P-REG-2"]);
    expect(w.scicat.proposals().find((p) => p.proposalId === "P-REG-1")!.title).toBe("Cathodes in operando");

    const status = await runCli(["status", "--json", "--config", w.configFile]);
    expect(status.stdout).toMatch(/names specimen S-0900 of proposal P-REG-2, but the run belongs to proposal P-REG-1: not linked/);
    expect(status.stdout).toMatch(/names specimen S-7777, which is not registered for proposal P-REG-1/);

    // Nothing changes on a second pass.
    const writes = w.scicat.writeCount();
    await sync(w);
    expect(w.scicat.writeCount()).toBe(writes);
  });

  it("makes the registered groups readers of every record of the proposal, shares its datasets with its members, and never another proposal's", async () => {
    const w = await openWorld();
    const file = REGISTRATION.replace("members: [grace@example.org]", "members: [grace@example.org, jdoe]\n  groups: [battery-lab, pP-REG-1]");
    register(w, "p-reg-1.yaml", file);
    register(w, "p-reg-2.yaml", OTHER);
    blueskyRun(w, "mine", "e0000000-0000-4000-8000-000000000011", { proposal_id: "P-REG-1", specimen_id: "S-0002" });
    blueskyRun(w, "theirs", "e0000000-0000-4000-8000-000000000012", { proposal_id: "P-REG-2", specimen_id: "S-0900" });
    // A run of the registered proposal that names no specimen: still the proposal's record, with its groups.
    blueskyRun(w, "plain", "e0000000-0000-4000-8000-000000000013", { proposal_id: "P-REG-1", sample_name: "offcut" });
    await sync(w);

    // The owner group named again is no extra reader; the configured readers stay first.
    const readers = ["bl-1-staff", "battery-lab"];
    const proposal = (id: string) => w.scicat.proposals().find((p) => p.proposalId === id)!;
    expect(proposal("P-REG-1")).toMatchObject({ ownerGroup: "pP-REG-1", accessGroups: readers });
    const samples = (id: string) => w.scicat.samples().filter((s) => s.proposalId === id);
    expect(samples("P-REG-1").length).toBeGreaterThanOrEqual(2);
    for (const sample of samples("P-REG-1")) expect(sample, String(sample.sampleId)).toMatchObject({ ownerGroup: "pP-REG-1", accessGroups: readers });
    for (const uid of ["e0000000-0000-4000-8000-000000000011", "e0000000-0000-4000-8000-000000000013"]) {
      const dataset = datasetOf(w, uid)!;
      // SciCat shares a dataset with people by e-mail: the member named by a user name has no place there.
      expect(dataset, uid).toMatchObject({ proposalIds: ["P-REG-1"], ownerGroup: "pP-REG-1", accessGroups: readers, sharedWith: ["grace@example.org"] });
      for (const block of w.scicat.origdatablocks(String(dataset.pid))) expect(block.accessGroups).toEqual(readers);
    }

    // Nothing of P-REG-1's registration reaches P-REG-2's records.
    const theirs = datasetOf(w, "e0000000-0000-4000-8000-000000000012")!;
    const others = [proposal("P-REG-2"), ...samples("P-REG-2"), theirs, ...w.scicat.origdatablocks(String(theirs.pid))];
    expect(others.length).toBeGreaterThanOrEqual(3);
    for (const record of others) {
      expect(record.accessGroups).toEqual(["bl-1-staff"]);
      expect(record.sharedWith ?? []).toEqual([]);
    }

    // A group and a member taken out of the file are taken off the records at the next pass.
    register(w, "p-reg-1.yaml", REGISTRATION);
    await sync(w);
    expect(proposal("P-REG-1").accessGroups).toEqual(["bl-1-staff"]);
    for (const sample of samples("P-REG-1")) expect(sample.accessGroups).toEqual(["bl-1-staff"]);
    expect(datasetOf(w, "e0000000-0000-4000-8000-000000000011")).toMatchObject({ accessGroups: ["bl-1-staff"], sharedWith: ["grace@example.org"] });
    register(w, "p-reg-1.yaml", REGISTRATION.replace("  members: [grace@example.org]\n", ""));
    await sync(w);
    expect(datasetOf(w, "e0000000-0000-4000-8000-000000000011")!.sharedWith).toEqual([]);
  });

  it("beamsync register FILE checks one file and pushes it at once; --dry-run pushes nothing; a bad file names its mistakes", async () => {
    const w = await openWorld();
    const file = path.join(w.dataRoot, "registrations", "p-reg-1.yaml");
    fs.writeFileSync(path.join(w.dataRoot, "registrations", "samples.csv"), "id,name,tray,slot,thickness_mm\nS-0001,NMC811 pristine,T1,A1,0.1\nS-0002,NMC811 cycled,T1,A2,0.2\n");
    fs.writeFileSync(file, REGISTRATION.replace(/samples:\n[\s\S]*$/, "samples: samples.csv\n"));

    const dry = await runCli(["register", file, "--dry-run", "--json", "--config", w.configFile]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ proposal: "P-REG-1", trays: 1, specimens: 2, unchanged: 0 });
    expect((JSON.parse(dry.stdout) as { changes: unknown[] }).changes).toHaveLength(3);
    expect(w.scicat.writeCount()).toBe(0);

    const pushed = await runCli(["register", file, "--config", w.configFile]);
    expect(pushed.code, pushed.stdout + pushed.stderr).toBe(0);
    expect(w.scicat.samples().map((s) => s.sampleId).sort()).toEqual(["registration_P-REG-1_S-0001", "registration_P-REG-1_S-0002"]);
    expect(w.scicat.samples().find((s) => s.sampleId === "registration_P-REG-1_S-0001")!.sampleCharacteristics).toMatchObject({ slot: "A1", metadata: { thickness_mm: "0.1" } });
    // The daemon's pass after it has nothing left to write.
    const writes = w.scicat.writeCount();
    await sync(w);
    expect(w.scicat.writeCount()).toBe(writes);

    // A bad sample list: the CSV's own line and field are named; nothing of the file is pushed.
    fs.writeFileSync(path.join(w.dataRoot, "registrations", "samples.csv"), "id,name,tray,slot\nS-0001,NMC811 pristine,T1,A1\nS-0001,again,T1,A3\nS-0003,dated,T2,A4\n");
    const bad = await runCli(["register", file, "--config", w.configFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('samples.csv:3: id: specimen "S-0001" is registered twice');
    expect(bad.stderr).toContain('samples.csv:4: tray: tray "T2" is not registered');
    fs.writeFileSync(file, REGISTRATION.replace("start: 2026-12-10", "start: 2026-13-10"));
    const badDate = await runCli(["register", file, "--config", w.configFile]);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('p-reg-1.yaml:8: proposal.start: "2026-13-10" is not a date');
    expect(w.scicat.writeCount()).toBe(writes);
  });
});
