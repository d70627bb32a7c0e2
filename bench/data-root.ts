import fs from "node:fs";
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
