import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/ops/logger.js";
import { DataWatcher, type WatchedChange } from "../../src/sources/watcher.js";
import { waitFor } from "../support/cli.js";

/**
 * The watcher reads a new folder and only then watches it, so a file written in between has no event of its own
 * (the daemon test "pushes … a new document file" once waited 30 s for one). A new folder therefore asks for a
 * full pass.
 */
describe("DataWatcher", () => {
  let dir: string;
  let watcher: DataWatcher | undefined;
  const changes: WatchedChange[] = [];

  afterEach(async () => {
    await watcher?.close();
    watcher = undefined;
    changes.length = 0;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function watch(): Promise<void> {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-watch-"));
    fs.mkdirSync(path.join(dir, "old"));
    watcher = new DataWatcher({ dataRoot: dir, settleMs: 50, usePolling: false, intervalMs: 100, logger: silentLogger, onChange: (c) => changes.push(c) });
    await watcher.start();
  }

  it("asks for a full pass when a folder appears, once its burst has settled", async () => {
    await watch();
    fs.mkdirSync(path.join(dir, "docs"));
    fs.writeFileSync(path.join(dir, "docs", "scan_1.jsonl"), "[]\n");
    await waitFor(() => changes.some((c) => c.newFolder), { what: "a change with a new folder" });
    // One settled burst: the folder and its file come in one change, not one change each.
    expect(changes.filter((c) => c.newFolder)).toHaveLength(1);
  });

  it("reports a changed file alone as a path, without a full pass", async () => {
    await watch();
    fs.writeFileSync(path.join(dir, "old", "beamtime.db"), "x");
    await waitFor(() => changes.length > 0, { what: "a change" });
    await new Promise((r) => setTimeout(r, 200));
    // A slow machine may split the write's events over two settle times; neither asks for a full pass.
    expect(new Set(changes.flatMap((c) => [...c.paths]))).toEqual(new Set(["old/beamtime.db"]));
    expect(changes.every((c) => !c.newFolder)).toBe(true);
  });

  it("takes no notice of folders inside a Zarr store", async () => {
    await watch();
    fs.mkdirSync(path.join(dir, "old", "beamtime.zarr", "runs", "r1"), { recursive: true });
    fs.writeFileSync(path.join(dir, "old", "beamtime.db"), "x");
    await waitFor(() => changes.length > 0, { what: "a change" });
    await new Promise((r) => setTimeout(r, 200));
    // The .zarr folder itself is ignored with all under it; only the DB's write is reported.
    expect(changes.every((c) => !c.newFolder)).toBe(true);
  });
});
