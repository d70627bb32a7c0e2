import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { manyRuns } from "../fixtures/resonance/index.js";
import { waitFor, writeConfig } from "../support/cli.js";
import { pgAvailable, usePostgres } from "../support/postgres.js";
import { worldPerTest, type ScicatWorld } from "../support/scicat-setup.js";
import { assertExactlyOnce, figures, FULL } from "./helpers.js";
import { startWatchedDaemon, type WatchedDaemon } from "./host-support.js";

/**
 * Issue 19, item 3: three `beamsync run` workers share one PostgreSQL state and one DATA root while a few thousand
 * runs go to a catalog with latency. Workers are killed (SIGKILL) and frozen past their lease (SIGSTOP), and the
 * database restarts under them. The catalog ends with exactly one dataset per run and no file listed twice, and
 * every worker pushed.
 */

const BEAMTIMES = FULL ? 20 : 10;
const RUNS_PER_BEAMTIME = FULL ? 250 : 200;
const LEASE_MS = 3000;

const worlds = worldPerTest();

interface Worker {
  slot: number;
  configFile: string;
  /** Every pid this slot has had (a killed worker is started again). */
  pids: number[];
  daemon: WatchedDaemon;
}

function workerConfig(w: ScicatWorld, slot: number, url: string): string {
  return writeConfig(path.join(w.dir, `worker-${slot}`), {
    dataRoot: w.dataRoot,
    stateDir: path.join(w.dir, `worker-${slot}-state`),
    state: { backend: "postgres", url, poolSize: 6 },
    sources: { bluesky: { enabled: false } },
    destinations: { scicat: { url: w.scicat.url, username: "ingestor", password: w.password, pidPrefix: "test/", datasetApi: "v4" } },
    mapping: { ownerGroup: "group-a", accessGroups: ["staff"], instrument: "bl-1" },
    sync: { backoffBaseMs: 50, backoffMaxMs: 1000, concurrency: 8, leaseMs: LEASE_MS, requestPollMs: 500, shutdownTimeoutMs: 3000 },
    http: { enabled: true, host: "127.0.0.1", port: 0 },
    log: { level: "info" },
  });
}

/** Start a slot's worker (again, after a kill), once its health server answers. */
async function start(slot: number, configFile: string, pids: number[] = []): Promise<Worker> {
  const daemon = await startWatchedDaemon(configFile);
  return { slot, configFile, pids: [...pids, daemon.daemon.child.pid ?? 0], daemon };
}

