import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { afterEach, describe, expect, it } from "vitest";
import type { BeamtimeSpec } from "../fixtures/resonance/index.js";
import { runCli, spawnCli, startPushingSync, waitFor, writeConfig } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";

/** Issue 6: every operator command as a subprocess, with its --json output and exit status. */

const SPEC: { beamtimes: BeamtimeSpec[] } = {
  beamtimes: [
    { label: "2026-05-01", researcher: "Ada Lovelace", samples: [{ name: "wafer" }], runs: [{ state: "closed", frames: 1 }, { state: "closed" }, { state: "aborted" }, { state: "open" }] },
    { label: "2026-05-02", researcher: "Grace Hopper", samples: [{ name: "film" }], runs: [{ state: "closed" }, { state: "failed" }] },
  ],
};
const CLOSED = 5;

let world: ScicatWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const json = <T = Record<string, unknown>>(text: string): T => JSON.parse(text) as T;

describe("operator commands", () => {
  it("status, log and a second sync after a clean sync", async () => {
    world = await scicatWorld(SPEC);
    const sync = await runCli(["sync", "--json", "--config", world.configFile]);
    expect(sync.code, sync.stderr).toBe(0);
    const summary = json<{ records: Record<string, { synced: number; pending: number }> }>(sync.stdout);
    // Proposals, samples, the instrument, the datasets, and one file list: the only run with a frame.
    expect(summary.records.scicat?.synced).toBe(2 + 2 + 1 + CLOSED + 1);

    const status = await runCli(["status", "--json", "--config", world.configFile]);
    expect(status.code).toBe(0);
    const s = json<{ records: Record<string, { synced: number; pending: number; failed: number }>; oldestPending: unknown; daemon: { running: boolean } }>(status.stdout);
    expect(s.records.scicat).toMatchObject({ pending: 0, failed: 0 });
    expect(s.oldestPending).toBeNull();
    expect(s.daemon.running).toBe(false);

    const human = await runCli(["status", "--config", world.configFile]);
    expect(human.stdout).toMatch(/scicat/);

    const uid = world.written.beamtimes[0]!.runs[0]!.uid;
    const log = await runCli(["log", "--json", "--run", uid, "--config", world.configFile]);
    expect(log.code).toBe(0);
    const rows = json<{ session_identifier: string; success: boolean }[]>(log.stdout);
    expect(rows.length).toBe(2); // dataset + its file list
    expect(rows.every((r) => r.session_identifier === uid && r.success)).toBe(true);
    const limited = json<unknown[]>((await runCli(["log", "--json", "--limit", "3", "--config", world.configFile])).stdout);
    expect(limited).toHaveLength(3);
  });

  it("sync --dry-run lists creates, then the fields that differ for updates, and pushes nothing", async () => {
    world = await scicatWorld(SPEC);
    const dry = await runCli(["sync", "--dry-run", "--json", "--config", world.configFile]);
    expect(dry.code, dry.stderr).toBe(0);
    const report = json<{ changes: { kind: string; change: string; fields?: { field: string }[] }[] }>(dry.stdout);
    expect(report.changes.filter((c) => c.kind === "dataset" && c.change === "create")).toHaveLength(CLOSED);
    expect(world.scicat.writeCount()).toBe(0);

    await runCli(["sync", "--config", world.configFile]);
    // Someone edits a dataset in the catalog; the dry run shows nothing to do locally (hash unchanged)...
    // ...but after a local change (new metadata through a re-read), it shows which fields differ.
    const db = new Database(world.written.beamtimes[1]!.absDbPath);
    db.prepare("UPDATE samples SET name = 'film (annealed)'").run();
    db.close();
    const again = await runCli(["sync", "--dry-run", "--json", "--config", world.configFile]);
    const changes = json<{ changes: { kind: string; change: string; fields?: { field: string }[] }[] }>(again.stdout).changes;
    const updates = changes.filter((c) => c.change === "update");
    expect(updates.length).toBeGreaterThan(0);
    const sampleUpdate = updates.find((c) => c.kind === "sample");
    expect(sampleUpdate?.fields?.map((f) => f.field)).toEqual(expect.arrayContaining(["description"]));
  });

  it("reports a rejected record with exit 1, shows it in status and log --failed, and retry puts it back", async () => {
    world = await scicatWorld(SPEC);
    world.scicat.failNext(1, 400, { match: { method: "POST", path: /\/datasets$/i }, body: { message: ["datasetName must be a string"], error: "Bad Request", statusCode: 400 } });
    const sync = await runCli(["sync", "--config", world.configFile]);
    expect(sync.code).toBe(1);
    const status = json<{ records: Record<string, { failed: number }>; recentFailures: { reason: string }[] }>((await runCli(["status", "--json", "--config", world.configFile])).stdout);
    expect(status.records.scicat?.failed).toBe(1);
    expect(status.recentFailures[0]?.reason).toMatch(/datasetName must be a string/);
    const failed = json<{ error_message: string }[]>((await runCli(["log", "--failed", "--json", "--config", world.configFile])).stdout);
    expect(failed).toHaveLength(1);

    const retry = await runCli(["retry", "--json", "--config", world.configFile]);
    expect(json<{ moved: number }>(retry.stdout).moved).toBe(1);
    const again = await runCli(["sync", "--config", world.configFile]);
    expect(again.code, again.stdout).toBe(0);
    expect(world.scicat.datasets()).toHaveLength(CLOSED);
  });

  it("exits 1 when the catalog is down, keeping records pending", async () => {
    world = await scicatWorld(SPEC);
    await world.scicat.goDown();
    const sync = await runCli(["sync", "--config", world.configFile]);
    expect(sync.code).toBe(1);
    expect(sync.stdout).toMatch(/unreachable/);
    const status = json<{ records: Record<string, { pending: number; synced: number }> }>((await runCli(["status", "--json", "--config", world.configFile])).stdout);
    expect(status.records.scicat?.synced ?? 0).toBe(0);
    expect(status.records.scicat?.pending).toBeGreaterThan(0);
    await world.scicat.comeBack();
    expect((await runCli(["sync", "--config", world.configFile])).code).toBe(0);
  });

  it("resync --run pushes one run again without a daemon; with a daemon the request is picked up", async () => {
    world = await scicatWorld(SPEC);
    await runCli(["sync", "--config", world.configFile]);
    const uid = world.written.beamtimes[0]!.runs[1]!.uid;
    world.scicat.resetRequests();
    const resync = await runCli(["resync", "--run", uid, "--json", "--config", world.configFile]);
    expect(resync.code, resync.stderr).toBe(0);
    expect(json<{ handledBy: string }>(resync.stdout).handledBy).toBe("cli");
    expect(world.scicat.requests.some((r) => r.path.includes(uid))).toBe(true);
    expect(world.scicat.datasets()).toHaveLength(CLOSED);

    const w = world;
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      await waitFor(async () => json<{ daemon: { running: boolean } }>((await runCli(["status", "--json", "--config", w.configFile])).stdout).daemon.running, { what: "daemon heartbeat" });
      w.scicat.resetRequests();
      const viaDaemon = await runCli(["resync", "--all", "--json", "--config", w.configFile]);
      expect(viaDaemon.code).toBe(0);
      expect(json<{ handledBy: string }>(viaDaemon.stdout).handledBy).toBe("daemon");
      await waitFor(() => w.scicat.requests.filter((r) => /datasets/i.test(r.path)).length >= CLOSED, { what: "daemon resync pushes" });
      expect(w.scicat.datasets()).toHaveLength(CLOSED);
    } finally {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
  });

  it("a one-shot sync is no daemon: status lists no worker for it, retry says no daemon runs", async () => {
    // A slow catalog keeps the sync pushing while status and retry run.
    world = await scicatWorld(SPEC, { fake: { latencyMs: 1000 } });
    const w = world;
    const sync = await startPushingSync(w.configFile, w.scicat);
    try {
      const status = await runCli(["status", "--json", "--config", w.configFile]);
      expect(status.code, status.stderr).toBe(0);
      const s = json<{ daemon: { running: boolean }; workers: unknown[] }>(status.stdout);
      expect(s.daemon.running).toBe(false);
      expect(s.workers).toEqual([]);
      const retry = await runCli(["retry", "--json", "--config", w.configFile]);
      expect(retry.code, retry.stderr).toBe(0);
      expect(json<{ daemonRunning: boolean }>(retry.stdout).daemonRunning).toBe(false);
      expect(sync.ended(), "the sync was still running while status and retry ran").toBe(false);
    } finally {
      await sync.exited;
    }
  }, 120_000);

  it("doctor: exit 0 when all is well, 1 with a fix for bad credentials or an unreachable catalog", async () => {
    world = await scicatWorld(SPEC);
    const ok = await runCli(["doctor", "--json", "--config", world.configFile]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(json<{ ok: boolean }>(ok.stdout).ok).toBe(true);

    const badFile = writeConfig(path.join(world.dir), {
      ...(await import("yaml")).parse(fs.readFileSync(world.configFile, "utf8")),
      destinations: { scicat: { url: world.scicat.url, username: "ingestor", password: "wrong-password" } },
    });
    const bad = await runCli(["doctor", "--json", "--config", badFile]);
    expect(bad.code).toBe(1);
    const checks = json<{ checks: { name: string; severity: string; fix?: string }[] }>(bad.stdout).checks;
    const credentials = checks.find((c) => c.name === "scicat: credentials");
    expect(credentials?.severity).toBe("error");
    expect(credentials?.fix).toMatch(/password/);
    expect(bad.stdout + bad.stderr).not.toContain("wrong-password");

    await world.scicat.goDown();
    const down = await runCli(["doctor", "--config", world.configFile]);
    expect(down.code).toBe(1);
  });

  it("bad configuration exits 2 naming the key and the fix", async () => {
    world = await scicatWorld(SPEC);
    const file = writeConfig(world.dir, { dataRoot: world.dataRoot, sync: { concurrency: "many" } });
    const result = await runCli(["status", "--config", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/sync\.concurrency/);
  });

  it("--help of every command shows an example", async () => {
    for (const command of ["run", "sync", "status", "resync", "retry", "log", "doctor"]) {
      const help = await runCli([command, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout, command).toMatch(/Example/);
    }
  });
});
