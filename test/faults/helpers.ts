import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import type { ScicatWorld } from "../support/scicat-setup.js";

/** The full fault suite (`npm run test:faults`) runs more of everything; CI runs the share below on every change. */
export const FULL = process.env.BEAMSYNC_FAULT_SUITE === "full";

/** Every closed run of the world is in the catalog exactly once, its files listed once. */
export function assertExactlyOnce(world: ScicatWorld, expect: (v: unknown, m?: string) => { toBe(x: unknown): void; toEqual(x: unknown): void }): { datasets: number; duplicates: number } {
  const closed = world.written.beamtimes.flatMap((b) => b.runs.filter((r) => r.state !== "open").map((r) => `test/${r.uid}`));
  const datasets = world.scicat.datasets().map((d) => String(d.pid));
  let duplicates = datasets.length - new Set(datasets).size;
  expect([...new Set(datasets)].sort(), "datasets").toEqual([...closed].sort());
  for (const pid of datasets) {
    const paths = world.scicat.origdatablocks(pid).flatMap((b) => (b.dataFileList as { path: string }[]).map((f) => f.path));
    duplicates += paths.length - new Set(paths).size;
  }
  expect(duplicates, "duplicated datasets or files").toBe(0);
  return { datasets: datasets.length, duplicates };
}

/** Content hash of every file under a directory (to prove beamsync changed nothing). */
export function treeDigest(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.set(path.relative(root, full), createHash("sha256").update(fs.readFileSync(full)).digest("hex"));
      else out.set(path.relative(root, full), entry.isSymbolicLink() ? `link:${fs.readlinkSync(full)}` : "other");
    }
  };
  walk(root);
  return out;
}

/** Figures the suite reports (printed at the end so they can be quoted). */
export const figures = { faultsInjected: 0, crashes: 0, recordsLost: 0, duplicates: 0 };
