import { afterEach, describe, expect, it } from "vitest";
import type { BeamtimeSpec } from "../fixtures/resonance/index.js";
import { runCli, spawnCli, waitFor } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";
import { assertExactlyOnce, FULL } from "./helpers.js";

/** Issue 8.1: the catalog misbehaves in every way the reference describes; afterwards everything is there once. */

const spec = (beamtimes: number, runs: number): { beamtimes: BeamtimeSpec[] } => ({
  beamtimes: Array.from({ length: beamtimes }, (_, i) => ({
    label: `2026-06-0${i + 1}`,
    researcher: `Researcher ${i}`,
    samples: [{ name: `s${i}` }],
    runs: Array.from({ length: runs }, (_, k) => ({ state: k === 3 ? ("aborted" as const) : ("closed" as const), frames: 1 })),
  })),
});

let world: ScicatWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const POST_DATASET = { method: "POST", path: /\/datasets$/i };
const POST_BLOCK = { method: "POST", path: /origdatablocks$/i };

describe("catalog faults", () => {
  it("bursts of 5xx, resets, hangs, lost answers and 429s end with every record once and every failure logged", async () => {
    // Hangs must end by our timeout: a small one.
    world = await scicatWorld(spec(2, FULL ? 30 : 12), { scicat: { timeoutMs: 400 } });
    const w = world;
    const s = w.scicat;
    s.failNext(4, 500, { match: POST_DATASET });
    s.failNext(3, 502);
    s.failNext(3, 503, { match: POST_BLOCK });
    s.failNext(2, 504);
    s.failNext(2, 429, { retryAfterSeconds: 1 });
    s.resetNext(3);
    s.hangNext(2, POST_DATASET);
    s.loseResponseNext(3, POST_DATASET);
    s.loseResponseNext(3, POST_BLOCK);
    const injected = 4 + 3 + 3 + 2 + 2 + 3 + 2 + 3 + 3;

    // A one-shot sync gives up on a catalog that keeps failing its health probes (exit 1, records stay pending);
    // the operator (or the daemon) runs it again once the faults have passed.
    let result = await runCli(["sync", "--config", w.configFile]);
    for (let again = 0; again < 5 && result.code !== 0; again++) result = await runCli(["sync", "--config", w.configFile]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const once = assertExactlyOnce(w, expect);

    const failures = w.uploadLog().filter((r) => r.success === 0);
    // Every fault that reached an attempt is one failed row with its reason (a 500 followed by an existence
    // check and a second 500 inside one attempt is one row).
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.length).toBeLessThanOrEqual(injected);
    for (const row of failures) expect(row.error_message).toMatch(/HTTP \d{3}|cannot reach|no answer|exists but|500 twice/);
    expect(failures.some((r) => /429/.test(r.error_message ?? ""))).toBe(true);
    expect(failures.some((r) => /no answer/.test(r.error_message ?? ""))).toBe(true);
    process.stderr.write(`catalog fault figures: ${JSON.stringify({ faultsInjected: injected, failedAttemptsLogged: failures.length, datasets: once.datasets, duplicates: once.duplicates })}\n`);
  });

  it("tokens that expire again and again during a daemon's run are renewed", async () => {
    world = await scicatWorld(spec(2, FULL ? 30 : 15));
    const w = world;
    // Deterministic, not timed: every token dies after each 10 successful writes, so the daemon logs in again and again.
    w.scicat.expireTokensEvery(10);
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      await waitFor(() => w.scicat.datasets().length === w.written.beamtimes.length * (FULL ? 30 : 15) && w.scicat.origdatablocks().length === w.scicat.datasets().length, {
        what: "all records despite expiring tokens",
        timeoutMs: 60_000,
      });
      assertExactlyOnce(w, expect);
      expect(w.scicat.requests.filter((r) => /auth\/login/i.test(r.path)).length).toBeGreaterThan(5);
    } finally {
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }
  });

  it("a catalog down for a while, then back: the daemon probes, then drains the backlog", async () => {
    world = await scicatWorld(spec(1, 10));
    const w = world;
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      await waitFor(() => w.scicat.datasets().length >= 2, { what: "pushing started" });
      await w.scicat.goDown();
      await new Promise((r) => setTimeout(r, FULL ? 10_000 : 2_000));
      await w.scicat.comeBack();
      await waitFor(() => w.scicat.datasets().length === 10 && w.scicat.origdatablocks().length === 10, { what: "backlog drained", timeoutMs: 60_000 });
      assertExactlyOnce(w, expect);
    } finally {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
  });
});
