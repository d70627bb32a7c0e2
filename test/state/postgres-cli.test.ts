import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { writeDemoBlueskyRun } from "../../src/demo/bluesky-run.js";
import type { BeamtimeSpec } from "../fixtures/resonance/index.js";
import { runCli, spawnCli, startPushingSync, waitFor } from "../support/cli.js";
import { pgAvailable, usePostgres } from "../support/postgres.js";
import { worldPerTest } from "../support/scicat-setup.js";

/** The operator commands on a PostgreSQL state (state.backend: postgres), as subprocesses. */

const SPEC: { beamtimes: BeamtimeSpec[] } = {
  beamtimes: [{ label: "2026-05-01", researcher: "Ada Lovelace", samples: [{ name: "wafer" }], runs: [{ state: "closed", frames: 1 }, { state: "closed" }] }],
};

const json = <T>(text: string): T => JSON.parse(text) as T;

describe.runIf(pgAvailable())("beamsync on a PostgreSQL state", () => {
  const server = usePostgres();
  const worlds = worldPerTest();

  it("status refuses a database where beamsync never ran; sync fills it, and status and log read it", async () => {
    const url = await server.createDatabase("cli_state");
    // The password beside the URL (state.password), not in it.
    const bare = url.replace(`:${encodeURIComponent(server.password)}@`, "@");
    const world = await worlds.open(SPEC, { config: { state: { backend: "postgres", url: bare, password: server.password } } });

    const never = await runCli(["status", "--config", world.configFile]);
    expect(never.code, never.stderr).toBe(2);
    expect(never.stderr).toMatch(/no beamsync state at postgres:\/\//);

    const sync = await runCli(["sync", "--json", "--config", world.configFile]);
    expect(sync.code, sync.stderr).toBe(0);
    const summary = json<{ records: Record<string, { synced: number; pending: number }> }>(sync.stdout);
    // The proposal, the sample, the instrument, two datasets and one file list.
    expect(summary.records.scicat).toMatchObject({ synced: 6, pending: 0 });

    const status = await runCli(["status", "--json", "--config", world.configFile]);
    expect(status.code, status.stderr).toBe(0);
    expect(json<{ records: Record<string, { synced: number }> }>(status.stdout).records.scicat?.synced).toBe(6);
    const log = await runCli(["log", "--json", "--config", world.configFile]);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toContain("scicat");
    expect(`${sync.stderr}${status.stdout}${log.stdout}`).not.toContain(server.password);

    const again = await runCli(["sync", "--json", "--config", world.configFile]);
    expect(again.code, again.stderr).toBe(0);
  });
  it("a one-shot sync running meanwhile is no daemon: resync and retry act themselves, status lists no worker", async () => {
    const url = await server.createDatabase("cli_oneshot");
    // A slow catalog keeps the sync pushing while the other commands run.
    const world = await worlds.open(SPEC, { fake: { latencyMs: 1000 }, config: { state: { backend: "postgres", url } } });
    // Pushing: its worker drains (and, before the fix, had registered in the workers table before its first request).
    const sync = await startPushingSync(world.configFile, world.scicat);
    try {

      const status = await runCli(["status", "--json", "--config", world.configFile]);
      expect(status.code, status.stderr).toBe(0);
      const s = json<{ daemon: { running: boolean }; workers: unknown[] }>(status.stdout);
      expect.soft(s.daemon.running).toBe(false);
      expect.soft(s.workers).toEqual([]);

      const retry = await runCli(["retry", "--json", "--config", world.configFile]);
      expect(retry.code, retry.stderr).toBe(0);
      expect.soft(json<{ daemonRunning: boolean }>(retry.stdout).daemonRunning).toBe(false);

      expect(sync.ended(), "the sync was still running while status and retry ran").toBe(false);
      const uid = world.written.beamtimes[0]!.runs[1]!.uid;
      const resync = await runCli(["resync", "--run", uid, "--json", "--no-wait", "--config", world.configFile]);
      expect(resync.code, resync.stderr).toBe(0);
      // Done here and now, pushes included: not a request queued for a daemon that is not there.
      expect(json<{ handledBy: string }>(resync.stdout)).toMatchObject({ handledBy: "cli" });
    } finally {
      await sync.exited;
    }
    expect(await sync.exited, sync.stderr()).toBe(0);
    expect(world.scicat.datasets()).toHaveLength(2);
  }, 120_000);
  it("a daemon registers its worker, once per beat (no daemon_heartbeat row), and takes resync requests", async () => {
    const url = await server.createDatabase("cli_daemon");
    const world = await worlds.open(SPEC, { config: { state: { backend: "postgres", url }, sync: { requestPollMs: 200 } } });
    const daemon = spawnCli(["run", "--config", world.configFile]);
    const status = async () => json<{ daemon: { running: boolean; workers?: number }; workers: { id: string; pid: number; state: string }[] }>((await runCli(["status", "--json", "--config", world.configFile])).stdout);
    try {
      const running = await waitFor(async () => {
        const s = await status().catch(() => undefined);
        return s?.daemon.running ? s : undefined;
      }, { what: "the daemon's heartbeat" });
      expect(running.daemon.workers).toBe(1);
      expect(running.workers.map((w) => [w.pid, w.state])).toEqual([[daemon.child.pid, "running"]]);
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        const meta = await db.query("SELECT value FROM meta WHERE key = 'daemon_heartbeat'");
        expect(meta.rows).toEqual([]);
      } finally {
        await db.end();
      }
      const resync = await runCli(["resync", "--all", "--json", "--no-wait", "--config", world.configFile]);
      expect(resync.code, resync.stderr).toBe(0);
      expect(json<{ handledBy: string }>(resync.stdout)).toMatchObject({ handledBy: "daemon" });
    } finally {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
    const stopped = await status();
    expect(stopped.daemon.running).toBe(false);
    expect(stopped.workers.map((w) => w.state)).toEqual(["stopped"]);
  }, 120_000);

  it("a folder moved into the DATA root while another worker holds the full scan: its files are read all the same", async () => {
    const url = await server.createDatabase("cli_new_folder");
    const world = await worlds.open(SPEC, { config: { state: { backend: "postgres", url }, sources: { bluesky: { enabled: true } } } });
    // Another worker's full scan: the scan lock, held from here for the whole test.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const { rows } = await other.query<{ granted: boolean }>("SELECT pg_try_advisory_lock(7365223718402) AS granted");
    expect(rows[0]?.granted).toBe(true);
    const daemon = spawnCli(["run", "--config", world.configFile]);
    try {
      await waitFor(async () => {
        // Until the daemon has created the schema, status exits 2 with nothing on stdout.
        const s = await runCli(["status", "--json", "--config", world.configFile]);
        return s.code === 0 && json<{ daemon: { running: boolean } }>(s.stdout).daemon.running;
      }, { what: "the daemon's heartbeat" });
      // A folder with its document file already inside (a run copied in, a beamtime moved to an archive): one
      // burst of a new folder and its file. The full pass it asks for is the other worker's; this worker reads the
      // file it was told of (before, it dropped the whole request and the run waited for the lock).
      const staging = path.join(path.dirname(world.dataRoot), "staging");
      writeDemoBlueskyRun(path.join(staging, "docs"));
      fs.renameSync(path.join(staging, "docs"), path.join(world.dataRoot, "docs"));
      await waitFor(() => world.scicat.datasets().some((d) => d.pid === "test/5f1d0e46-7f32-4c3e-9d0c-2a6b8f1e9a01"), { what: "the moved run in the catalog" });
    } finally {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
      await other.end();
    }
  }, 120_000);
});
