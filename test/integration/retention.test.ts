import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { closedBeamtime as bt, worldPerTest } from "../support/scicat-setup.js";

/** Years of operation: the state store's own history is trimmed as configured, and only that. */

const worlds = worldPerTest();

describe("upload_log retention", () => {
  it("removes attempts older than sync.uploadLogRetentionDays at a full scan and keeps the rest", async () => {
    const w = await worlds.open({ beamtimes: [bt("kept")] }, { config: { sync: { backoffBaseMs: 20, backoffMaxMs: 200, concurrency: 4, shutdownTimeoutMs: 3000, uploadLogRetentionDays: 30 } } });
    expect((await runCli(["sync", "--config", w.configFile])).code).toBe(0);
    const recent = w.uploadLog().length;
    expect(recent).toBeGreaterThan(0);
    // Two years of history written by an earlier beamsync.
    const db = new Database(path.join(w.stateDir, "beamsync.sqlite"));
    const insert = db.prepare("INSERT INTO upload_log (session_identifier, destination_name, success, timestamp, metadata_json) VALUES (?, 'scicat', 1, ?, '{}')");
    for (let day = 40; day < 770; day++) insert.run(`old-${day}`, new Date(Date.now() - day * 86_400_000).toISOString());
    insert.run("last-week", new Date(Date.now() - 7 * 86_400_000).toISOString());
    db.close();

    const again = JSON.parse((await runCli(["sync", "--json", "--config", w.configFile])).stdout) as { reconcile: { logRowsRemoved: number } };
    expect(again.reconcile.logRowsRemoved).toBe(730);
    const left = w.uploadLog().map((r) => r.session_identifier);
    expect(left).toHaveLength(recent + 1);
    expect(left).toContain("last-week");
    expect(left.some((s) => s.startsWith("old-"))).toBe(false);
  });
});
