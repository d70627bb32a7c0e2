import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { VERSION } from "../src/version.js";
import { blueskyParse, type ParseResult } from "./parse.js";
import { TRANSPORTS, type TransportName } from "../src/destinations/transport.js";
import { coldSync, commitToCatalog, noChangeRescan, type ColdSyncResult, type LatencyResult, type RescanResult } from "./scenarios.js";
import { slowCatalog, type SlowResult } from "./slow.js";
import { severalWorkers, type WorkersResult } from "./workers.js";

/**
 * `npm run bench`: the figures issue 7 asks for, on this machine. Sizes are flags so a small machine or a quick
 * check can run it too (`--quick`). Writes bench/results.json and bench/results.md.
 */
const { values } = parseArgs({
  strict: true,
  options: {
    quick: { type: "boolean", default: false },
    beamtimes: { type: "string" },
    runs: { type: "string" },
    frames: { type: "string" },
    "rescan-beamtimes": { type: "string" },
    "rescan-runs": { type: "string" },
    "latency-samples": { type: "string" },
    "parse-mb": { type: "string" },
    out: { type: "string" },
    only: { type: "string" },
    profile: { type: "string" },
    concurrency: { type: "string" },
    transport: { type: "string" },
    /** Cold sync with previews on (a what-if: their own cost). */
    previews: { type: "boolean", default: false },
    latencies: { type: "string" },
    concurrencies: { type: "string" },
    "runs-per-lane": { type: "string" },
    "workers-runs": { type: "string" },
  },
});

const quick = values.quick ?? false;
const num = (v: string | undefined, full: number, small: number) => (v !== undefined ? Number(v) : quick ? small : full);
const sizes = {
  beamtimes: num(values.beamtimes, 20, 2),
  runs: num(values.runs, 500, 20),
  frames: num(values.frames, 2, 1),
  rescanBeamtimes: num(values["rescan-beamtimes"], 200, 4),
  rescanRuns: num(values["rescan-runs"], 500, 50),
  latencySamples: num(values["latency-samples"], 40, 5),
  parseMb: num(values["parse-mb"], 64, 2),
  runsPerLane: num(values["runs-per-lane"], 40, 5),
  workersRuns: num(values["workers-runs"], 2000, 300),
};
/** Several workers: the slow catalog's first latency, each worker at 16 pushes, leases of 30 s. */
const workersOptions = { latencyMs: 20, concurrency: 16, leaseMs: 30_000 };
const list = (v: string | undefined, full: number[], small: number[]) => (v !== undefined ? v.split(",").map(Number) : quick ? small : full);
const latencies = list(values.latencies, [20, 80], [20]);
const concurrencies = list(values.concurrencies, [1, 4, 16, 64], [1, 16]);
if (values.transport !== undefined && !(TRANSPORTS as readonly string[]).includes(values.transport)) throw new Error(`--transport: one of ${TRANSPORTS.join(", ")}`);
if (values.previews && values.only === undefined) throw new Error("--previews goes with --only");
const transport = values.transport as TransportName | undefined;
const coldOptions = {
  profileDir: values.profile,
  concurrency: values.concurrency !== undefined ? Number(values.concurrency) : undefined,
  transport,
  previews: values.previews ?? false,
};
const outDir = values.out ?? path.resolve(import.meta.dirname, "../../bench");

interface Results {
  beamsync: string;
  date: string;
  machine: { cores: number; cpu: string; memoryGb: number; node: string; platform: string };
  quick: boolean;
  coldSync: ColdSyncResult;
  rescan: RescanResult;
  latency: LatencyResult;
  parse: ParseResult;
  slow: SlowResult;
  workers: WorkersResult;
}

const SCENARIOS = ["cold", "slow", "rescan", "latency", "parse", "workers"] as const;

