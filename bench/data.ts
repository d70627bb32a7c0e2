import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * A generated DATA root (see data-root.ts), written by a child process: the generator and the fixtures it loads
 * (zstd as WebAssembly, about 12 MB resident) stay out of the process whose memory the benchmark measures.
 */
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
