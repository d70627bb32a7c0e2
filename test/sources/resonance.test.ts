import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { silentLogger } from "../../src/ops/logger.js";
import type { Watermark } from "../../src/sources/contract.js";
import { createResonanceSource } from "../../src/sources/resonance/index.js";
import { createDataRoot, killWriterMidRun, RunWriter, type DataRootSpec } from "../fixtures/resonance/index.js";
import { treeDigest } from "../faults/helpers.js";
import { tempDir } from "../support/cli.js";

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function world(spec: DataRootSpec, resonance: Record<string, unknown> = {}) {
  const root = tempDir("resonance");
  dirs.push(root);
  const written = createDataRoot(root, spec);
  const config = configSchema.parse({ dataRoot: root, sources: { resonance } });
  const source = createResonanceSource({ dataRoot: root, config: config.sources.resonance, logger: silentLogger });
  const marks = new Map<string, Watermark>();
  const reader = { get: (s: string, p: string) => Promise.resolve(marks.get(`${s}:${p}`)) };
  const scan = async (options: { force?: boolean; nowMs?: number } = {}) => {
    const result = await source.scan(reader, { force: options.force ?? false, nowMs: options.nowMs ?? Date.now() });
    for (const w of result.watermarks) marks.set(`${w.source}:${w.path}`, w);
    return result;
  };
  return { root, written, scan };
}

