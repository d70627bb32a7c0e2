import { afterAll, describe, expect, it } from "vitest";
import type { BeamtimeSpec } from "../fixtures/resonance/index.js";
import { runCli, spawnCli, waitFor } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";
import { assertExactlyOnce, figures, FULL } from "./helpers.js";

/** Issue 8.2: kill -9 of `beamsync sync` and `beamsync run` at random moments, each followed by a restart. */

const CRASHES = FULL ? 60 : 20;

const spec: { beamtimes: BeamtimeSpec[] } = {
  beamtimes: Array.from({ length: 3 }, (_, i) => ({
    label: `2026-07-0${i + 1}`,
    researcher: `Researcher ${i}`,
    samples: [{ name: `a${i}` }, { name: `b${i}` }],
    runs: Array.from({ length: 30 }, (_, k) => ({ state: k % 10 === 9 ? ("failed" as const) : ("closed" as const), frames: 2 })),
  })),
};

let world: ScicatWorld | undefined;
afterAll(async () => {
  await world?.close();
  process.stderr.write(`fault suite figures: ${JSON.stringify(figures)}\n`);
});

describe("crashes", () => {
  it(`survives ${CRASHES} kill -9s of sync and run at random moments with no loss and no duplicate`, async () => {
    world = await scicatWorld(spec, { config: { sync: { backoffBaseMs: 20, backoffMaxMs: 200, concurrency: 8 } } });
    const w = world;
    // A slower catalog widens the window in which a kill lands in the middle of a push.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let crash = 0; crash < CRASHES; crash++) {
      // sync, run and resync --all (which re-pushes and re-diffs everything once the catalog is complete).
      const args = [["sync"], ["run"], ["resync", "--all"]][crash % 3]!;
      const child = spawnCli([...args, "--config", w.configFile]);
      const before = w.scicat.requests.length;
      const target = before + 1 + Math.floor(random() * 40);
      await waitFor(() => w.scicat.requests.length >= target || child.child.exitCode !== null, { what: "some requests", timeoutMs: 30_000, intervalMs: 2 });
      if (child.child.exitCode === null) {
        child.child.kill("SIGKILL");
        figures.crashes++;
      }
      await child.exited;
    }
    const final = await runCli(["sync", "--config", w.configFile]);
    expect(final.code, final.stdout + final.stderr).toBe(0);
    const result = assertExactlyOnce(w, expect);
    figures.duplicates += result.duplicates;
    const expected = w.written.beamtimes.flatMap((b) => b.runs).length;
    figures.recordsLost += expected - result.datasets;
    expect(figures.crashes).toBeGreaterThanOrEqual(Math.floor(CRASHES / 2));
  });
});
