import { afterEach, describe, expect, it } from "vitest";
import { buildEngine } from "../../src/app/wire.js";
import { silentLogger } from "../../src/ops/logger.js";
import type { BeamtimeSpec, RunSpec } from "../fixtures/resonance/index.js";
import { runCli } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";

/** Issue 2: three beamtimes of twenty finished runs (plus one still open each) into SciCat, exactly once. */

function beamtime(n: number): BeamtimeSpec {
  const runs: RunSpec[] = [];
  for (let i = 0; i < 20; i++) runs.push({ state: i === 5 ? "aborted" : i === 6 ? "failed" : "closed", frames: i % 4 === 0 ? 2 : 0 });
  runs.push({ state: "open" });
  return {
    label: `2026-03-0${n + 1}`,
    researcher: ["Ada Lovelace", "Grace Hopper", "Lise Meitner"][n] ?? "Someone",
    samples: [{ name: `sample ${n}a` }, { name: `sample ${n}b` }],
    runs,
  };
}

const SPEC = { beamtimes: [beamtime(0), beamtime(1), beamtime(2)] };

let world: ScicatWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function closedRuns(w: ScicatWorld) {
  return w.written.beamtimes.flatMap((b) => b.runs.filter((r) => r.state !== "open"));
}

describe("beamsync sync: resonance → SciCat", () => {
  it("creates exactly the expected records, and a second sync writes nothing", async () => {
    world = await scicatWorld(SPEC);
    const first = await runCli(["sync", "--config", world.configFile]);
    expect(first.stderr).not.toContain(world.password);
    expect(first.code, first.stdout + first.stderr).toBe(0);

    const closed = closedRuns(world);
    expect(closed).toHaveLength(60);
    const datasets = world.scicat.datasets();
    expect(datasets.map((d) => d.pid).sort()).toEqual(closed.map((r) => `test/${r.uid}`).sort());
    expect(world.scicat.proposals()).toHaveLength(3);
    expect(world.scicat.samples()).toHaveLength(6);
    expect(world.scicat.instruments().map((i) => i.uniqueName)).toEqual(["bl-1"]);

    const open = world.written.beamtimes.flatMap((b) => b.runs.filter((r) => r.state === "open"));
    for (const run of open) expect(datasets.find((d) => d.pid === `test/${run.uid}`)).toBeUndefined();

    // Every dataset with frames: one block, each file listed once, the chunk files of its committed frames among
    // them; a run of scalars alone has none (its data is in the beamtime DB, which no run lists).
    for (const run of closed) {
      const pid = `test/${run.uid}`;
      const blocks = world.scicat.origdatablocks(pid);
      expect(blocks).toHaveLength(run.zarrFiles.length > 0 ? 1 : 0);
      const paths = blocks.flatMap((b) => (b.dataFileList as { path: string }[]).map((f) => f.path));
      expect(new Set(paths).size).toBe(paths.length);
      expect(paths.length).toBeGreaterThanOrEqual(run.chunkFiles.length);
      const dataset = datasets.find((d) => d.pid === pid)!;
      expect(dataset.datasetName).toEqual(expect.any(String));
      expect(dataset.ownerGroup).toBe("group-a");
      const meta = dataset.scientificMetadata as { run: { exit_status: string } };
      expect(meta.run.exit_status).toBe(run.state === "aborted" ? "abort" : run.state === "failed" ? "fail" : "success");
    }

    // One upload_log row per attempt; no faults, so one successful attempt per record.
    const log = world.uploadLog();
    const records = 3 + 6 + 1 + 60 + closed.filter((r) => r.zarrFiles.length > 0).length;
    expect(log).toHaveLength(records);
    expect(log.every((row) => row.success === 1 && row.destination_name === "scicat")).toBe(true);

    world.scicat.resetRequests();
    const second = await runCli(["sync", "--config", world.configFile]);
    expect(second.code, second.stderr).toBe(0);
    expect(world.scicat.writeCount()).toBe(0);
    expect(world.scicat.datasets()).toHaveLength(60);
    expect(world.uploadLog()).toHaveLength(records);
  });

  it("renews a token that expires in the middle of the sync", async () => {
    world = await scicatWorld(SPEC);
    const engine = await buildEngine(world.config, silentLogger);
    try {
      await engine.reconcile();
      const worker = engine.worker();
      let attempts = 0;
      const scicat = world.scicat;
      worker.onAttempt(() => {
        if (++attempts === 40) scicat.expireTokens();
      });
      const summary = await worker.drain({ forever: false });
      expect(summary.failed + summary.dead).toBe(0);
    } finally {
      await engine.close();
    }
    expect(world.scicat.datasets()).toHaveLength(60);
    const statuses = world.scicat.requests.map((r) => r.status);
    expect(statuses).toContain(403);
    const logins = world.scicat.requests.filter((r) => /auth\/login/i.test(r.path));
    expect(logins.length).toBeGreaterThanOrEqual(2);
  });

  it("ends with one dataset when the answer to a create is lost, and logs each attempt", async () => {
    world = await scicatWorld(SPEC);
    world.scicat.loseResponseNext(1, { method: "POST", path: /\/datasets$/i });
    world.scicat.failNext(3, 503, { match: { method: "POST", path: /\/datasets$/i } });
    const result = await runCli(["sync", "--config", world.configFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(world.scicat.datasets()).toHaveLength(60);
    for (const run of closedRuns(world)) expect(world.scicat.origdatablocks(`test/${run.uid}`)).toHaveLength(run.zarrFiles.length > 0 ? 1 : 0);

    const log = world.uploadLog();
    const failures = log.filter((row) => row.success === 0);
    expect(failures).toHaveLength(4);
    expect(failures.filter((row) => /503/.test(row.error_message ?? ""))).toHaveLength(3);
    const blockLists = closedRuns(world).filter((r) => r.zarrFiles.length > 0).length;
    expect(log).toHaveLength(3 + 6 + 1 + 60 + blockLists + 4);
    for (const row of log) expect(JSON.stringify(row)).not.toContain(world.password);
  });
});
