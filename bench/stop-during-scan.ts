import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { benchDir } from "./data.js";
import { generateDataRoot } from "./data-root.js";

/**
 * How long `beamsync run` takes to exit when SIGTERM arrives during its first scan (issue 15, item 4).
 * Usage: npm run build && node dist/bench/stop-during-scan.js [beamtimes=50] [runs=1000]
 * The catalog is an address nobody listens on: the scan maps and queues everything, no push succeeds.
 */
const beamtimes = Number(process.argv[2] ?? 50);
const runs = Number(process.argv[3] ?? 1000);
const dir = benchDir("stop");
const dataRoot = path.join(dir, "DATA");
generateDataRoot(dataRoot, beamtimes, runs, 0);
const config = path.join(dir, "beamsync.yaml");
fs.writeFileSync(
  config,
  [
    `dataRoot: ${dataRoot}`,
    `stateDir: ${path.join(dir, "state")}`,
    `destinations: { scicat: { url: "http://127.0.0.1:9/api", username: bench, password: bench-unused } }`,
    `mapping: { ownerGroup: g, accessGroups: [a], instrument: i }`,
    `http: { enabled: false }`,
    `sync: { shutdownTimeoutMs: 3000 }`,
  ].join("\n"),
);
const bin = path.resolve(import.meta.dirname, "../../bin/beamsync.js");
const child = spawn(process.execPath, [bin, "run", "--config", config], { stdio: ["ignore", "pipe", "inherit"] });
let signalledAt = 0;
child.stdout.on("data", (chunk: Buffer) => {
  if (signalledAt === 0 && chunk.toString().includes("beamsync daemon started")) {
    signalledAt = Date.now();
    child.kill("SIGTERM");
  }
});
child.on("close", (code) => {
  console.log(`${beamtimes * runs} runs in ${beamtimes} beamtimes: exit ${code} ${Date.now() - signalledAt} ms after SIGTERM`);
  fs.rmSync(dir, { recursive: true, force: true });
});