describe("resonance source", () => {
  it("reads schema v1 and v2 beamtimes in open, closed, aborted and failed states", async () => {
    const { written, scan } = world({
      beamtimes: [
        { label: "2026-01-01", researcher: "Ada", schemaVersion: 1, samples: [{ name: "a", formula: "Si", tags: ["x"] }], runs: [{ state: "closed", frames: 2 }, { state: "aborted" }] },
        { label: "2026-01-02", researcher: "Ada", schemaVersion: 2, samples: [{ name: "b" }], runs: [{ state: "failed" }, { state: "open" }, { state: "closed", exitStatus: "paused-ish" }] },
      ],
    });
    const result = await scan();
    const runs = new Map(result.snapshot.runs.map((r) => [r.uid, r]));
    const [v1, v2] = written.beamtimes;
    expect(runs.get(v1!.runs[0]!.uid)).toMatchObject({ state: "complete", exitStatus: "success", beamtimeKey: `resonance:${v1!.runs[0]!.uid}` });
    expect(runs.get(v1!.runs[0]!.uid)?.files.length).toBe(1 + v1!.runs[0]!.zarrFiles.length);
    expect(runs.get(v1!.runs[1]!.uid)?.exitStatus).toBe("abort");
    expect(runs.get(v2!.runs[0]!.uid)?.exitStatus).toBe("fail");
    expect(runs.get(v2!.runs[1]!.uid)?.state).toBe("open");
    expect(runs.get(v2!.runs[2]!.uid)?.exitStatus).toBe("paused-ish");
    expect(result.snapshot.problems.some((p) => /unknown exit status 'paused-ish'/.test(p.reason))).toBe(true);
    expect(result.snapshot.samples.map((s) => s.name).sort()).toEqual(["a", "b"]);
    expect(result.snapshot.beamtimes.map((b) => b.researcher.name)).toEqual(["Ada", "Ada"]);
  });

  it("skips unchanged DBs and re-reads a DB that changed, with its whole beamtime", async () => {
    const { written, scan } = world({ beamtimes: [{ label: "2026-02-01", researcher: "Grace", runs: 3 }, { label: "2026-02-02", researcher: "Grace", runs: 2 }] });
    expect((await scan()).snapshot.runs).toHaveLength(5);
    const again = await scan();
    expect(again.snapshot.runs).toHaveLength(0);
    expect(again.unchanged).toBe(3); // index + 2 DBs
    const writer = new RunWriter(written.beamtimes[1]!.absDbPath, { name: "late" }).open();
    writer.openRun("scan");
    writer.openStream("primary", {});
    writer.closeRun("success");
    writer.close();
    const changed = await scan();
    expect(changed.snapshot.runs).toHaveLength(3);
    expect(changed.snapshot.beamtimes.map((b) => b.label)).toEqual(["2026-02-02"]);
  });

  it("reports bad files against themselves, and the rest still syncs; nothing under the root changes", async () => {
    const { root, written, scan } = world({
      beamtimes: [
        { label: "ok", researcher: "R", runs: 2 },
        { label: "corrupt", researcher: "R", runs: 1 },
        { label: "truncated", researcher: "R", runs: 30 },
        { label: "future", researcher: "R", runs: 1 },
        { label: "abs", researcher: "R", runs: 1, indexDbPath: "/etc/passwd.db" },
        { label: "up", researcher: "R", runs: 1, indexDbPath: "../up.db" },
        { label: "hot", researcher: "R", runs: 1 },
      ],
    });
    const by = (label: string) => written.beamtimes.find((b) => b.label === label)!;
    fs.writeFileSync(by("corrupt").absDbPath, Buffer.alloc(4096, 7));
    fs.truncateSync(by("truncated").absDbPath, 2048);
    const db = new Database(by("future").absDbPath);
    db.pragma("user_version = 7");
    db.close();
    await killWriterMidRun(by("hot").absDbPath);
    fs.symlinkSync(path.join(root, "loop-a"), path.join(root, "loop-b"));
    fs.symlinkSync(path.join(root, "loop-b"), path.join(root, "loop-a"));
    const before = treeDigest(root);
    const result = await scan();
    expect(treeDigest(root)).toEqual(before);
    const reason = (fragment: string) => result.snapshot.problems.find((p) => p.path.includes(fragment))?.reason ?? "";
    expect(reason("corrupt")).toMatch(/not an SQLite database|corrupt/);
    expect(reason("truncated")).toMatch(/truncated|corrupt|malformed/);
    expect(reason("future")).toMatch(/unknown schema version 7/);
    expect(reason("/etc/passwd.db")).toMatch(/absolute/);
    expect(reason("../up.db")).toMatch(/leaves the DATA root/);
    expect(reason("hot")).toMatch(/journal|locked|recovery|retry/);
    expect(result.snapshot.runs.filter((r) => r.beamtimeKey === `resonance:${by("ok").runs[0]!.uid}`)).toHaveLength(2);
    const hot = result.watermarks.find((w) => w.path === by("hot").dbPath);
    expect(hot?.retry).toBe(true);
  });

  it("marks an open run stale after the quiet period", async () => {
    const { scan } = world({ beamtimes: [{ label: "2026-03-01", researcher: "R", runs: [{ state: "open" }] }] }, { staleAfterSeconds: 600 });
    const first = await scan();
    expect(first.snapshot.runs[0]?.state).toBe("open");
    const later = await scan({ nowMs: Date.now() + 601_000 });
    expect(later.snapshot.runs[0]?.state).toBe("stale");
  });

  it("finds beamtime DBs that the index does not list, and names them from their runs, never their path", async () => {
    const { scan, written } = world({
      beamtimes: [
        { label: "listed", researcher: "R", runs: 1 },
        { label: "unlisted", researcher: "S", runs: 2, indexed: false },
        { label: "named", researcher: "T", runs: [{ metadata: { researcher: "Marie Curie" } }, { metadata: { researcher: "Someone Else" } }], indexed: false },
      ],
    });
    const result = await scan();
    expect(result.snapshot.runs).toHaveLength(5);
    const named = written.beamtimes.find((b) => b.label === "named")!;
    // The person the first run names (a later run cannot change whom the beamtime belongs to).
    expect(result.snapshot.beamtimes.find((b) => b.key === `resonance:${named.runs[0]!.uid}`)?.researcher).toEqual({ name: "Marie Curie" });
    const unlisted = written.beamtimes.find((b) => b.label === "unlisted")!;
    const beamtime = result.snapshot.beamtimes.find((b) => b.key === `resonance:${unlisted.runs[0]!.uid}`);
    // Neither the directory ("S") nor the file name ("unlisted"): nobody is named, the label is the first run's day.
    expect(beamtime?.researcher.name).toBe("");
    expect(beamtime?.label).toBe(new Date(unlisted.runs[0]!.timeStart * 1000).toISOString().slice(0, 10));
  });
});
