import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDataRoot, manyRuns, type WrittenDataRoot } from "../test/fixtures/resonance/index.js";

/** A generated DATA root of `beamtimes × runs` closed runs with `frames` Zarr chunk files each. */
export function generateDataRoot(dir: string, beamtimes: number, runs: number, frames: number): WrittenDataRoot {
  fs.mkdirSync(dir, { recursive: true });
  return createDataRoot(dir, {
    beamtimes: Array.from({ length: beamtimes }, (_, b) => ({
      label: `2026-${String(1 + (b % 12)).padStart(2, "0")}-${String(1 + (b % 28)).padStart(2, "0")}-${b}`,
      researcher: `Researcher ${b % 7}`,
      samples: [{ name: `sample ${b}a` }, { name: `sample ${b}b` }],
      runs: manyRuns(runs, () => ({ state: "closed", frames, events: Math.max(3, frames) })),
    })),
    runsPerTransaction: runs,
    synchronous: "OFF",
  });
}

/** The same, in a child process (see generate.ts). */
export function generateDataRootInChild(dir: string, beamtimes: number, runs: number, frames: number): void {
  execFileSync(process.execPath, [path.join(import.meta.dirname, "generate.js"), dir, String(beamtimes), String(runs), String(frames)], { stdio: "inherit" });
}

export function benchDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `beamsync-bench-${name}-`));
}

/** Bytes of the state store (the database and its WAL). */
export function stateSize(stateDir: string): number {
  let total = 0;
  for (const f of ["beamsync.sqlite", "beamsync.sqlite-wal"]) {
    try {
      total += fs.statSync(path.join(stateDir, f)).size;
    } catch {
      // absent
    }
  }
  return total;
}
