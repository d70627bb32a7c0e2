import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { describe, expect, it } from "vitest";
import { writeDemoBlueskyRun } from "../../src/demo/bluesky-run.js";
import { holdWriterLock, killWriterMidRun } from "../fixtures/resonance/index.js";
import { runCli } from "../support/cli.js";
import { closedBeamtime as bt, worldPerTest } from "../support/scicat-setup.js";
import { treeDigest } from "./helpers.js";

/** Issue 8.3: each kind of bad input is reported against its source with a reason while everything else syncs. */

const worlds = worldPerTest();

describe("bad input", () => {
  it("reports corrupt, truncated, unknown-schema, escaping, hot-journal and garbage sources; the good ones sync", async () => {
    const w = await worlds.open(
      {
        beamtimes: [
          bt("good"),
          bt("corrupt"),
          bt("truncated"),
          bt("future-schema"),
          bt("escape", { indexDbPath: "../outside.db" }),
          bt("crashed-writer"),
        ],
      },
      { config: { sources: { bluesky: { enabled: true } } } },
    );
    const byLabel = (label: string) => w.written.beamtimes.find((b) => b.label === label)!;
    fs.writeFileSync(byLabel("corrupt").absDbPath, randomBytes(8192));
    fs.truncateSync(byLabel("truncated").absDbPath, 3000);
    const future = new Database(byLabel("future-schema").absDbPath);
    future.pragma("user_version = 99");
    future.close();
    await killWriterMidRun(byLabel("crashed-writer").absDbPath);
    fs.symlinkSync("loop", path.join(w.dataRoot, "loop"));

    const docs = path.join(w.dataRoot, "docs");
    writeDemoBlueskyRun(docs);
    const goodDoc = fs.readFileSync(path.join(docs, "scan_42.jsonl"), "utf8").split("\n");
    fs.writeFileSync(path.join(docs, "garbage.jsonl"), ["this is not json", "x".repeat(5_000_000), '["start", {"no_uid": true}]', ""].join("\n"));
    fs.writeFileSync(path.join(docs, "latin1.jsonl"), Buffer.concat([Buffer.from('["start", {"uid": "caf'), Buffer.from([0xe9]), Buffer.from('", "time": 1}]\n')]));
    fs.writeFileSync(path.join(docs, "copy-with-garbage.jsonl"), [goodDoc[0], "{{{", ...goodDoc.slice(1)].join("\n"));

    const before = treeDigest(w.dataRoot);
    const sync = await runCli(["sync", "--config", w.configFile]);
    expect(sync.code === 0 || sync.code === 1, sync.stderr).toBe(true);
    expect(treeDigest(w.dataRoot)).toEqual(before);

    // Everything readable is in the catalog.
    const pids = new Set(w.scicat.datasets().map((d) => String(d.pid)));
    for (const run of byLabel("good").runs) expect(pids.has(`test/${run.uid}`)).toBe(true);
    expect(pids.has("test/5f1d0e46-7f32-4c3e-9d0c-2a6b8f1e9a01")).toBe(true);

    // Everything unreadable is reported against its file with a reason.
    const status = JSON.parse((await runCli(["status", "--json", "--config", w.configFile])).stdout) as { sourceProblems: { path: string; problem: string }[] };
    const problem = (fragment: string) => status.sourceProblems.find((p) => p.path.includes(fragment));
    for (const fragment of ["corrupt", "truncated", "future-schema", "crashed-writer", "garbage.jsonl", "latin1.jsonl", "copy-with-garbage.jsonl"]) {
      expect(problem(fragment), `${fragment} reported`).toBeDefined();
      expect(problem(fragment)?.problem.length).toBeGreaterThan(5);
    }
    expect(status.sourceProblems.some((p) => /outside|escape|leaves/i.test(`${p.path} ${p.problem}`))).toBe(true);
    expect(problem("future-schema")?.problem).toMatch(/99/);
  });
});

describe("a DB locked by the writer", () => {
  it("is reported as locked and retried; once the writer commits, its run reaches the catalog", async () => {
    const w = await worlds.open({ beamtimes: [bt("locked"), bt("free")] });
    const locked = w.written.beamtimes[0]!;
    const writer = await holdWriterLock(locked.absDbPath);
    try {
      const first = await runCli(["sync", "--config", w.configFile]);
      expect(first.code === 0 || first.code === 1).toBe(true);
      const status = JSON.parse((await runCli(["status", "--json", "--config", w.configFile])).stdout) as { sourceProblems: { path: string; problem: string; retry: boolean }[] };
      const problem = status.sourceProblems.find((p) => p.path === locked.dbPath);
      expect(problem?.problem).toMatch(/locked|journal|retry/);
      expect(problem?.retry).toBeTruthy();
      for (const run of w.written.beamtimes[1]!.runs) expect(w.scicat.datasets().some((d) => d.pid === `test/${run.uid}`)).toBe(true);
    } finally {
      expect(await writer.finish()).toBe(0);
    }
    const second = await runCli(["sync", "--config", w.configFile]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(w.scicat.datasets().some((d) => d.pid === `test/${writer.uid}`)).toBe(true);
    const status = JSON.parse((await runCli(["status", "--json", "--config", w.configFile])).stdout) as { sourceProblems: { path: string }[] };
    expect(status.sourceProblems.find((p) => p.path === locked.dbPath)).toBeUndefined();
  });
});

describe("a source file that is deleted", () => {
  it("leaves status and the problem count once a full scan no longer finds it", async () => {
    const w = await worlds.open({ beamtimes: [bt("kept")] }, { config: { sources: { bluesky: { enabled: true } } } });
    const docs = path.join(w.dataRoot, "docs");
    fs.mkdirSync(docs, { recursive: true });
    const garbage = path.join(docs, "garbage.jsonl");
    fs.writeFileSync(garbage, "this is not json\n");
    const status = async () =>
      JSON.parse((await runCli(["status", "--json", "--config", w.configFile])).stdout) as { sourceProblems: { path: string }[] };

    await runCli(["sync", "--config", w.configFile]);
    expect((await status()).sourceProblems.map((p) => p.path)).toEqual(["docs/garbage.jsonl"]);

    fs.rmSync(garbage);
    const again = JSON.parse((await runCli(["sync", "--json", "--config", w.configFile])).stdout) as { reconcile: { filesGone: number } };
    expect(again.reconcile.filesGone).toBe(1);
    expect((await status()).sourceProblems).toEqual([]);
    // The beamtime DB's watermark stays: the next scan still finds it unchanged and reads nothing.
    const third = JSON.parse((await runCli(["sync", "--json", "--config", w.configFile])).stdout) as { reconcile: { filesRead: number; filesUnchanged: number; filesGone: number } };
    expect(third.reconcile).toMatchObject({ filesRead: 0, filesGone: 0 });
    expect(third.reconcile.filesUnchanged).toBeGreaterThan(0);
  });
});
