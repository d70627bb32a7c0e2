import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeRecord } from "../../src/mapping/record.js";
import { createMetrics, RECORD_STATES } from "../../src/ops/metrics.js";
import { SqliteStateStore } from "../../src/state/sqlite-store.js";
import { VERSION } from "../../src/version.js";

/** Issue 16.6: names stock dashboards know, every series from the start, and record counts that add up. */

let dir: string;
let store: SqliteStateStore;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-metrics-"));
  store = SqliteStateStore.open(dir);
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `name{labels} value` lines of the exposition text, as a map. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) map.set(match[1]!, Number(match[2]));
  }
  return map;
}

async function scrape(down: string[] = []) {
  const metrics = createMetrics(store, { destinations: () => ["scicat", "icat"], destinationsDown: () => down });
  return samples(await metrics.registry.metrics());
}

describe("metrics", () => {
  it("keeps the Prometheus client's process_* and nodejs_* names, without a prefix of ours", async () => {
    const metrics = await scrape();
    const names = [...metrics.keys()];
    expect(names).toContain("process_cpu_seconds_total");
    expect(names).toContain("process_start_time_seconds");
    expect(names.some((n) => n.startsWith("nodejs_heap_size_used_bytes"))).toBe(true);
    expect(names.filter((n) => /^beamsync_(process|nodejs)_/.test(n))).toEqual([]);
  });

  it("exports every destination × state and destination_down at 0 before anything happened", async () => {
    const metrics = await scrape();
    for (const destination of ["scicat", "icat"]) {
      for (const state of RECORD_STATES) expect(metrics.get(`beamsync_records{destination="${destination}",state="${state}"}`), `${destination} ${state}`).toBe(0);
      expect(metrics.get(`beamsync_destination_down{destination="${destination}"}`)).toBe(0);
    }
    expect(metrics.get("beamsync_last_scan_timestamp_seconds")).toBe(0);
    expect(metrics.get(`beamsync_build_info{version="${VERSION}",node="${process.versions.node}"}`)).toBe(1);
  });

  it("counts a record waiting for its dependency as waiting only, so the states add up to the records", async () => {
    const proposal = makeRecord({ destination: "scicat", kind: "proposal", key: "P1", beamtimeKey: "bt.db", payload: { title: "t" }, dependsOn: [] });
    const datasets = [1, 2, 3].map((i) =>
      makeRecord({ destination: "scicat", kind: "dataset", key: `ds${i}`, runUid: `run${i}`, payload: { n: i }, dependsOn: ["scicat/proposal/P1"] }),
    );
    await store.reconcile([proposal, ...datasets], []);
    const metrics = await scrape(["icat"]);
    const scicat = Object.fromEntries(RECORD_STATES.map((state) => [state, metrics.get(`beamsync_records{destination="scicat",state="${state}"}`)]));
    expect(scicat).toEqual({ synced: 0, pending: 1, waiting: 3, failed: 0, dead: 0 });
    expect(Object.values(scicat).reduce((a, b) => (a ?? 0) + (b ?? 0), 0)).toBe(4);
    expect(metrics.get('beamsync_destination_down{destination="icat"}')).toBe(1);
    expect(metrics.get('beamsync_destination_down{destination="scicat"}')).toBe(0);
  });
});
