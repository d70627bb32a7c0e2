import fs from "node:fs";
import path from "node:path";
import { buildEngine } from "../src/app/wire.js";
import { silentLogger } from "../src/ops/logger.js";
import type { TransportName } from "../src/destinations/transport.js";
import { benchDir, generateDataRootInChild } from "./data.js";
import { startFakeProcess } from "./fake-process.js";
import { round } from "./memory.js";
import { readRecording, replay } from "./replay.js";
import { benchConfig, BENCH_PASSWORD, BENCH_USER } from "./setup.js";

/**
 * A slow catalog (issue 18): the fake answers every request `latencyMs` late, as a real SciCat a few tens of
 * milliseconds away does. beamsync syncs a fresh DATA root at `concurrency`; then a bare keep-alive client (the
 * floor) sends the very requests beamsync sent, at the same concurrency, to a fresh fake with the same latency.
 * A catalog this slow keeps every client waiting: what beamsync adds per request shows as a lower rate.
 */
export interface SlowPoint {
  latencyMs: number;
  concurrency: number;
  runs: number;
  requests: number;
  /** The whole `sync`: read and queue, then push. */
  seconds: number;
  scanSeconds: number;
  runsPerSecond: number;
  /** beamsync's own CPU time (user + system) per run. */
  cpuMsPerRun: number;
  floorSeconds: number;
  floorRunsPerSecond: number;
  /** beamsync's runs/s ÷ the floor's: the target is ≥ 0.9. */
  ofFloor: number;
}

export interface SlowResult {
  runsPerLane: number;
  points: SlowPoint[];
}

const RUNS_PER_BEAMTIME = 160;

/** Runs per point: `runsPerLane` for each unit of concurrency, so every point keeps its lanes busy as long. */
export async function slowCatalog(
  latencies: number[],
  concurrencies: number[],
  runsPerLane: number,
  options: { transport?: TransportName | undefined; log?: (line: string) => void } = {},
): Promise<SlowResult> {
  const points: SlowPoint[] = [];
  for (const latencyMs of latencies) {
    for (const concurrency of concurrencies) {
      const point = await slowPoint(latencyMs, concurrency, runsPerLane * concurrency, options.transport);
      options.log?.(`  ${latencyMs} ms × ${concurrency}: ${point.runsPerSecond} runs/s, floor ${point.floorRunsPerSecond} (${Math.round(point.ofFloor * 100)} %)`);
      points.push(point);
    }
  }
  return { runsPerLane, points };
}

async function slowPoint(latencyMs: number, concurrency: number, runs: number, transport: TransportName | undefined): Promise<SlowPoint> {
  const dir = benchDir("slow");
  try {
    const dataRoot = path.join(dir, "DATA");
    // Beamtimes of at most RUNS_PER_BEAMTIME runs, as a facility's are: pushes go on between the reads of two
    // beamtime files (one file is read in one go, so a single huge one would hold them for its whole read).
    const beamtimes = Math.ceil(runs / RUNS_PER_BEAMTIME);
    const perBeamtime = Math.ceil(runs / beamtimes);
    runs = beamtimes * perBeamtime;
    generateDataRootInChild(dataRoot, beamtimes, perBeamtime, 2);
    const recording = path.join(dir, "requests.jsonl");
    const fake = await startFakeProcess(BENCH_USER, BENCH_PASSWORD, { recordTo: recording, latencyMs });
    const config = benchConfig(dataRoot, path.join(dir, "state"), fake.url, { concurrency, transport });
    const engine = await buildEngine(config, silentLogger);
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let scanMs: number;
    try {
      const { reconcile, push } = await engine.syncOnce();
      scanMs = reconcile.durationMs;
      if (push.failed + push.dead > 0) throw new Error(`slow catalog: ${push.failed} failed, ${push.dead} dead`);
    } finally {
      await engine.close();
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    await fake.stop();
    const requests = readRecording(recording);
    const floorFake = await startFakeProcess(BENCH_USER, BENCH_PASSWORD, { latencyMs });
    const floor = await replay(floorFake.url, requests, concurrency, { username: BENCH_USER, password: BENCH_PASSWORD });
    await floorFake.stop();
    const runsPerSecond = runs / seconds;
    const floorRunsPerSecond = runs / (floor.elapsedMs / 1000);
    return {
      latencyMs,
      concurrency,
      runs,
      requests: requests.length,
      seconds: round(seconds, 2),
      scanSeconds: round(scanMs / 1000, 2),
      runsPerSecond: round(runsPerSecond, 1),
      cpuMsPerRun: round((cpu.user + cpu.system) / 1000 / runs, 3),
      floorSeconds: round(floor.elapsedMs / 1000, 2),
      floorRunsPerSecond: round(floorRunsPerSecond, 1),
      ofFloor: round(runsPerSecond / floorRunsPerSecond, 2),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
