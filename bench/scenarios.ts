import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { buildEngine } from "../src/app/wire.js";
import type { Config } from "../src/config/schema.js";
import type { TransportName } from "../src/destinations/transport.js";
import { createScicatDestination, createScicatHttp } from "../src/destinations/scicat/index.js";
import { silentLogger } from "../src/ops/logger.js";
import { benchDir, generateDataRootInChild, stateSize } from "./data.js";
import { catalogProbe, startFakeProcess } from "./fake-process.js";
import { percentile, round, rssSampler } from "./memory.js";
import { startProfile } from "./profile.js";
import { countingHttp, readRecording, replay } from "./replay.js";
import { benchConfig, BENCH_PASSWORD as PASSWORD, BENCH_USER as USER } from "./setup.js";

async function engineCountingRequests(config: Config) {
  const http = countingHttp(createScicatHttp(config.destinations.scicat.url, config.destinations.scicat.timeoutMs, config.destinations.scicat.transport));
  const destination = createScicatDestination(config.destinations.scicat, { logger: silentLogger, http });
  const engine = await buildEngine(config, silentLogger, { destinations: [destination] });
  return { engine, http };
}

export interface ColdSyncResult {
  beamtimes: number;
  runsPerBeamtime: number;
  framesPerRun: number;
  runs: number;
  records: number;
  requests: number;
  seconds: number;
  /** The two parts of `seconds`: reading and queueing the DATA root (pushes start during it), then pushing the rest. */
  scanSeconds: number;
  pushSeconds: number;
  /** CPU time of the benchmark process (beamsync) over the whole sync: how far from one full core it ran. */
  cpuSeconds: number;
  /** The same per run (issue 18's figure: target ≤ 0.6 ms). */
  cpuMsPerRun: number;
  /** Which transport carried beamsync's requests (destinations.scicat.transport). */
  transport: TransportName;
  runsPerSecond: number;
  floorSeconds: number;
  /** CPU time of the bare client: what the HTTP work itself costs on the client side. */
  floorCpuSeconds: number;
  floorCpuMsPerRun: number;
  floorRunsPerSecond: number;
  /** The same requests through beamsync's own SciCat client (axios over `transport`), nothing else: wall and CPU time. */
  transportSeconds: number;
  transportCpuSeconds: number;
  ratioToFloor: number;
  peakRssMb: number;
  stateBytes: number;
}