/** `--only cold,parse`: run just those and print their figures as JSON, leaving the committed results alone. */
async function runOnly(names: string[]): Promise<void> {
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`--only: unknown scenario ${unknown.join(", ")} (choose from ${SCENARIOS.join(", ")})`);
  const out: Record<string, unknown> = {};
  if (names.includes("cold")) out.coldSync = await coldSync(sizes.beamtimes, sizes.runs, sizes.frames, coldOptions);
  if (names.includes("slow")) out.slow = await slowCatalog(latencies, concurrencies, sizes.runsPerLane, { transport, log: (line) => process.stderr.write(`${line}\n`) });
  if (names.includes("rescan")) out.rescan = await noChangeRescan(sizes.rescanBeamtimes, sizes.rescanRuns);
  if (names.includes("latency")) out.latency = await commitToCatalog(sizes.latencySamples);
  if (names.includes("parse")) out.parse = await blueskyParse(sizes.parseMb);
  if (names.includes("workers")) out.workers = await severalWorkers(sizes.workersRuns, { ...workersOptions, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

/**
 * Each scenario in a process of its own (this script with --only), so that one's memory, JIT state and garbage
 * do not show in the next one's figures (peak RSS above all).
 */
function inChild<T>(scenario: (typeof SCENARIOS)[number], key: string): T {
  const passOn = process.argv.slice(2).filter((arg) => arg !== "--quick");
  const args = ["--expose-gc", import.meta.filename, ...passOn, ...(quick ? ["--quick"] : []), "--only", scenario];
  const stdout = execFileSync(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 16 * 2 ** 20 }).toString();
  return (JSON.parse(stdout) as Record<string, T>)[key]!;
}

async function main(): Promise<void> {
  if (values.only !== undefined) return runOnly(values.only.split(",").map((s) => s.trim()));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`cold sync: ${sizes.beamtimes} beamtimes × ${sizes.runs} runs, ${sizes.frames} frame file(s) per run`);
  const cold = inChild<ColdSyncResult>("cold", "coldSync");
  log(`  ${cold.runsPerSecond} runs/s (floor ${cold.floorRunsPerSecond} runs/s, ratio ${cold.ratioToFloor}), ${cold.cpuMsPerRun} ms CPU per run`);
  log(`slow catalog: latency ${latencies.join(", ")} ms × concurrency ${concurrencies.join(", ")}, ${sizes.runsPerLane} runs per lane`);
  const slow = inChild<SlowResult>("slow", "slow");
  log(`no-change rescan: ${sizes.rescanBeamtimes} beamtimes × ${sizes.rescanRuns} runs`);
  const rescan = inChild<RescanResult>("rescan", "rescan");
  log(`  ${rescan.rescanSeconds} s, ${rescan.rescanRequests} requests`);
  log(`commit to catalog: ${sizes.latencySamples} runs appended while \`beamsync run\` watches`);
  const latency = inChild<LatencyResult>("latency", "latency");
  log(`  p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms`);
  log(`bluesky parse: ${sizes.parseMb} MB of documents`);
  const parse = inChild<ParseResult>("parse", "parse");
  log(`  ${parse.mbPerSecond} MB/s, ${parse.documentsPerSecond} documents/s`);
  log(`several workers on PostgreSQL: ${sizes.workersRuns} runs, latency ${workersOptions.latencyMs} ms, concurrency ${workersOptions.concurrency} per worker`);
  const workers = inChild<WorkersResult>("workers", "workers");

  const results: Results = {
    beamsync: VERSION,
    date: new Date().toISOString(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    quick,
    coldSync: cold,
    rescan,
    latency,
    parse,
    slow,
    workers,
  };
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, "results.md"), markdown(results));
  log(`wrote ${path.join(outDir, "results.json")} and results.md`);
}

