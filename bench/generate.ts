/**
 * Writes a benchmark DATA root in a process of its own, so the memory the generator used is not counted as
 * beamsync's: `node dist/bench/generate.js <dir> <beamtimes> <runs> <frames>`.
 */
import { generateDataRoot } from "./data-root.js";

const [dir, beamtimes, runs, frames] = process.argv.slice(2);
if (!dir) throw new Error("usage: generate.js <dir> <beamtimes> <runs> <frames>");
generateDataRoot(dir, Number(beamtimes), Number(runs), Number(frames));
