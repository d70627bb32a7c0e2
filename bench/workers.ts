import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import YAML from "yaml";
import { pgAvailable, PostgresServer } from "../test/support/postgres-server.js";
import { benchDir, generateDataRootInChild } from "./data.js";
import { startFakeProcess } from "./fake-process.js";
import { round } from "./memory.js";
import { BENCH_PASSWORD, BENCH_USER } from "./setup.js";

/**
 * Several workers on one PostgreSQL state (issue 19): `beamsync run` processes on one DATA root push to a slow
 * catalog (every request answered `latencyMs` late). For one and for three workers: runs/s from their start until
 * every record is in the catalog. Then failover: with three workers pushing, one is killed (SIGKILL) and the time
 * until every record it had leased is in the catalog is measured. A worker on this host is seen dead at the next
 * lease renewal (pid check); one on another host only when its lease runs out (sync.leaseMs, reported beside).
 */
export interface WorkersPoint {
  workers: number;
  runs: number;
  seconds: number;
  runsPerSecond: number;
}

export interface WorkersResult {
  /** Why the scenario did not run (no PostgreSQL server binaries on this machine). */
  skipped?: string;
  latencyMs: number;
  concurrencyPerWorker: number;
  leaseMs: number;
  points: WorkersPoint[];
  failover: { leasedAtKill: number; secondsUntilInCatalog: number };
}

const BIN = path.resolve(import.meta.dirname, "../../bin/beamsync.js");
const RUNS_PER_BEAMTIME = 100;

export async function severalWorkers(runs: number, options: { latencyMs: number; concurrency: number; leaseMs: number; log?: (line: string) => void }): Promise<WorkersResult> {
  if (!pgAvailable()) {
    const skipped = "no PostgreSQL server binaries on this machine (apt-get install postgresql)";
    options.log?.(`  skipped: ${skipped}`);
    return { skipped, latencyMs: options.latencyMs, concurrencyPerWorker: options.concurrency, leaseMs: options.leaseMs, points: [], failover: { leasedAtKill: 0, secondsUntilInCatalog: 0 } };
  }
  const server = await new PostgresServer().start();
  try {
    const points: WorkersPoint[] = [];
    for (const workers of [1, 3]) {
      const point = await withWorld(server, `w${workers}`, runs, options, async (world) => {
        const started = performance.now();
        const processes = world.start(workers);
        try {
          await world.until(async () => (await world.outstanding()) === 0);
        } finally {
          await stopAll(processes);
        }
        const seconds = (performance.now() - started) / 1000;
        return { workers, runs: world.runs, seconds: round(seconds, 2), runsPerSecond: round(world.runs / seconds, 1) };
      });
      options.log?.(`  ${workers} worker(s): ${point.runsPerSecond} runs/s (${point.runs} runs in ${point.seconds} s)`);
      points.push(point);
    }
    const failover = await withWorld(server, "failover", runs, options, async (world) => {
      const processes = world.start(3);
      try {
        // Once a fifth of the runs are in, kill the worker holding the most leases.
        await world.until(async () => (await world.outstanding()) <= world.records * 0.8);
        const { rows } = await world.db.query<{ owner: string; ids: string[] }>(
          "SELECT lease_owner AS owner, array_agg(id) AS ids FROM records WHERE lease_owner IS NOT NULL AND state = 'pending' GROUP BY lease_owner ORDER BY COUNT(*) DESC LIMIT 1",
        );
        const victim = rows[0];
        if (!victim) throw new Error("failover: no worker held a lease");
        const pid = Number(victim.owner.split("-")[0]);
        const child = processes.find((p) => p.pid === pid);
        if (!child) throw new Error(`failover: lease owner ${victim.owner} is none of the workers`);
        child.kill("SIGKILL");
        const killedAt = performance.now();
        await world.until(async () => {
          const { rows: left } = await world.db.query<{ n: string }>("SELECT COUNT(*) AS n FROM records WHERE id = ANY($1) AND state <> 'synced'", [victim.ids]);
          return Number(left[0]!.n) === 0;
        }, 20);
        return { leasedAtKill: victim.ids.length, secondsUntilInCatalog: round((performance.now() - killedAt) / 1000, 2) };
      } finally {
        await stopAll(processes);
      }
    });
    options.log?.(`  failover: ${failover.leasedAtKill} leased records of a killed worker in the catalog ${failover.secondsUntilInCatalog} s later`);
    return { latencyMs: options.latencyMs, concurrencyPerWorker: options.concurrency, leaseMs: options.leaseMs, points, failover };
  } finally {
    await server.stop();
  }
}