function markdown(r: Results): string {
  const c = r.coldSync;
  const s = r.rescan;
  const l = r.latency;
  const p = r.parse;
  const w = r.workers;
  const mark = (ok: boolean) => (ok ? "✅" : "❌");
  return `# beamsync benchmark

${r.date} · beamsync ${r.beamsync} · ${r.machine.cores} cores (${r.machine.cpu}) · ${r.machine.memoryGb} GiB · Node ${r.machine.node} · ${r.machine.platform}${r.quick ? " · **quick run (small sizes)**" : ""}

| measure | result | target | |
|---|---|---|---|
| cold sync, ${c.beamtimes} × ${c.runsPerBeamtime} runs (${c.framesPerRun} frame files each) | ${c.runsPerSecond} runs/s (${c.seconds} s, ${c.requests} requests) | ≥ 1,000 runs/s | ${mark(c.runsPerSecond >= 1000)} |
| of which: read + queue (pushes already running) / pushing after it; CPU time of the beamsync process | ${c.scanSeconds} s / ${c.pushSeconds} s; ${c.cpuSeconds} s CPU | — | |
| beamsync's CPU time (user + system) per run | ${c.cpuMsPerRun} ms (the floor's client: ${c.floorCpuMsPerRun} ms) | ≤ 0.6 ms | ${mark(c.cpuMsPerRun <= 0.6)} |
| floor: bare keep-alive client, same requests | ${c.floorRunsPerSecond} runs/s (${c.floorSeconds} s, ${c.floorCpuSeconds} s CPU) | — | |
| the same requests through beamsync's HTTP client alone (axios over ${c.transport}) | ${c.transportSeconds} s, ${c.transportCpuSeconds} s CPU | — | |
| beamsync ÷ floor (time) | ${c.ratioToFloor}× | ≤ 2× | ${mark(c.ratioToFloor <= 2)} |
| no-change rescan, ${s.runs.toLocaleString("en")} runs in ${s.beamtimes} DBs | ${s.rescanSeconds} s, ${s.rescanRequests} requests | ≤ 1 s, 0 requests | ${mark(s.rescanSeconds <= 1 && s.rescanRequests === 0)} |
| first read + queue of those runs (no push) | ${s.coldReconcileSeconds} s | — | |
| commit → catalog with \`beamsync run\` (${l.samples} runs, settle ${l.settleMs} ms) | p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms (max ${l.maxMs}) | p50 ≤ 500 ms | ${mark(l.p50Ms <= 500)} |
| peak RSS, ${s.runs.toLocaleString("en")} runs read and queued | ${s.peakRssMb} MB | ≤ 200 MB | ${mark(s.peakRssMb <= 200)} |
| peak RSS, cold sync of ${c.runs.toLocaleString("en")} runs | ${c.peakRssMb} MB | — | |
| state store after ${s.runs.toLocaleString("en")} runs / after cold sync | ${(s.stateBytes / 2 ** 20).toFixed(1)} MiB / ${(c.stateBytes / 2 ** 20).toFixed(1)} MiB | — | |
| bluesky parse (${p.encoding}, ${p.megabytes} MB, ${p.documents.toLocaleString("en")} documents) | ${p.mbPerSecond} MB/s, ${p.documentsPerSecond.toLocaleString("en")} documents/s | — | |

Slow catalog: every request answered ${[...new Set(r.slow.points.map((q) => q.latencyMs))].join(" or ")} ms late; beamsync's whole \`sync\` of a fresh DATA root (${r.slow.runsPerLane} runs per unit of
concurrency) beside a bare keep-alive client sending the same requests at the same concurrency (the floor).

| latency | concurrency | runs | beamsync | floor | of floor (≥ 90 %) | |
|---|---|---|---|---|---|---|
${r.slow.points.map((q) => `| ${q.latencyMs} ms | ${q.concurrency} | ${q.runs} | ${q.runsPerSecond} runs/s (${q.cpuMsPerRun} ms CPU/run) | ${q.floorRunsPerSecond} runs/s | ${Math.round(q.ofFloor * 100)} % | ${mark(q.ofFloor >= 0.9)} |`).join("\n")}

${w.skipped ? `Several workers on one PostgreSQL state: not measured (${w.skipped}).\n` : `Several workers on one PostgreSQL state: \`beamsync run\` processes on one DATA root, every request answered ${w.latencyMs} ms late,
${w.concurrencyPerWorker} pushes in flight per worker; from their start (scan included) until every record is in the catalog.

| workers | runs | runs/s | time |
|---|---|---|---|
${w.points.map((q) => `| ${q.workers} | ${q.runs} | ${q.runsPerSecond} | ${q.seconds} s |`).join("\n")}

Failover: three workers pushing, the one holding the most leases killed (SIGKILL): its ${w.failover.leasedAtKill} leased records were in the
catalog ${w.failover.secondsUntilInCatalog} s later (a worker on the same host is found dead at the next lease renewal; one on another
host only when its lease runs out, sync.leaseMs = ${w.leaseMs / 1000} s here).
`}
Reproduce: \`npm run bench\` (full sizes, about five minutes on 2 cores) or \`npm run bench -- --quick\`; one scenario with
\`npm run bench -- --only cold\` (or \`slow\`, \`rescan\`, \`latency\`, \`parse\`, \`workers\`), which prints JSON and writes nothing.
The fake SciCat runs in its own process; beamsync runs in the benchmark process (cold sync, rescan) or as
\`beamsync run\` (commit → catalog). Each scenario runs in a process of its own; peak RSS is that process's,
sampled every 25 ms. The fake records the requests it is sent; the floor and the transport-only line send those
same requests again, once through a bare \`node:http\` client and once through beamsync's SciCat transport.
`;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
