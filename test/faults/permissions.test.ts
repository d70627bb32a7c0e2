import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { writeDemoBlueskyRun } from "../../src/demo/bluesky-run.js";
import { BIN, runCli } from "../support/cli.js";
import { closedBeamtime as bt, worldPerTest } from "../support/scicat-setup.js";

/**
 * A file the service user may not read (a beamline account's umask, a copy made by another user). Tests run as
 * root, which reads every file, so beamsync runs here as root without its capabilities: file modes then apply to
 * it as to the unprivileged `beamsync` user systemd runs it as, wherever the checkout is.
 */
const UNPRIVILEGED = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"];

function canDropPrivileges(): boolean {
  return spawnSync(UNPRIVILEGED[0]!, [...UNPRIVILEGED.slice(1), process.execPath, BIN, "--version"], { stdio: "ignore" }).status === 0;
}

const worlds = worldPerTest();

describe.skipIf(!canDropPrivileges())("a source file the service user cannot read", () => {
  it("is reported with EACCES while the rest syncs, and is read once its mode is fixed (its mtime unchanged)", async () => {
    const w = await worlds.open({ beamtimes: [bt("readable"), bt("root-only")] }, { config: { sources: { bluesky: { enabled: true } } } });
    const docs = path.join(w.dataRoot, "docs");
    writeDemoBlueskyRun(docs);
    const doc = path.join(docs, "scan_42.jsonl");
    const hidden = w.written.beamtimes.find((b) => b.label === "root-only")!;
    // Two files nobody may read (the owner included, as the service is not their owner).
    fs.chmodSync(hidden.absDbPath, 0o000);
    fs.chmodSync(doc, 0o000);
    const mtimes = [fs.statSync(hidden.absDbPath).mtimeMs, fs.statSync(doc).mtimeMs];

    const first = await runCli(["sync", "--config", w.configFile], { prefix: UNPRIVILEGED });
    expect(first.code === 0 || first.code === 1, first.stderr).toBe(true);
    const pids = () => new Set(w.scicat.datasets().map((d) => String(d.pid)));
    for (const run of w.written.beamtimes.find((b) => b.label === "readable")!.runs) expect(pids().has(`test/${run.uid}`)).toBe(true);
    for (const run of hidden.runs) expect(pids().has(`test/${run.uid}`)).toBe(false);

    const status = JSON.parse((await runCli(["status", "--json", "--config", w.configFile], { prefix: UNPRIVILEGED })).stdout) as {
      sourceProblems: { path: string; problem: string; retry: boolean }[];
    };
    const problemFor = (p: string) => status.sourceProblems.find((s) => s.path === p);
    // The reason names the cause and the user, not SQLite's "unable to open database file".
    expect(problemFor(hidden.dbPath)?.problem).toMatch(/permission denied \(EACCES\): beamsync runs as \S+ \(uid \d+\)/);
    expect(problemFor(hidden.dbPath)?.retry).toBe(true);
    expect(problemFor("docs/scan_42.jsonl")?.problem).toMatch(/permission denied \(EACCES\)/);

    // An operator fixes the modes; chmod leaves the mtime alone, so only the retry flag brings the files back.
    fs.chmodSync(hidden.absDbPath, 0o644);
    fs.chmodSync(doc, 0o644);
    expect([fs.statSync(hidden.absDbPath).mtimeMs, fs.statSync(doc).mtimeMs]).toEqual(mtimes);
    const second = await runCli(["sync", "--config", w.configFile], { prefix: UNPRIVILEGED });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    for (const run of hidden.runs) expect(pids().has(`test/${run.uid}`)).toBe(true);
    expect(pids().has("test/5f1d0e46-7f32-4c3e-9d0c-2a6b8f1e9a01")).toBe(true);
    const after = JSON.parse((await runCli(["status", "--json", "--config", w.configFile], { prefix: UNPRIVILEGED })).stdout) as { sourceProblems: unknown[] };
    expect(after.sourceProblems).toEqual([]);
  });

  it("a configuration file it cannot read is exit 2 naming the user and the fix, not a bare EACCES", async () => {
    const w = await worlds.open({ beamtimes: [bt("config")] });
    fs.chmodSync(w.configFile, 0o000);
    const result = await runCli(["status", "--config", w.configFile], { prefix: UNPRIVILEGED });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/permission denied \(EACCES\) for \S+ \(uid \d+\); give that user read access/);
  });
});