/** Cold sync through the engine (the code `beamsync sync` runs), then the same requests from a bare client. */
export async function coldSync(
  beamtimes: number,
  runs: number,
  frames: number,
  options: { profileDir?: string | undefined; concurrency?: number | undefined; transport?: TransportName | undefined; previews?: boolean } = {},
): Promise<ColdSyncResult> {
  const dir = benchDir("cold");
  try {
    const dataRoot = path.join(dir, "DATA");
    generateDataRootInChild(dataRoot, beamtimes, runs, frames);
    // The fake records what it is sent (in its own process: no cost or memory charged to beamsync), for the floor.
    const recording = path.join(dir, "requests.jsonl");
    const fake = await startFakeProcess(USER, PASSWORD, { recordTo: recording });
    const config = benchConfig(dataRoot, path.join(dir, "state"), fake.url, { concurrency: options.concurrency, transport: options.transport, previews: options.previews ?? false });
    // Wired from the configuration exactly as `beamsync sync` is.
    const engine = await buildEngine(config, silentLogger);
    global.gc?.();
    const rss = rssSampler();
    const stopProfile = await startProfile(options.profileDir, "cold-sync");
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let records: number;
    let scanMs: number;
    try {
      // What `beamsync sync` runs.
      const { reconcile, push } = await engine.syncOnce();
      records = reconcile.created;
      scanMs = reconcile.durationMs;
      if (push.failed + push.dead > 0) throw new Error(`cold sync: ${push.failed} failed, ${push.dead} dead`);
    } finally {
      await engine.close();
    }
    const finished = performance.now();
    const cpu = process.cpuUsage(cpuStart);
    const seconds = (finished - started) / 1000;
    const peakRssMb = rss.stop();
    await stopProfile();
    await fake.stop();
    const requests = readRecording(recording);

    const floorFake = await startFakeProcess(USER, PASSWORD);
    const floor = await replay(floorFake.url, requests, config.sync.concurrency, { username: USER, password: PASSWORD });
    await floorFake.stop();
    const transportFake = await startFakeProcess(USER, PASSWORD);
    const transport = await replay(transportFake.url, requests, config.sync.concurrency, { username: USER, password: PASSWORD }, config.destinations.scicat.transport);
    await transportFake.stop();
    const total = beamtimes * runs;
    return {
      beamtimes,
      runsPerBeamtime: runs,
      framesPerRun: frames,
      runs: total,
      records,
      requests: requests.length,
      seconds: round(seconds, 2),
      scanSeconds: round(scanMs / 1000, 2),
      pushSeconds: round(seconds - scanMs / 1000, 2),
      cpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
      cpuMsPerRun: round((cpu.user + cpu.system) / 1000 / total, 3),
      transport: config.destinations.scicat.transport,
      runsPerSecond: Math.round(total / seconds),
      floorSeconds: round(floor.elapsedMs / 1000, 2),
      floorCpuSeconds: round(floor.cpuMs / 1000, 2),
      floorCpuMsPerRun: round(floor.cpuMs / total, 3),
      floorRunsPerSecond: Math.round(total / (floor.elapsedMs / 1000)),
      ratioToFloor: round(seconds / (floor.elapsedMs / 1000), 2),
      transportSeconds: round(transport.elapsedMs / 1000, 2),
      transportCpuSeconds: round(transport.cpuMs / 1000, 2),
      peakRssMb,
      stateBytes: stateSize(config.stateDir),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface RescanResult {
  runs: number;
  beamtimes: number;
  coldReconcileSeconds: number;
  rescanSeconds: number;
  rescanRequests: number;
  filesUnchanged: number;
  peakRssMb: number;
  stateBytes: number;
}

/** Read and queue a large DATA root once (no pushing), then rescan it with nothing changed. */
export async function noChangeRescan(beamtimes: number, runs: number): Promise<RescanResult> {
  const dir = benchDir("rescan");
  try {
    const dataRoot = path.join(dir, "DATA");
    generateDataRootInChild(dataRoot, beamtimes, runs, 0);
    const config = benchConfig(dataRoot, path.join(dir, "state"), "http://127.0.0.1:9/api");
    const { engine, http } = await engineCountingRequests(config);
    global.gc?.();
    const rss = rssSampler();
    try {
      const coldStarted = performance.now();
      await engine.reconcile();
      const coldSeconds = (performance.now() - coldStarted) / 1000;
      http.reset();
      const started = performance.now();
      const outcome = await engine.reconcile();
      const rescanSeconds = (performance.now() - started) / 1000;
      return {
        runs: beamtimes * runs,
        beamtimes,
        coldReconcileSeconds: round(coldSeconds, 2),
        rescanSeconds: round(rescanSeconds, 3),
        rescanRequests: http.count(),
        filesUnchanged: outcome.filesUnchanged,
        peakRssMb: rss.stop(),
        stateBytes: stateSize(config.stateDir),
      };
    } finally {
      await engine.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface LatencyResult {
  samples: number;
  settleMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * `beamsync run` as a subprocess; a writer in this process commits runs to a beamtime DB one after another;
 * each time, how long until the catalog has the dataset.
 */
export async function commitToCatalog(samples: number): Promise<LatencyResult> {
  // The writer's fixtures load here only: the scenarios that measure this process's memory never import them.
  const { generateDataRoot } = await import("./data-root.js");
  const { appendRun } = await import("../test/fixtures/resonance/append-run.js");
  const dir = benchDir("latency");
  const fake = await startFakeProcess(USER, PASSWORD);
  let daemon: ReturnType<typeof spawn> | undefined;
  try {
    const dataRoot = path.join(dir, "DATA");
    const written = generateDataRoot(dataRoot, 2, 5, 0);
    const config = benchConfig(dataRoot, path.join(dir, "state"), fake.url);
    const configFile = path.join(dir, "beamsync.yaml");
    fs.writeFileSync(
      configFile,
      YAML.stringify({
        dataRoot,
        stateDir: config.stateDir,
        sources: { bluesky: { enabled: false } },
        destinations: { scicat: { url: fake.url, username: USER, password: PASSWORD, pidPrefix: "bench/" } },
        http: { enabled: false },
        log: { level: "warn" },
      }),
    );
    const bin = path.resolve(import.meta.dirname, "../../bin/beamsync.js");
    daemon = spawn(process.execPath, [bin, "run", "--config", configFile], { stdio: ["ignore", "ignore", "inherit"] });
    const probe = await catalogProbe(fake.url, USER, PASSWORD);
    const first = written.beamtimes[0]!;
    await waitUntil(() => probe.hasDataset(`bench/${first.runs[first.runs.length - 1]!.uid}`), 60_000);
    const db = first.absDbPath;
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const { uid } = appendRun({ db, plan: "latency" });
      const committed = performance.now();
      await waitUntil(() => probe.hasDataset(`bench/${uid}`), 30_000, 5);
      latencies.push(performance.now() - committed);
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      samples,
      settleMs: config.sync.settleMs,
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(Math.max(...latencies)),
    };
  } finally {
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon?.once("exit", r));
      daemon.kill("SIGTERM");
      await exited;
    }
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the catalog");
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
