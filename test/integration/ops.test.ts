import { describe, expect, it } from "vitest";
import { spawnCli, waitFor } from "../support/cli.js";
import { worldPerTest } from "../support/scicat-setup.js";

/** Issue 5.6–5.7: health, readiness and Prometheus metrics of a running daemon; JSON log lines for journald. */

const worlds = worldPerTest();

describe("daemon health and metrics", () => {
  it("serves /healthz, /readyz (which follows the catalog) and /metrics, and logs one JSON line per attempt", async () => {
    const w = await worlds.open({ beamtimes: [{ label: "2026-10-01", researcher: "Ada", runs: 3 }] }, { config: { http: { enabled: true, host: "127.0.0.1", port: 0 }, log: { level: "info", format: "json" } } });
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      const listening = await waitFor(() => daemon.lines.map((l) => JSON.parse(l) as { message: string; url?: string }).find((l) => /listening/.test(l.message)), { what: "ops server" });
      const url = listening.url!;
      await waitFor(() => w.scicat.datasets().length === 3, { what: "sync" });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/beamsync_records\{.*destination="scicat".*\} \d+/);
      expect(metrics).toMatch(/beamsync_attempts_total\{/);
      expect(metrics).toMatch(/beamsync_oldest_pending_age_seconds/);
      expect(metrics).toMatch(/beamsync_last_scan_timestamp_seconds \d/);

      await w.scicat.goDown();
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 503, { what: "not ready while the catalog is down" });
      await w.scicat.comeBack();

      const attempts = daemon.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === "attempt");
      // Datasets and their proposal, sample and instrument (runs of scalars alone have no file list).
      expect(attempts.length).toBeGreaterThanOrEqual(3 + 3);
      for (const a of attempts) expect(a).toMatchObject({ destination: "scicat", outcome: expect.any(String), durationMs: expect.any(Number), record: expect.any(String) });
    } finally {
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }
  });
});
