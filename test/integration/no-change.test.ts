import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { describe, expect, it } from "vitest";
import { runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { runCli } from "../support/cli.js";
import { closedBeamtime, worldPerTest } from "../support/scicat-setup.js";

/**
 * Issue 13, item 3: one source of truth per field. With nothing changed on disk, a sync reports no update for
 * any kind of record, even when every file is read again: the instrument keeps its configured name whichever run
 * names it, and a proposal's record does not take a field from whichever of its runs happens to be read.
 */

const worlds = worldPerTest();

describe("a sync with nothing changed on disk", () => {
  it("reports no update for any kind of record", async () => {
    const w = await worlds.open(
      {
        beamtimes: [
          // Two beamtimes of one proposal, with their own labels, dates and descriptions.
          closedBeamtime("2026-03-05", { extra: { proposal_id: "P-1" }, timeStart: 1772668800, timeStop: 1772755200 }),
          closedBeamtime("2026-03-07", { extra: { proposal_id: "P-1" }, description: "second visit" }),
          closedBeamtime("2026-03-06", { researcher: "Lise Meitner" }),
        ],
      },
      { config: { sources: { bluesky: { enabled: true } }, mapping: { ownerGroup: "p{proposalId}", accessGroups: ["{beamline}-staff"], instrument: "bl-1", instrumentName: "Beamline One" } } },
    );
    // Two runs of one proposal by two people, on the configured instrument, measuring the same sample.
    const start = { proposal_id: "P-2", beamline_id: "bl-1", sample_name: "Si" };
    writeRunFile(path.join(w.dataRoot, "bluesky", "one.jsonl"), runDocuments({ uid: "c0000000-0000-4000-8000-000000000001", extraStart: { ...start, owner: "Ada Lovelace" } }), "jsonl-pairs");
    writeRunFile(path.join(w.dataRoot, "bluesky", "two.jsonl"), runDocuments({ uid: "c0000000-0000-4000-8000-000000000002", extraStart: { ...start, owner: "prjemian@zap" } }), "jsonl-pairs");

    const first = await runCli(["sync", "--config", w.configFile]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(w.scicat.instruments()).toEqual([expect.objectContaining({ uniqueName: "bl-1", name: "Beamline One" })]);

    // Every file read again (as after a restart with new watermarks), against the state store and the catalog.
    const dry = JSON.parse((await runCli(["sync", "--dry-run", "--json", "--config", w.configFile])).stdout) as { changes: unknown[] };
    expect(dry.changes).toEqual([]);

    // The same through `sync`: forget the watermarks so every file is read again, unchanged.
    const state = new Database(path.join(w.stateDir, "beamsync.sqlite"));
    state.prepare("UPDATE sources SET mtime_ms = -1").run();
    state.close();
    w.scicat.resetRequests();
    const again = await runCli(["sync", "--json", "--config", w.configFile]);
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as { reconcile: { created: number; updated: number; filesRead: number } };
    expect(summary.reconcile.filesRead).toBeGreaterThan(0);
    expect({ created: summary.reconcile.created, updated: summary.reconcile.updated }).toEqual({ created: 0, updated: 0 });
    expect(w.scicat.writeCount()).toBe(0);
  });
});
