import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { describe, expect, it } from "vitest";
import { buildEngine } from "../../src/app/wire.js";
import { silentLogger } from "../../src/ops/logger.js";
import { SqliteStateStore } from "../../src/state/sqlite-store.js";
import { spawn } from "node:child_process";
import { REPO_ROOT, runCli, spawnCli, tempDir, writeConfig } from "../support/cli.js";
import { closedBeamtime as bt, worldPerTest } from "../support/scicat-setup.js";
import { FULL } from "./helpers.js";
import { writeDemoBlueskyRun } from "../../src/demo/bluesky-run.js";

/** Issue 15: one-shot commands on a hostile host tell the truth and never pretend a skipped source was synced. */

const worlds = worldPerTest();

describe("sync beside a running daemon", () => {
  it("both write the state store without 'database is locked'; every run reaches the catalog once and sync exits 0", async () => {
    const beamtimes = Array.from({ length: FULL ? 12 : 6 }, (_, i) => bt(`beside-${i}`));
    const w = await worlds.open({ beamtimes });
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      const syncs = await Promise.all([runCli(["sync", "--config", w.configFile]), runCli(["sync", "--config", w.configFile])]);
      for (const sync of syncs) {
        expect(sync.stderr + sync.stdout).not.toMatch(/database is locked|source scan failed/);
        expect(sync.code, sync.stdout + sync.stderr).toBe(0);
      }
      const closed = w.written.beamtimes.flatMap((b) => b.runs.map((r) => `test/${r.uid}`));
      expect(
        w.scicat
          .datasets()
          .map((d) => String(d.pid))
          .sort(),
      ).toEqual(closed.sort());
    } finally {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
    expect(daemon.stderr()).not.toMatch(/source scan failed/);
  });

  it("waits for another writer's commits to the state store instead of failing the beamtime (sync exits 0, nothing skipped)", async () => {
    const w = await worlds.open({ beamtimes: Array.from({ length: 10 }, (_, i) => bt(`contended-${i}`)) });
    expect((await runCli(["sync", "--config", w.configFile])).code).toBe(0);
    // Another beamsync process (the daemon) commits to the state file again and again while the sync reads and writes.
    const other = new Database(path.join(w.stateDir, "beamsync.sqlite"), { timeout: 10_000 });
    let stop = false;
    const hammer = (async () => {
      let i = 0;
      while (!stop) {
        other.exec("BEGIN IMMEDIATE");
        other.prepare("INSERT INTO meta (key, value) VALUES ('contention', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(i++));
        await new Promise((r) => setTimeout(r, 40));
        other.exec("COMMIT");
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const forced = await runCli(["resync", "--all", "--config", w.configFile]);
      expect(forced.stdout + forced.stderr).not.toMatch(/database is locked|source scan failed/);
      expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    } finally {
      stop = true;
      await hammer;
      other.close();
    }
  });

  it("a pass whose writes to the state store fail names beamsync's state file, not the source, and is not complete", async () => {
    const w = await worlds.open({ beamtimes: [bt("state-full")] });
    const store = SqliteStateStore.open(w.stateDir, { busyTimeoutMs: 0 });
    const engine = await buildEngine(w.config, silentLogger, { store });
    const holder = new Database(path.join(w.stateDir, "beamsync.sqlite"));
    try {
      holder.exec("BEGIN IMMEDIATE");
      const outcome = await engine.reconcile();
      expect(outcome.incomplete.join("\n")).toMatch(/state store \S+beamsync\.sqlite could not be written \(database is locked\)/);
      expect(outcome.incomplete.join("\n")).not.toMatch(/scan failed/);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
      await engine.close();
    }
  });
});

describe("processes that open a new state store together (`run` and `sync` started at once)", () => {
  it("migrate it once between them: none fails with 'table … already exists'", { timeout: 120_000 }, async () => {
    const database = path.join(REPO_ROOT, "dist", "src", "state", "database.js");
    const failures: string[] = [];
    for (let round = 0; round < (FULL ? 30 : 10); round++) {
      const stateDir = tempDir("race");
      const code = `const { openDatabase } = await import(${JSON.stringify(database)}); openDatabase(${JSON.stringify(stateDir)}).db.close();`;
      const opened = Array.from(
        { length: 4 },
        () =>
          new Promise<string>((resolve) => {
            const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "ignore", "pipe"] });
            let stderr = "";
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            child.on("close", (status) => resolve(status === 0 ? "" : stderr));
          }),
      );
      for (const stderr of await Promise.all(opened)) if (stderr) failures.push(stderr.split("\n").find((l) => /Error/.test(l)) ?? stderr);
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
    expect(failures).toEqual([]);
  });
});

describe("a signal during a scan", () => {
  it("stops the scan between two files; a stopped full scan forgets nothing it did not reach", async () => {
    const w = await worlds.open({ beamtimes: Array.from({ length: 8 }, (_, i) => bt(`signal-${i}`)) });
    const engine = await buildEngine(w.config, silentLogger);
    try {
      const stop = new AbortController();
      let beamtimesRead = 0;
      await engine.scan({ force: true, signal: stop.signal }, (batch) => {
        beamtimesRead += batch.snapshot.beamtimes.length;
        stop.abort();
      });
      expect(beamtimesRead).toBe(1);

      await engine.reconcile();
      const files = (await engine.store.sourceSummary()).reduce((n, s) => n + s.files, 0);
      const stopped = new AbortController();
      stopped.abort();
      const outcome = await engine.reconcile({ signal: stopped.signal });
      expect(outcome.incomplete.join()).toMatch(/stopped by a signal/);
      expect((await engine.store.sourceSummary()).reduce((n, s) => n + s.files, 0)).toBe(files);
    } finally {
      await engine.close();
    }
  });
});

describe("read-only commands", () => {
  it("never create a state store: a mistyped stateDir says so with exit 2", async () => {
    const w = await worlds.open({ beamtimes: [bt("mistyped")] });
    const typo = path.join(w.dir, "stat-dir-typo");
    const config = writeConfig(path.join(w.dir, "typo"), { dataRoot: w.dataRoot, stateDir: typo, destinations: { scicat: { url: w.scicat.url, username: "ingestor", password: w.password } }, http: { enabled: false } });
    for (const command of [["status"], ["log"], ["retry"], ["status", "--json"]]) {
      const result = await runCli([...command, "--config", config]);
      expect(result.code, command.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/no state store at \S+stat-dir-typo\/beamsync\.sqlite/);
    }
    const doctor = await runCli(["doctor", "--json", "--config", config]);
    expect(JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === "state store").message).toMatch(/no state store at/);
    expect(fs.existsSync(typo)).toBe(false);
  });
});

