import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { describe, expect, it } from "vitest";
import type { Doc } from "../fakes/scicat/store.js";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import type { BeamtimeSpec } from "../fixtures/resonance/index.js";
import { usersWith, visibleTo } from "../support/access.js";
import { runCli } from "../support/cli.js";
import { worldPerTest, type ScicatWorld } from "../support/scicat-setup.js";

/**
 * Issue 13, tried as an attacker would: two proposals, each with its own group, the same sample names in both,
 * a bluesky run of one proposal claiming the other's sample id, then one beamtime moved into an archive and
 * renamed while the index still names the old place, and the other's researcher directory renamed. Every record
 * carries only its proposal's groups, and neither proposal's users ever see a record of the other.
 */

const worlds = worldPerTest();

const GROUPS = { ownerGroup: "p{proposalId}", accessGroups: ["{proposalSlug}-readers"] };
const PROPOSAL_GROUPS: Record<string, { ownerGroup: string; accessGroups: string[] }> = {
  "P-A": { ownerGroup: "pP-A", accessGroups: ["p-a-readers"] },
  "P-B": { ownerGroup: "pP-B", accessGroups: ["p-b-readers"] },
};

function beamtime(label: string, researcher: string, proposal: string): BeamtimeSpec {
  return {
    label,
    researcher,
    extra: { proposal_id: proposal },
    samples: [{ name: "LaB6" }, { name: "film" }],
    runs: [
      { state: "closed", sample: 0, frames: 1 },
      { state: "closed", sample: 1 },
    ],
  };
}

async function openWorld(config: Record<string, unknown> = {}): Promise<ScicatWorld> {
  return worlds.open(
    { beamtimes: [beamtime("2026-03-05", "Ada Lovelace", "P-A"), beamtime("2026-03-06", "Grace Hopper", "P-B")] },
    {
      fake: { users: usersWith({ alice: ["pP-A"], bob: ["pP-B"], reader: ["p-b-readers"] }) },
      config: { sources: { bluesky: { enabled: true } }, mapping: { ...GROUPS, instrument: "bl-1", ...config } },
    },
  );
}

/** A bluesky run file under the DATA root, for proposal `proposal`. */
function blueskyRun(w: ScicatWorld, name: string, uid: string, start: Record<string, unknown>): void {
  writeRunFile(path.join(w.dataRoot, "bluesky", `${name}.jsonl`), runDocuments({ uid, extraStart: { beamline_id: "bl-1", ...start } }), "jsonl-pairs");
}

function proposalOf(w: ScicatWorld, kind: "sample" | "dataset" | "origdatablock", doc: Doc): string | undefined {
  if (kind === "sample") return doc.proposalId as string | undefined;
  if (kind === "dataset") return (doc.proposalIds as string[] | undefined)?.[0];
  return proposalOf(w, "dataset", w.scicat.datasets().find((d) => d.pid === doc.datasetId)!);
}

/** Every record that belongs to a proposal carries exactly that proposal's groups. */
function expectOwnGroups(w: ScicatWorld): void {
  for (const p of w.scicat.proposals()) expect({ id: p.proposalId, ownerGroup: p.ownerGroup, accessGroups: p.accessGroups }).toEqual({ id: p.proposalId, ...PROPOSAL_GROUPS[String(p.proposalId)] });
  const kinds = [
    ["sample", w.scicat.samples()],
    ["dataset", w.scicat.datasets()],
    ["origdatablock", w.scicat.origdatablocks()],
  ] as const;
  for (const [kind, docs] of kinds) {
    for (const doc of docs) {
      const proposal = proposalOf(w, kind, doc);
      expect(proposal, `${kind} ${JSON.stringify(doc).slice(0, 200)}`).toBeDefined();
      expect({ kind, proposal, ownerGroup: doc.ownerGroup, accessGroups: doc.accessGroups }).toEqual({ kind, proposal, ...PROPOSAL_GROUPS[proposal!] });
    }
  }
}

