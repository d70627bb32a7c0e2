import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT, tempDir } from "../support/cli.js";
import { pgAvailable } from "../support/postgres-server.js";

/** The benchmark harness keeps working (small sizes); its figures are not judged here — benchmarks are not tests. */
let dir: string | undefined;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("npm run bench", () => {
  it("runs every scenario and writes results.json and results.md", () => {
    dir = tempDir("bench");
    execFileSync(process.execPath, [path.join(REPO_ROOT, "dist/bench/main.js"), "--beamtimes", "1", "--runs", "10", "--rescan-beamtimes", "2", "--rescan-runs", "10", "--latency-samples", "2", "--parse-mb", "1", "--latencies", "5", "--concurrencies", "1,4", "--runs-per-lane", "3", "--workers-runs", "100", "--out", dir], {
      stdio: "pipe",
      timeout: 170_000,
    });
    const results = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8")) as Record<string, Record<string, unknown>>;
    expect(results.coldSync?.runs).toBe(10);
    expect(results.coldSync?.requests).toBeGreaterThan(10);
    expect(results.rescan?.runs).toBe(20);
    expect(results.rescan?.rescanRequests).toBe(0);
    expect(results.latency?.samples).toBe(2);
    expect(results.parse?.documents).toBeGreaterThan(1000);
    expect(results.coldSync?.cpuMsPerRun).toBeGreaterThan(0);
    // The slow-catalog table: one point per latency and concurrency, beside the floor.
    const points = results.slow?.points as { latencyMs: number; concurrency: number; runs: number; floorRunsPerSecond: number }[];
    expect(points.map((p) => [p.latencyMs, p.concurrency, p.runs])).toEqual([
      [5, 1, 3],
      [5, 4, 12],
    ]);
    expect(points.every((p) => p.floorRunsPerSecond > 0)).toBe(true);
    expect(fs.readFileSync(path.join(dir, "results.md"), "utf8")).toMatch(/commit → catalog[\s\S]*Slow catalog/);
    // Several workers on PostgreSQL (where the server binaries are; skipped and said so elsewhere).
    const workers = results.workers as { skipped?: string; points?: { workers: number; runs: number }[]; failover?: { leasedAtKill: number } };
    if (pgAvailable()) {
      expect(workers.points?.map((p) => [p.workers, p.runs])).toEqual([
        [1, 100],
        [3, 100],
      ]);
      expect(workers.failover?.leasedAtKill).toBeGreaterThan(0);
    } else {
      expect(workers.skipped).toMatch(/postgresql/);
    }
  }, 180_000);
});