describe("file names that are not UTF-8", () => {
  it("are reported in status with their bytes, not skipped in silence; the other files sync", async () => {
    const w = await worlds.open({ beamtimes: [bt("utf8")] }, { config: { sources: { bluesky: { enabled: true } } } });
    const docs = path.join(w.dataRoot, "docs");
    writeDemoBlueskyRun(docs);
    // "café.jsonl" as a Latin-1 SMB share leaves it: 0xE9 is not UTF-8.
    const latin1 = Buffer.concat([Buffer.from(`${docs}/caf`), Buffer.from([0xe9]), Buffer.from(".jsonl")]);
    fs.renameSync(path.join(docs, "scan_42.jsonl"), latin1);
    writeDemoBlueskyRun(path.join(w.dataRoot, "docs-ok"));

    const sync = await runCli(["sync", "--config", w.configFile]);
    expect(sync.stdout).toMatch(/1 source file\(s\) could not be read fully/);
    const status = JSON.parse((await runCli(["status", "--json", "--config", w.configFile])).stdout) as { sourceProblems: { source: string; path: string; problem: string }[] };
    const problem = status.sourceProblems.find((p) => p.source === "bluesky");
    expect(problem?.problem).toMatch(/file name "caf\\xe9\.jsonl" is not valid UTF-8/);
    expect(w.scicat.datasets().some((d) => d.pid === "test/5f1d0e46-7f32-4c3e-9d0c-2a6b8f1e9a01")).toBe(true);
  });
});

describe("a change that keeps size and mtime", () => {
  it("is seen by the next sync (change counter, inode, ctime), not only by a resync", async () => {
    const w = await worlds.open({ beamtimes: [bt("same-size")] });
    const file = w.written.beamtimes[0]!.absDbPath;
    // A whole-second mtime, which utimes can set back exactly.
    fs.utimesSync(file, 1_790_000_000, 1_790_000_000);
    expect((await runCli(["sync", "--config", w.configFile])).code).toBe(0);
    const before = fs.statSync(file);
    const db = new Database(file);
    db.prepare("UPDATE samples SET name = ?").run("renamed-in-place");
    db.close();
    fs.utimesSync(file, 1_790_000_000, 1_790_000_000);
    const after = fs.statSync(file);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);

    const again = await runCli(["sync", "--json", "--config", w.configFile]);
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as { reconcile: { updated: number; filesRead: number } };
    expect(summary.reconcile.filesRead).toBeGreaterThan(0);
    expect(summary.reconcile.updated).toBeGreaterThan(0);
  });
});

describe("a run deleted from its beamtime after it was synced", () => {
  it("is named by status and dry-run (the catalog keeps it), instead of 'every record is in step'", async () => {
    const w = await worlds.open({ beamtimes: [bt("deleted-run")] });
    expect((await runCli(["sync", "--config", w.configFile])).code).toBe(0);
    const beamtime = w.written.beamtimes[0]!;
    // The first run: the one the beamtime was first known by. Its file keeps that identity.
    const deleted = beamtime.runs[0]!.uid;
    const samplesBefore = w.scicat.samples().length;
    const db = new Database(beamtime.absDbPath);
    db.pragma("foreign_keys = ON");
    db.prepare("DELETE FROM runs WHERE uid = ?").run(deleted);
    db.close();

    const dry = await runCli(["sync", "--dry-run", "--no-remote-diff", "--config", w.configFile]);
    expect(dry.stdout).not.toMatch(/every record is in step/);
    expect(dry.stdout).toContain(`run ${deleted} of ${beamtime.dbPath} is in the catalogs but no longer in the beamtime DB`);
    expect((await runCli(["sync", "--config", w.configFile])).code).toBe(0);
    const status = JSON.parse((await runCli(["status", "--json", "--config", w.configFile])).stdout) as { runsGone: { runUid: string }[] };
    expect(status.runsGone.map((g) => g.runUid)).toEqual([deleted]);
    expect(w.scicat.datasets().some((d) => d.pid === `test/${deleted}`)).toBe(true);
    expect(w.scicat.samples()).toHaveLength(samplesBefore);
    expect(w.scicat.proposals()).toHaveLength(1);
  });
});
