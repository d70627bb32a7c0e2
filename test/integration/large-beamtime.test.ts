import path from "node:path";
import { describe, expect, it } from "vitest";
import { Database } from "../../src/sqlite.js";
import { manyRuns } from "../fixtures/resonance/index.js";
import { runCli } from "../support/cli.js";
import { worldPerTest } from "../support/scicat-setup.js";

/**
 * A beamtime of more runs than the engine maps at once (it maps and queues 100 runs at a time, so a large first
 * scan does not hold every payload together): every run is queued and pushed once, and the records every slice
 * maps (the Instrument) are counted once per file, as when a file was one batch.
 */

const worlds = worldPerTest();
const RUNS = 230;

describe("a beamtime larger than one mapping slice", () => {
  it("queues every run once, and a second read of the file finds each record unchanged once", async () => {
    const w = await worlds.open({
      beamtimes: [{ label: "2026-04-01", researcher: "Marie Curie", samples: [{ name: "Si" }], runs: manyRuns(RUNS, (i) => ({ state: "closed", frames: i % 50 === 0 ? 1 : 0 })) }],
    });
    const first = await runCli(["sync", "--json", "--config", w.configFile]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const created = (JSON.parse(first.stdout) as { reconcile: { created: number } }).reconcile.created;
    expect(w.scicat.datasets()).toHaveLength(RUNS);
    expect(w.scicat.instruments()).toHaveLength(1);

    const state = new Database(path.join(w.stateDir, "beamsync.sqlite"));
    try {
      const records = state.prepare("SELECT COUNT(*) FROM records").pluck().get() as number;
      expect(created).toBe(records);
      // The watermark came with the last slice: the file counts as read.
      expect(state.prepare("SELECT COUNT(*) FROM sources WHERE source = 'resonance' AND path LIKE '%.db'").pluck().get()).toBeGreaterThan(0);
      state.prepare("UPDATE sources SET mtime_ms = -1").run();
    } finally {
      state.close();
    }
    w.scicat.resetRequests();
    const again = await runCli(["sync", "--json", "--config", w.configFile]);
    expect(again.code, again.stderr).toBe(0);
    const counts = (JSON.parse(again.stdout) as { reconcile: { created: number; updated: number; unchanged: number } }).reconcile;
    expect(counts).toMatchObject({ created: 0, updated: 0, unchanged: created });
    expect(w.scicat.writeCount()).toBe(0);
  });
});
