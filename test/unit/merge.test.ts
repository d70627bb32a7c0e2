import { describe, expect, it } from "vitest";
import { NO_SOURCE_WINS, planUpdate, type MergeRules } from "../../src/destinations/scicat/merge.js";

const rules: MergeRules = { immutable: ["pid"], objectFields: ["scientificMetadata"], setFields: ["keywords"], sourceWins: NO_SOURCE_WINS };

describe("planUpdate: what an update sends so that curators' edits survive", () => {
  it("sends a field whose mapped value changed while the catalog still holds what beamsync wrote", () => {
    const plan = planUpdate({ pid: "p", datasetName: "old" }, { pid: "p", datasetName: "new" }, { pid: "p", datasetName: "old" }, rules);
    expect(plan.changes).toEqual({ datasetName: "new" });
    expect(plan.written).toEqual({ pid: "p", datasetName: "new" });
    expect(plan.conflicts).toEqual([]);
  });

  it("keeps a curator's edit of a field whose mapped value did not change, silently", () => {
    const plan = planUpdate({ datasetName: "curated" }, { datasetName: "mapped" }, { datasetName: "mapped" }, rules);
    expect(plan.changes).toEqual({});
    expect(plan.conflicts).toEqual([]);
  });

  it("keeps the catalog's value and reports a conflict when both sides changed it", () => {
    const plan = planUpdate({ datasetName: "curated" }, { datasetName: "new" }, { datasetName: "old" }, rules);
    expect(plan.changes).toEqual({});
    expect(plan.conflicts).toEqual([{ field: "datasetName", catalog: "curated", source: "new", lastWritten: "old" }]);
    // What beamsync wrote stays the memory, so the conflict is met again until someone decides.
    expect(plan.written).toEqual({ datasetName: "old" });
  });

  it("lets the source win where configured, and everywhere without a memory (rebuilt state, resync --force)", () => {
    const wins = planUpdate({ datasetName: "curated" }, { datasetName: "new" }, { datasetName: "old" }, { ...rules, sourceWins: (f) => f === "datasetName" });
    expect(wins.changes).toEqual({ datasetName: "new" });
    const forgotten = planUpdate({ datasetName: "curated" }, { datasetName: "new" }, undefined, rules);
    expect(forgotten.changes).toEqual({ datasetName: "new" });
  });

  it("merges scientificMetadata key by key: curator keys stay, keys beamsync stopped mapping go, server-added valueSI is no change", () => {
    const catalog = { scientificMetadata: { run: { uid: "u", n: 1 }, energy: { value: 280, unit: "eV", valueSI: 4.5e-17, unitSI: "J" }, note: "curator", gone: 1 } };
    const before = { scientificMetadata: { run: { uid: "u", n: 1 }, energy: { value: 280, unit: "eV" }, gone: 1 } };
    const source = { scientificMetadata: { run: { uid: "u", n: 2 }, energy: { value: 280, unit: "eV" } } };
    const plan = planUpdate(catalog, source, before, rules);
    expect(plan.changes).toEqual({ scientificMetadata: { run: { uid: "u", n: 2 }, energy: catalog.scientificMetadata.energy, note: "curator" } });
    expect(plan.written).toEqual(source);
    expect(planUpdate(catalog, { scientificMetadata: before.scientificMetadata }, before, rules).changes).toEqual({});
  });

  it("reports a conflict inside scientificMetadata by its key, and honours sourceWins for that key", () => {
    const catalog = { scientificMetadata: { sample: "curated" } };
    const plan = planUpdate(catalog, { scientificMetadata: { sample: "new" } }, { scientificMetadata: { sample: "old" } }, rules);
    expect(plan.conflicts.map((c) => c.field)).toEqual(["scientificMetadata.sample"]);
    expect(plan.changes).toEqual({});
    const wins = planUpdate(catalog, { scientificMetadata: { sample: "new" } }, { scientificMetadata: { sample: "old" } }, { ...rules, sourceWins: (f) => f === "scientificMetadata.sample" });
    expect(wins.changes).toEqual({ scientificMetadata: { sample: "new" } });
  });

  it("merges keywords as a set: a curator's keyword stays, one beamsync dropped goes, a new one comes", () => {
    const plan = planUpdate({ keywords: ["a", "curated", "b"] }, { keywords: ["a", "c"] }, { keywords: ["a", "b"] }, rules);
    expect(plan.changes).toEqual({ keywords: ["a", "curated", "c"] });
    expect(planUpdate({ keywords: ["a", "curated"] }, { keywords: ["a"] }, { keywords: ["a"] }, rules).changes).toEqual({});
  });

  it("never sends an immutable field, and compares dates by instant", () => {
    const plan = planUpdate({ pid: "x", startTime: "2026-03-05T10:00:00.000Z" }, { pid: "y", startTime: "2026-03-05T10:00:00Z" }, undefined, rules);
    expect(plan.changes).toEqual({});
  });
});