async function expectSeesOnly(w: ScicatWorld, user: string, proposal: string): Promise<void> {
  const seen = await visibleTo(w.scicat, user);
  expect(seen.proposals.map((p) => p.proposalId)).toEqual([proposal]);
  expect(seen.samples.length).toBeGreaterThan(0);
  for (const s of seen.samples) expect(s.proposalId).toBe(proposal);
  expect(seen.datasets.length).toBeGreaterThan(0);
  for (const d of seen.datasets) expect(d.proposalIds).toEqual([proposal]);
  const own = new Set(seen.datasets.map((d) => d.pid));
  for (const b of seen.origdatablocks) expect(own.has(b.datasetId)).toBe(true);
  // What the user cannot list, they cannot read by id either.
  for (const other of w.scicat.samples().filter((s) => s.proposalId !== proposal)) {
    expect(await seen.status(`/v3/samples/${encodeURIComponent(String(other.sampleId))}`)).toBe(403);
  }
  for (const other of w.scicat.proposals().filter((p) => p.proposalId !== proposal)) {
    expect(await seen.status(`/v3/proposals/${encodeURIComponent(String(other.proposalId))}`)).toBe(403);
  }
}

describe("records belong to the right proposal", () => {
  it("gives each proposal's records only its groups, however samples are named or claimed", async () => {
    const w = await openWorld();
    const sync = await runCli(["sync", "--config", w.configFile]);
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    const aSample = w.scicat.samples().find((s) => s.proposalId === "P-A" && s.description === "LaB6")!;

    // Proposal B's bluesky runs: one claims A's sample id outright, one names a sample like A's calibrant.
    blueskyRun(w, "claim", "b0000000-0000-4000-8000-000000000001", { proposal_id: "P-B", sample_id: aSample.sampleId, sample_name: "stolen" });
    blueskyRun(w, "same-name", "b0000000-0000-4000-8000-000000000002", { proposal_id: "P-B", sample_name: "LaB6" });
    blueskyRun(w, "a-run", "a0000000-0000-4000-8000-000000000003", { proposal_id: "P-A", sample_name: "LaB6" });
    const again = await runCli(["sync", "--config", w.configFile]);
    expect(again.code, again.stdout + again.stderr).toBe(0);

    // Same names everywhere, yet no sample is shared: A has its two and its bluesky LaB6, B its two and both claims.
    expect(w.scicat.samples().filter((s) => s.proposalId === "P-A")).toHaveLength(3);
    expect(w.scicat.samples().filter((s) => s.proposalId === "P-B")).toHaveLength(4);
    const aAfter = w.scicat.samples().find((s) => s.sampleId === aSample.sampleId)!;
    expect(aAfter).toMatchObject({ proposalId: "P-A", ownerGroup: "pP-A", description: "LaB6" });
    const claim = w.scicat.datasets().find((d) => String(d.pid).endsWith("b0000000-0000-4000-8000-000000000001"))!;
    expect(claim.proposalIds).toEqual(["P-B"]);
    expect(claim.sampleIds).not.toContain(aSample.sampleId);
    // A's datasets still point at A's samples only.
    const aSampleIds = new Set(w.scicat.samples().filter((s) => s.proposalId === "P-A").map((s) => s.sampleId));
    for (const d of w.scicat.datasets().filter((x) => (x.proposalIds as string[])[0] === "P-A")) for (const id of d.sampleIds as string[]) expect(aSampleIds.has(id)).toBe(true);
    // The bluesky owner is a login id: the dataset shows it whole and nobody splits it into a name.
    expect(claim.owner).toBe("ada");

    expectOwnGroups(w);
    await expectSeesOnly(w, "alice", "P-A");
    await expectSeesOnly(w, "bob", "P-B");
    await expectSeesOnly(w, "reader", "P-B");
  });

  it("moving or renaming a beamtime DB or its researcher directory creates nothing and relinks nothing", async () => {
    const w = await openWorld();
    const [a, b] = w.written.beamtimes;
    expect((await runCli(["sync", "--config", w.configFile])).code).toBe(0);
    const before = {
      proposals: w.scicat.proposals().map((p) => p.proposalId).sort(),
      samples: w.scicat.samples().map((s) => `${String(s.sampleId)} ${String(s.proposalId)}`).sort(),
      links: w.scicat.datasets().map((d) => `${String(d.pid)} ${JSON.stringify(d.proposalIds)} ${JSON.stringify(d.sampleIds)}`).sort(),
    };

    // A: moved into the archive and renamed, the index not told (it still lists the old path).
    const archive = path.join(w.dataRoot, "archive", "2026");
    fs.mkdirSync(archive, { recursive: true });
    fs.renameSync(a!.absDbPath, path.join(archive, "old-stuff.db"));
    fs.renameSync(a!.zarrPath, path.join(archive, "old-stuff.zarr"));
    // B: its researcher directory renamed, and the index updated to match.
    const bDir = path.dirname(b!.absDbPath);
    fs.renameSync(bDir, path.join(w.dataRoot, "gh-2026"));
    const index = new Database(w.written.indexPath!);
    index.prepare("UPDATE beamtimes SET db_path = ? WHERE db_path = ?").run(`gh-2026/${path.basename(b!.absDbPath)}`, b!.dbPath);
    index.close();

    w.scicat.resetRequests();
    const result = await runCli(["sync", "--json", "--config", w.configFile]);
    const summary = JSON.parse(result.stdout) as { reconcile: { created: number } };
    expect(summary.reconcile.created).toBe(0);
    // No proposal, sample, dataset or instrument is created. (The renamed DB is a new file name in its datasets'
    // file lists: the adapter adds it as a block of the same dataset, which is an update of that record.)
    expect(w.scicat.requests.filter((r) => r.method === "POST" && r.status < 300 && !/auth|origdatablocks/.test(r.path))).toEqual([]);
    expect({
      proposals: w.scicat.proposals().map((p) => p.proposalId).sort(),
      samples: w.scicat.samples().map((s) => `${String(s.sampleId)} ${String(s.proposalId)}`).sort(),
      links: w.scicat.datasets().map((d) => `${String(d.pid)} ${JSON.stringify(d.proposalIds)} ${JSON.stringify(d.sampleIds)}`).sort(),
    }).toEqual(before);
    // The owner is still the researcher of the index, not a directory ("archive", "gh-2026").
    for (const d of w.scicat.datasets()) expect(["Ada Lovelace", "Grace Hopper"]).toContain(d.owner);
    // The moved datasets now say where their files are.
    expect(w.scicat.datasets().filter((d) => String(d.sourceFolder).includes(path.join("archive", "2026")))).toHaveLength(2);
    expectOwnGroups(w);

    // An operator still names a beamtime by where its DB is now: proposal, 2 samples, 2 datasets, and the file
    // list of the run with frames (a run of scalars alone has none).
    const resync = await runCli(["resync", "--beamtime", "archive/2026/old-stuff.db", "--json", "--config", w.configFile]);
    expect(resync.code, resync.stderr).toBe(0);
    expect((JSON.parse(resync.stdout) as { result: { forced: number; updated: number } }).result).toMatchObject({ forced: 6 });
  });

  it("lists the group changes per record in a dry run after a template change", async () => {
    const w = await openWorld({ ownerGroup: "beamline-staff", accessGroups: ["beamline-readers"] });
    expect((await runCli(["sync", "--config", w.configFile])).code).toBe(0);
    const config = fs.readFileSync(w.configFile, "utf8").replace("ownerGroup: beamline-staff", 'ownerGroup: "p{proposalId}"').replace("- beamline-readers", '- "{proposalSlug}-readers"');
    fs.writeFileSync(w.configFile, config);
    const dry = await runCli(["sync", "--dry-run", "--config", w.configFile]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("group changes");
    expect(dry.stdout).toMatch(/scicat proposal P-A: ownerGroup beamline-staff → pP-A/);
    expect(dry.stdout).toMatch(/scicat sample resonance_\w+_\d+: ownerGroup beamline-staff → pP-B/);
    expect(dry.stdout).toMatch(/scicat dataset test\/\w+: ownerGroup beamline-staff → pP-A/);
    const json = JSON.parse((await runCli(["sync", "--dry-run", "--json", "--config", w.configFile])).stdout) as { changes: { kind: string; fields?: { field: string }[] }[] };
    const changed = json.changes.filter((c) => c.fields?.some((f) => f.field === "ownerGroup"));
    // 2 proposals, 4 samples, 4 datasets.
    expect(changed.map((c) => c.kind).sort()).toEqual(["dataset", "dataset", "dataset", "dataset", "proposal", "proposal", "sample", "sample", "sample", "sample"]);

    // Pushed (resync until the configuration fingerprint re-reads unchanged files on its own): every record,
    // file lists included, now carries its proposal's groups.
    const resync = await runCli(["resync", "--all", "--config", w.configFile]);
    expect(resync.code, resync.stdout + resync.stderr).toBe(0);
    expectOwnGroups(w);
    await expectSeesOnly(w, "alice", "P-A");
  });

  it("refuses a template that gives an empty group, and a group map that names a proposal twice, naming the entry", async () => {
    const w = await openWorld({ accessGroups: ["{proposalSlug}-readers", "{nosuch}"] });
    const unknown = await runCli(["sync", "--config", w.configFile]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/mapping\.accessGroups\[1\]: unknown placeholder\(s\) \{nosuch\}/);

    const file = fs.readFileSync(w.configFile, "utf8");
    fs.writeFileSync(w.configFile, file.replace("- \"{nosuch}\"", "- \"  \"").replace("- '{nosuch}'", "- '  '"));
    const empty = await runCli(["sync", "--config", w.configFile]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/mapping\.accessGroups\[1\]: the template ".*" gives an empty group/);

    fs.writeFileSync(path.join(w.dir, "groups.csv"), "proposal,ownerGroup,accessGroups,piName,piEmail\nP-A,a-owners,a-readers,Ada Lovelace,ada@example.org\nP-A,b-owners,,,\n");
    fs.writeFileSync(w.configFile, file.replace(/accessGroups:[\s\S]*?instrument:/, 'accessGroups: []\n  groupMapFile: groups.csv\n  instrument:'));
    const twice = await runCli(["sync", "--config", w.configFile]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/mapping\.groupMapFile: .*groups\.csv names proposal "P-A" twice \(line 2 and line 3\)/);
  });

  it("takes each proposal's groups and PI from the group map, and shares declared reference samples on purpose", async () => {
    const w = await openWorld({ referenceSamples: ["LaB6"] });
    fs.writeFileSync(
      path.join(w.dir, "groups.yaml"),
      ["P-A:", "  ownerGroup: pP-A", "  accessGroups: [p-a-readers]", "  piName: Augusta Ada King", "  piEmail: ada@example.org", ""].join("\n"),
    );
    const file = fs.readFileSync(w.configFile, "utf8");
    fs.writeFileSync(w.configFile, file.replace("mapping:\n", "mapping:\n  groupMapFile: groups.yaml\n"));
    const sync = await runCli(["sync", "--config", w.configFile]);
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    const proposalA = w.scicat.proposals().find((p) => p.proposalId === "P-A")!;
    expect(proposalA).toMatchObject({ pi_firstname: "Augusta Ada", pi_lastname: "King", pi_email: "ada@example.org", ownerGroup: "pP-A" });
    // One LaB6 for everyone, published and owned by the facility; each proposal keeps its own "film".
    const lab6 = w.scicat.samples().filter((s) => s.description === "LaB6");
    expect(lab6).toHaveLength(1);
    expect(lab6[0]).toMatchObject({ sampleId: "reference_LaB6", ownerGroup: "beamline-staff", isPublished: true });
    expect(lab6[0]!.proposalId).toBeUndefined();
    expect(w.scicat.samples().filter((s) => s.description === "film").map((s) => s.proposalId).sort()).toEqual(["P-A", "P-B"]);
    const bob = await visibleTo(w.scicat, "bob");
    expect(bob.samples.map((s) => s.description).sort()).toEqual(["LaB6", "film"]);
    expect(bob.samples.find((s) => s.description === "film")!.proposalId).toBe("P-B");
  });
});
