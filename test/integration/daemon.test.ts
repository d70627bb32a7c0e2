import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeDemoBlueskyRun } from "../../src/demo/bluesky-run.js";
import type { BeamtimeSpec } from "../fixtures/resonance/index.js";
import { REPO_ROOT, spawnCli, waitFor } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";

/** Issue 5: `beamsync run` as a subprocess, fed by a writer in another process. */

const APPEND = path.join(REPO_ROOT, "dist", "test", "fixtures", "resonance", "append-run.js");

function appendRunInAnotherProcess(db: string, extra: string[] = []): string {
  const out = execFileSync(process.execPath, [APPEND, "--db", db, ...extra], { encoding: "utf8" });
  return (JSON.parse(out.trim().split("\n").pop() ?? "{}") as { uid: string }).uid;
}

const beamtimes = (n: number, runs: number, frames = 1): BeamtimeSpec[] =>
  Array.from({ length: n }, (_, i) => ({ label: `2026-04-0${i + 1}`, researcher: `Researcher ${i}`, samples: [{ name: `s${i}` }], runs: Array.from({ length: runs }, () => ({ state: "closed" as const, frames })) }));

let world: ScicatWorld | undefined;
let daemons: ReturnType<typeof spawnCli>[] = [];

afterEach(async () => {
  for (const d of daemons) if (d.child.exitCode === null) d.child.kill("SIGKILL");
  await Promise.all(daemons.map((d) => d.exited));
  daemons = [];
  await world?.close();
  world = undefined;
});

function startDaemon(w: ScicatWorld) {
  const d = spawnCli(["run", "--config", w.configFile]);
  daemons.push(d);
  return d;
}

function expectNoDuplicates(w: ScicatWorld) {
  const pids = w.scicat.datasets().map((d) => String(d.pid));
  expect(new Set(pids).size).toBe(pids.length);
  for (const pid of pids) {
    const paths = w.scicat.origdatablocks(pid).flatMap((b) => (b.dataFileList as { path: string }[]).map((f) => f.path));
    expect(new Set(paths).size, `files of ${pid}`).toBe(paths.length);
  }
}

const hasDataset = (w: ScicatWorld, pid: string) => w.scicat.datasets().some((d) => d.pid === pid);

describe("beamsync run", () => {
  it("pushes a run appended by the writer and a new document file without any command; SIGTERM exits 0", async () => {
    world = await scicatWorld({ beamtimes: beamtimes(1, 3) }, { config: { sources: { bluesky: { enabled: true } } } });
    const w = world;
    const daemon = startDaemon(w);
    await waitFor(() => w.scicat.datasets().length === 3, { what: "initial sync", timeoutMs: 30_000 });

    const uid = appendRunInAnotherProcess(w.written.beamtimes[0]!.absDbPath, ["--frames", "1"]);
    await waitFor(() => hasDataset(w, `test/${uid}`), { what: "appended run in the catalog" });

    writeDemoBlueskyRun(path.join(w.dataRoot, "docs"));
    await waitFor(() => hasDataset(w, "test/5f1d0e46-7f32-4c3e-9d0c-2a6b8f1e9a01"), { what: "bluesky run in the catalog" });
    await waitFor(() => w.scicat.origdatablocks(`test/${uid}`).length === 1, { what: "file list of the appended run" });

    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr()).not.toContain(w.password);
    expect(daemon.lines.join("\n")).not.toContain(w.password);
    expectNoDuplicates(w);
  });

  it("loses nothing accepted across SIGTERM, and a restart finishes the work", async () => {
    world = await scicatWorld({ beamtimes: beamtimes(1, 2) });
    const w = world;
    const first = startDaemon(w);
    await waitFor(() => w.scicat.datasets().length === 2, { what: "initial sync" });
    w.scicat.hangNext(1, { method: "POST", path: /\/datasets$/i });
    // With a frame, so the run has a file list of its own (a run of scalars has none: its data is in the DB).
    const uid = appendRunInAnotherProcess(w.written.beamtimes[0]!.absDbPath, ["--frames", "1"]);
    await waitFor(() => w.scicat.requests.some((r) => r.method === "POST" && /datasets$/i.test(r.path) && r.status === 0) || hasDataset(w, `test/${uid}`), { what: "push in flight" });
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    startDaemon(w);
    await waitFor(() => hasDataset(w, `test/${uid}`) && w.scicat.origdatablocks(`test/${uid}`).length === 1, { what: "the run after restart" });
    expectNoDuplicates(w);
  });

  it("ends with no duplicates after kill -9 in the middle of pushing", async () => {
    world = await scicatWorld({ beamtimes: beamtimes(2, 25, 2) });
    const w = world;
    const total = 50;
    for (let crash = 0; crash < 3; crash++) {
      const d = startDaemon(w);
      const before = w.scicat.writeCount();
      await waitFor(() => w.scicat.writeCount() > before + 5 || w.scicat.datasets().length === total, { what: "pushing under way" });
      d.child.kill("SIGKILL");
      await d.exited;
    }
    startDaemon(w);
    await waitFor(() => w.scicat.datasets().length === total && w.scicat.origdatablocks().length === total, { what: "every record after restarts", timeoutMs: 60_000 });
    expectNoDuplicates(w);
  });

  it("gets every record to a catalog that was down for a while", async () => {
    world = await scicatWorld({ beamtimes: beamtimes(1, 5) });
    const w = world;
    await w.scicat.goDown();
    const d = startDaemon(w);
    await new Promise((r) => setTimeout(r, 1500));
    expect(w.scicat.datasets()).toHaveLength(0);
    await w.scicat.comeBack();
    await waitFor(() => w.scicat.datasets().length === 5 && w.scicat.origdatablocks().length === 5, { what: "backlog drained", timeoutMs: 60_000 });
    expectNoDuplicates(w);
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
  });
});