/** When a file is listed twice, say by whom and when: the attempts on its blocks record, beside the faults. */
async function explainDuplicates(w: ScicatWorld, db: pg.Pool, faults: string[]): Promise<void> {
  const doubled: string[] = [];
  for (const dataset of w.scicat.datasets()) {
    const pid = String(dataset.pid);
    const blocks = w.scicat.origdatablocks(pid);
    const paths = blocks.flatMap((b) => (b.dataFileList as { path: string }[]).map((f) => f.path));
    if (paths.length !== new Set(paths).size) doubled.push(pid);
  }
  if (doubled.length === 0) return;
  const lines: string[] = [];
  for (const pid of doubled.slice(0, 3)) {
    const blocks = w.scicat.origdatablocks(pid).map((b) => `${String(b._id ?? b.id)} created ${String(b.createdAt)} files ${(b.dataFileList as unknown[]).length}`);
    const { rows } = await db.query("SELECT timestamp, worker, success, error_message, metadata_json FROM upload_log WHERE session_identifier = $1 ORDER BY id", [pid.replace(/^test\//, "")]);
    lines.push(`${pid}: blocks ${blocks.join("; ")}\n  attempts: ${rows.map((r) => JSON.stringify(r)).join("\n  ")}`);
  }
  throw new Error(`${doubled.length} dataset(s) list a file twice. Faults: ${faults.join("; ")}\n${lines.join("\n")}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(pgAvailable())("three workers on one PostgreSQL state", () => {
  const server = usePostgres();

  it("survive SIGKILL, SIGSTOP past the lease and a database restart: one dataset per run, no file twice, every worker pushed", async () => {
    const w = await worlds.open(
      {
        beamtimes: Array.from({ length: BEAMTIMES }, (_, b) => ({
          label: `shared-${b}`,
          researcher: `Researcher ${b % 3}`,
          samples: [{ name: `sample ${b}` }],
          runs: manyRuns(RUNS_PER_BEAMTIME, () => ({ state: "closed", frames: 1 })),
        })),
        runsPerTransaction: RUNS_PER_BEAMTIME,
        synchronous: "OFF",
      },
      { fake: { latencyMs: 20 } },
    );
    const runs = BEAMTIMES * RUNS_PER_BEAMTIME;
    const url = await server.createDatabase("three_workers");
    const db = new pg.Pool({ connectionString: url, max: 2 });
    db.on("error", () => undefined);
    const outstanding = async (): Promise<number | undefined> => {
      try {
        const { rows } = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM records WHERE state <> 'synced'");
        return Number(rows[0]!.n);
      } catch {
        return undefined;
      }
    };
    const workers = await Promise.all([0, 1, 2].map((slot) => start(slot, workerConfig(w, slot, url))));
    const faults: string[] = [];
    try {
      // Let every worker take part before the faults begin.
      await waitFor(async () => (await db.query("SELECT COUNT(DISTINCT worker) AS n FROM upload_log WHERE success = 1").catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n >= 3, { what: "all three workers pushing", timeoutMs: 60_000 });

      // 1. SIGKILL in the middle of pushes; started again at once.
      const killed = workers[0]!;
      killed.daemon.daemon.child.kill("SIGKILL");
      await killed.daemon.daemon.exited;
      faults.push(`${new Date().toISOString()} SIGKILL worker ${killed.slot} (pid ${killed.pids.at(-1)})`);
      workers[0] = await start(killed.slot, killed.configFile, killed.pids);

      // 2. SIGSTOP past the lease: the others take its records over; when it wakes, it writes none of them.
      const frozen = workers[1]!;
      frozen.daemon.daemon.child.kill("SIGSTOP");
      faults.push(`${new Date().toISOString()} SIGSTOP worker ${frozen.slot} (pid ${frozen.pids.at(-1)}) for ${LEASE_MS + 2000} ms`);
      await sleep(LEASE_MS + 2000);
      frozen.daemon.daemon.child.kill("SIGCONT");

      // 3. The database goes away for 3 s: the workers say why they are not ready, wait, reconnect and go on.
      const watched = workers[2]!;
      const restart = server.restart({ downMs: 3000 });
      faults.push(`${new Date().toISOString()} PostgreSQL restart, 3 s down`);
      const notReady = await waitFor(
        async () => {
          const ready = await watched.daemon.get("/readyz").catch(() => undefined);
          return ready && ready.status === 503 && /state/.test(ready.body) ? ready.body : undefined;
        },
        { what: "/readyz to say 503 while the database is down", timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(notReady).toMatch(/"state"/);
      await restart;

      // 4. Another SIGKILL after the restart, of a worker that may hold the scan lock or leases.
      const again = workers[2]!;
      again.daemon.daemon.child.kill("SIGKILL");
      await again.daemon.daemon.exited;
      faults.push(`${new Date().toISOString()} SIGKILL worker ${again.slot} (pid ${again.pids.at(-1)})`);
      workers[2] = await start(again.slot, again.configFile, again.pids);

      figures.faultsInjected += faults.length;
      try {
        await waitFor(async () => (await outstanding()) === 0 && w.scicat.datasets().length >= runs, {
          what: `every record synced (${faults.join(", ")})`,
          timeoutMs: 240_000,
          intervalMs: 500,
        });
      } catch (err) {
        // What was left, and what the workers last said: the failure should explain itself.
        const left = await db.query("SELECT state, kind, COUNT(*) AS n, MIN(last_error) AS error, COUNT(lease_owner) AS leased FROM records WHERE state <> 'synced' GROUP BY 1, 2").catch((e: unknown) => ({ rows: [String(e)] }));
        const rowsLeft = await db.query("SELECT id, attempts, next_attempt_at, lease_owner, lease_until, depends_on, (extract(epoch from now()) * 1000)::bigint AS now_ms FROM records WHERE state <> 'synced' LIMIT 5").catch((e: unknown) => ({ rows: [String(e)] }));
        const readiness = await Promise.all(workers.map((worker) => worker.daemon.get("/readyz").then((r) => `${worker.slot}: ${r.status} ${r.body}`).catch((e: unknown) => `${worker.slot}: ${String(e)}`)));
        const said = workers.map((worker) => `worker ${worker.slot} (alive ${worker.daemon.alive()}): ${worker.daemon.daemon.lines.filter((l) => !l.includes('"level":"info"')).slice(-12).join("\n")}\n${worker.daemon.daemon.stderr().slice(-1000)}`);
        throw new Error(`${(err as Error).message}; ${w.scicat.datasets().length}/${runs} datasets; left: ${JSON.stringify(left.rows)}\nrows: ${JSON.stringify(rowsLeft.rows)}\nreadiness: ${readiness.join("\n")}\n${said.join("\n")}`);
      }
      for (const worker of workers) expect(worker.daemon.alive(), `worker ${worker.slot} alive: ${worker.daemon.daemon.stderr()}`).toBe(true);
    } finally {
      await Promise.all(
        workers.map(async (worker) => {
          if (worker.daemon.alive()) worker.daemon.daemon.child.kill("SIGCONT");
          await worker.daemon.stop();
        }),
      );
    }

    await explainDuplicates(w, db, faults);
    const { datasets, duplicates } = assertExactlyOnce(w, expect);
    expect(datasets).toBe(runs);
    figures.duplicates += duplicates;
    // Every slot's processes pushed: each worker names itself "<pid>-<random>" in upload_log.
    const { rows } = await db.query<{ worker: string }>("SELECT DISTINCT worker FROM upload_log WHERE success = 1 AND worker IS NOT NULL");
    const pushedPids = new Set(rows.map((r) => Number(r.worker.split("-")[0])));
    for (const worker of workers) expect(worker.pids.some((pid) => pushedPids.has(pid)), `worker ${worker.slot} pushed`).toBe(true);
    const { rows: statusRows } = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM workers");
    expect(Number(statusRows[0]!.n)).toBeGreaterThanOrEqual(5);
    await db.end();
  }, 360_000);
});