interface World {
  runs: number;
  /** Records the sync makes (datasets, blocks, proposals, samples, instrument). */
  records: number;
  db: pg.Pool;
  start(workers: number): ChildProcess[];
  outstanding(): Promise<number>;
  until(done: () => Promise<boolean>, intervalMs?: number): Promise<void>;
}

async function withWorld<T>(server: PostgresServer, name: string, requestedRuns: number, options: { latencyMs: number; concurrency: number; leaseMs: number }, fn: (world: World) => Promise<T>): Promise<T> {
  const dir = benchDir(`workers-${name}`);
  const fake = await startFakeProcess(BENCH_USER, BENCH_PASSWORD, { latencyMs: options.latencyMs });
  const url = await server.createDatabase(`bench_${name}`);
  const db = new pg.Pool({ connectionString: url, max: 2 });
  db.on("error", () => undefined);
  try {
    const dataRoot = path.join(dir, "DATA");
    const beamtimes = Math.ceil(requestedRuns / RUNS_PER_BEAMTIME);
    generateDataRootInChild(dataRoot, beamtimes, RUNS_PER_BEAMTIME, 2);
    const runs = beamtimes * RUNS_PER_BEAMTIME;
    const configFor = (slot: number) => {
      const file = path.join(dir, `worker-${slot}.yaml`);
      fs.writeFileSync(
        file,
        YAML.stringify({
          dataRoot,
          stateDir: path.join(dir, `worker-${slot}-state`),
          state: { backend: "postgres", url },
          sources: { bluesky: { enabled: false } },
          destinations: { scicat: { url: fake.url, username: BENCH_USER, password: BENCH_PASSWORD, pidPrefix: "bench/" } },
          sync: { concurrency: options.concurrency, leaseMs: options.leaseMs },
          http: { enabled: false },
          log: { level: "error" },
        }),
      );
      return file;
    };
    let records = 0;
    const world: World = {
      runs,
      get records() {
        return records;
      },
      db,
      start: (workers) => Array.from({ length: workers }, (_, slot) => spawn(process.execPath, [BIN, "run", "--config", configFor(slot)], { stdio: ["ignore", "ignore", "inherit"] })),
      outstanding: async () => {
        try {
          const { rows } = await db.query<{ total: string; left: string }>("SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE state <> 'synced') AS left FROM records");
          records = Number(rows[0]!.total);
          // Before the first scan has queued the runs, nothing is "left" yet: not done.
          return records < runs * 2 ? Number.POSITIVE_INFINITY : Number(rows[0]!.left);
        } catch {
          return Number.POSITIVE_INFINITY;
        }
      },
      until: async (done, intervalMs = 100) => {
        const deadline = Date.now() + 600_000;
        while (!(await done())) {
          if (Date.now() > deadline) throw new Error(`workers bench (${name}): not done within 10 minutes`);
          await new Promise((r) => setTimeout(r, intervalMs));
        }
      },
    };
    return await fn(world);
  } finally {
    await db.end();
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function stopAll(processes: ChildProcess[]): Promise<void> {
  await Promise.all(
    processes.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once("exit", () => resolve());
          p.kill("SIGTERM");
        }),
    ),
  );
}
