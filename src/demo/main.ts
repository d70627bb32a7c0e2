import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { startScicatFake, type ScicatFake } from "../../test/fakes/scicat/index.js";
import { createDataRoot } from "../../test/fixtures/resonance/index.js";
import { writeDemoBlueskyRun } from "./bluesky-run.js";
import { writeDemoRegistration } from "./registration.js";

/**
 * `npm run demo`: everything beamsync does, on this machine alone. Writes a small DATA root (two resonance
 * beamtimes and one bluesky document file) into a temporary directory, starts the in-repo SciCat emulator on
 * 127.0.0.1, registers proposal DEMO-003 with a tray and two specimens and writes its QR label sheet, then
 * writes DEMO-003's runs (one naming a specimen id, one a scanned label), runs the real `beamsync sync` and
 * `beamsync status` against them, and prints what the catalog now holds, runs linked to the registered samples.
 * `--keep` leaves the directory (and prints its path) so you can look around or run more commands; the label
 * sheet is kept in any case.
 */

const REPO_ROOT = path.resolve(import.meta.dirname, "../../..");
const BIN = path.join(REPO_ROOT, "bin", "beamsync.js");
const PASSWORD = "demo-password";

async function main(): Promise<number> {
  const keep = process.argv.includes("--keep");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-demo-"));
  const dataRoot = path.join(work, "DATA");
  const stateDir = path.join(work, "state");
  fs.mkdirSync(dataRoot);

  say(`1. Writing a sample DATA root in ${dataRoot}`);
  createDataRoot(dataRoot, {
    beamtimes: [
      {
        label: "2026-03-05",
        researcher: "Ada Lovelace",
        extra: { proposal_id: "DEMO-001" },
        samples: [{ name: "silicon wafer", formula: "Si", tags: ["reference"] }, { name: "graphene flake", formula: "C" }],
        runs: [{ state: "closed", frames: 2 }, { state: "closed" }, { state: "aborted" }, { state: "open" }],
      },
      { label: "2026-03-12", researcher: "Grace Hopper", samples: [{ name: "PbTiO3 film" }], runs: [{ state: "closed", frames: 1 }, { state: "failed" }] },
    ],
  });
  writeDemoBlueskyRun(path.join(dataRoot, "bluesky"));
  const registrationFile = writeDemoRegistration(path.join(dataRoot, "registrations"));

  const scicat: ScicatFake = await startScicatFake({ users: { ingestor: { password: PASSWORD, groups: ["ingestor"], admin: true } } });
  say(`2. SciCat emulator listening on ${scicat.url}`);
  const configFile = path.join(work, "beamsync.yaml");
  fs.writeFileSync(
    configFile,
    YAML.stringify({
      dataRoot,
      stateDir,
      sources: { registrations: { enabled: true, facility: "DEMO" } },
      destinations: { scicat: { url: scicat.url, username: "ingestor", password: PASSWORD, pidPrefix: "demo/" } },
      mapping: { ownerGroup: "demo-group", accessGroups: ["beamline-staff"], instrument: "demo-beamline" },
      previews: { enabled: true },
      log: { level: "warn" },
    }),
  );

  try {
    say(`3. Before the beamtime: beamsync register ${path.relative(work, registrationFile)} (proposal DEMO-003, tray TRAY-A, specimens PV-01 and PV-02)`);
    const registered = await run(["register", registrationFile, "--config", configFile]);
    if (registered !== 0) return registered;
    const labelsDir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-demo-labels-"));
    const sheet = path.join(labelsDir, "DEMO-003-labels.pdf");
    await run(["labels", "--proposal", "DEMO-003", "--out", sheet, "--config", configFile]);
    say(`   The label sheet to print and stick on the tray and the specimens: ${sheet}`);
    say("   During the beamtime: a run names specimen PV-01; another carries PV-02's scanned label");
    writeDemoBlueskyRun(path.join(dataRoot, "bluesky"), { scanId: 43, start: { proposal_id: "DEMO-003", specimen_id: "PV-01", owner: "Dorothy Hodgkin" } });
    writeDemoBlueskyRun(path.join(dataRoot, "bluesky"), { scanId: 44, start: { qr_code: "bsr:DEMO/DEMO-003/s/PV-02", owner: "Dorothy Hodgkin" } });
    say("4. beamsync sync");
    const sync = await run(["sync", "--config", configFile]);
    say(`   exit status ${sync}`);
    say("5. beamsync sync (again: nothing changed, so nothing is sent)");
    scicat.resetRequests();
    await run(["sync", "--config", configFile]);
    say(`   write requests on the second sync: ${scicat.writeCount()}`);
    say("6. beamsync status");
    await run(["status", "--config", configFile]);
    say("7. What the catalog holds now");
    printCatalog(scicat);
    savePreviews(scicat);
    if (keep) say(`\nKept ${work}; try: node ${path.relative(process.cwd(), BIN)} log --config ${configFile}`);
    return sync;
  } finally {
    await scicat.close();
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
  }
}

function printCatalog(scicat: ScicatFake): void {
  const rows: string[][] = [["kind", "id", "name / details"]];
  for (const p of scicat.proposals()) rows.push(["Proposal", String(p.proposalId), String(p.title)]);
  for (const i of scicat.instruments()) rows.push(["Instrument", String(i.uniqueName), String(i.name)]);
  for (const s of scicat.samples()) rows.push(["Sample", String(s.sampleId), String(s.description)]);
  for (const d of scicat.datasets()) {
    const status = (d.scientificMetadata as { run?: { exit_status?: string } } | undefined)?.run?.exit_status ?? "";
    const links = `proposal ${String((d.proposalIds as string[] | undefined)?.[0] ?? "-")}, sample ${String((d.sampleIds as string[] | undefined)?.[0] ?? "-")}`;
    rows.push(["Dataset", String(d.pid), `${String(d.datasetName)} [${status}], ${String(d.numberOfFiles ?? 0)} files; ${links}`]);
  }
  rows.push(["OrigDatablock", String(scicat.origdatablocks().length), "blocks in total"]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const r of rows) say(`   ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join("  ")}`);
}

/** The previews the catalog holds, as PNG files to open (they outlive the demo's directory). */
function savePreviews(scicat: ScicatFake): void {
  const attachments = scicat.attachments();
  if (attachments.length === 0) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-demo-previews-"));
  for (const a of attachments) {
    const [, base64] = String(a.thumbnail).split(",");
    const dataset = String((a.relationships as { targetId: string }[] | undefined)?.[0]?.targetId ?? a.aid);
    fs.writeFileSync(path.join(dir, `${dataset.replace(/[^\w.-]+/g, "_")}.png`), Buffer.from(base64 ?? "", "base64"));
  }
  say(`7. Previews: ${attachments.length} Attachments (GET ${scicat.url}/v4/attachments/<aid>, thumbnail = PNG data URI);`);
  say(`   saved as PNG files in ${dir}`);
}

function run(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
