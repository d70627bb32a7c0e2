import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import type { Snapshot } from "../../src/model/types.js";
import { silentLogger } from "../../src/ops/logger.js";
import type { Watermark } from "../../src/sources/contract.js";
import { createBlueskySource, readFile } from "../../src/sources/bluesky/index.js";
import { ENCODINGS, runDocuments, writeRunFile } from "../fixtures/bluesky/writer.js";
import { REPO_ROOT, tempDir } from "../support/cli.js";

const REALDOCS = path.join(REPO_ROOT, "test/fixtures/realdocs");
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});
const temp = () => {
  const d = tempDir("bluesky");
  dirs.push(d);
  return d;
};

function source(dataRoot: string, extra: Record<string, unknown> = {}) {
  const config = configSchema.parse({ dataRoot, sources: { bluesky: extra } });
  return { config, source: createBlueskySource({ dataRoot, config: config.sources.bluesky, logger: silentLogger }) };
}

/** A watermark store in memory, as the state store keeps them. */
function memoryWatermarks() {
  const map = new Map<string, Watermark>();
  return { get: (s: string, p: string) => Promise.resolve(map.get(`${s}:${p}`)), save: (ws: Watermark[]) => ws.forEach((w) => map.set(`${w.source}:${w.path}`, w)) };
}

const options = (dataRoot: string) => ({ dataRoot, config: configSchema.parse({ dataRoot }).sources.bluesky, logger: silentLogger });

describe("real bluesky files", () => {
  it("apstools JSON arrays: runs, exit statuses, reasons and proposals come out", async () => {
    const fail = await readFile(path.join(REALDOCS, "apstools/uid-b31e8698.json"), options(REALDOCS), false);
    expect(fail.problems).toEqual([]);
    expect(fail.runs).toHaveLength(1);
    expect(fail.runs[0]).toMatchObject({ uid: "b31e8698-f842-4397-b2ef-acd4cb74fdd4", state: "complete", exitStatus: "fail", reason: "'UPD_SIGNAL'", planName: "tune_ar" });
    expect(fail.runs[0]?.streams.map((s) => [s.name, s.eventCount]).sort()).toEqual([["label_start_motor", 1], ["primary", 0]]);

    const lineup = await readFile(path.join(REALDOCS, "apstools/uid-3ab777ae.json"), options(REALDOCS), false);
    expect(lineup.runs[0]).toMatchObject({ exitStatus: "success", numEvents: 11, planName: "lineup2", scanId: 10014, beamtimeKey: "bluesky:developer" });
    // Only a login id names anyone here: it owns the run as a login, and the proposal names no PI from it.
    expect(lineup.runs[0]?.owner).toEqual({ name: "prjemian@zap", login: true });
    expect(lineup.beamtimes[0]?.researcher).toEqual({ name: "" });

    const sscan = await readFile(path.join(REALDOCS, "apstools/uid-f05b6684.json"), options(REALDOCS), false);
    expect(sscan.runs[0]).toMatchObject({ numEvents: 31, planName: "sscan_1D_plan", scanId: 165640 });
    expect(sscan.runs[0]?.beamtimeKey).toBeUndefined();
  });

  it("databroker-pack msgpack: pages counted, the resource's .npy found through catalog.yml's root_map", async () => {
    const dir = path.join(REALDOCS, "databroker-pack-simple_catalog/documents");
    const results = await Promise.all(fs.readdirSync(dir).map((f) => readFile(path.join(dir, f), options(REALDOCS), false)));
    expect(results.every((r) => r.summary.encoding === "msgpack" && r.problems.length === 0)).toBe(true);
    const runs = results.flatMap((r) => r.runs);
    expect(runs.map((r) => r.numEvents).sort()).toEqual([1, 1, 3]);
    const withImage = runs.find((r) => r.uid === "4e22852d-33b1-49d2-bf73-2b1478a8f0b4");
    expect(withImage?.files.map((f) => path.basename(f.path))).toContain("4d0d22_0.npy");
    expect(withImage?.missingFiles).toBeUndefined();
  });

  it("bluesky-tiled-plugins JSONWriter files: stream_resource and legacy resource references are reported missing, not invented", async () => {
    const modern = await readFile(path.join(REALDOCS, "bluesky-tiled-plugins/external_assets.json"), options(REALDOCS), false);
    expect(modern.runs[0]?.missingFiles).toEqual(["/{{ root_path }}/dataset.h5", "/{{ root_path }}/tiff_files/"]);
    const legacy = await readFile(path.join(REALDOCS, "bluesky-tiled-plugins/external_assets_legacy.json"), options(REALDOCS), false);
    expect(legacy.runs[0]?.missingFiles).toEqual(["{{ root_path }}/dataset.h5"]);
    expect(legacy.runs[0]?.files).toHaveLength(1);
  });

  it("every file in realdocs is found by a scan of the directory", async () => {
    const { source: s } = source(REALDOCS);
    const result = await s.scan(memoryWatermarks(), { force: true, nowMs: Date.now() });
    expect(result.snapshot.runs).toHaveLength(8);
    expect(result.snapshot.problems).toEqual([]);
  });
});

describe("encodings", () => {
  it("the same run in every encoding (and gzipped) maps to identical records", async () => {
    const root = temp();
    const docs = runDocuments({ dataDir: path.join(root, "data") });
    const config = configSchema.parse({ dataRoot: root, destinations: { scicat: { pidPrefix: "p/" } } });
    const mapped: string[] = [];
    for (const encoding of ENCODINGS) {
      for (const gzip of [false, true]) {
        const file = writeRunFile(path.join(root, "docs", `${encoding}${gzip ? ".gz" : ""}`), docs, encoding, gzip);
        const read = await readFile(file, options(root), false);
        expect(read.problems, `${encoding} ${gzip}`).toEqual([]);
        const snapshot: Snapshot = { beamtimes: read.beamtimes, samples: read.samples, runs: read.runs, problems: [] };
        const records = mapToScicat(snapshot, config).map((r) => {
          if (r.kind !== "origdatablocks") return { kind: r.kind, key: r.key, payload: r.payload };
          // The document file itself differs by name and size per encoding; the data files must not.
          const files = (r.payload.files as { path: string }[]).filter((f) => !f.path.startsWith("docs/"));
          return { kind: r.kind, key: r.key, files };
        });
        mapped.push(JSON.stringify(records.map((r) => ({ ...r, payload: r.kind === "dataset" ? { ...(r.payload as object), sourceFolder: undefined } : r.payload }))));
        fs.rmSync(file);
      }
    }
    expect(new Set(mapped).size).toBe(1);
    expect(mapped[0]).toContain('"kind":"dataset"');
    expect(mapped[0]).toContain("data/7d1f0c2e.h5");
  });

  it("several runs in one file, interleaved, are told apart by their start uid", async () => {
    const root = temp();
    const a = runDocuments({ uid: "aaaaaaaa-1111-4aaa-8bbb-000000000001" });
    const b = runDocuments({ uid: "bbbbbbbb-1111-4aaa-8bbb-000000000002", exitStatus: "abort" });
    const interleaved = a.flatMap((doc, i) => [doc, ...(b[i] ? [b[i]] : [])]).concat(b.slice(a.length));
    const file = writeRunFile(path.join(root, "day.jsonl"), interleaved, "jsonl-objects");
    const read = await readFile(file, options(root), false);
    expect(read.runs.map((r) => [r.uid, r.exitStatus, r.numEvents])).toEqual([
      ["aaaaaaaa-1111-4aaa-8bbb-000000000001", "success", 3],
      ["bbbbbbbb-1111-4aaa-8bbb-000000000002", "abort", 3],
    ]);
  });
});

describe("bad and growing files", () => {
  it("garbage lines and invalid documents are reported with their line; the rest syncs", async () => {
    const root = temp();
    const lines = runDocuments().map((d) => JSON.stringify(d));
    lines.splice(2, 0, "not json at all", '["event", {"uid": "x"}]', '["bogus", {}]');
    fs.writeFileSync(path.join(root, "run.jsonl"), lines.join("\n") + "\n");
    const read = await readFile(path.join(root, "run.jsonl"), options(root), false);
    expect(read.runs).toHaveLength(1);
    expect(read.runs[0]?.state).toBe("complete");
    expect(read.problems.map((p) => p.location)).toEqual(["line 3", "line 4", "line 5"]);
    expect(read.problems[1]?.reason).toMatch(/invalid event/);
    expect(read.problems[2]?.reason).toMatch(/unknown document type 'bogus'/);
  });

  it("NaN values are accepted", async () => {
    const root = temp();
    const file = writeRunFile(path.join(root, "nan.jsonl"), runDocuments({ nan: true }), "jsonl-pairs");
    expect(fs.readFileSync(file, "utf8")).toContain("NaN");
    const read = await readFile(file, options(root), false);
    expect(read.problems).toEqual([]);
    expect(read.runs[0]?.numEvents).toBe(3);
  });

  it("a truncated gzip keeps the complete documents and says so", async () => {
    const root = temp();
    const whole = gzipSync(Buffer.from(runDocuments({ events: 200 }).map((d) => JSON.stringify(d)).join("\n") + "\n"));
    fs.writeFileSync(path.join(root, "cut.jsonl.gz"), whole.subarray(0, Math.floor(whole.length * 0.6)));
    const read = await readFile(path.join(root, "cut.jsonl.gz"), options(root), false);
    expect(read.runs).toHaveLength(1);
    expect(read.runs[0]?.state).toBe("open");
    expect(read.problems.some((p) => /gzip stream ends early/.test(p.reason))).toBe(true);
  });

  it("a run without a stop is open, then stale after the quiet period, then complete when the stop arrives", async () => {
    const root = temp();
    const docs = runDocuments();
    const file = path.join(root, "run.jsonl");
    fs.writeFileSync(file, docs.slice(0, -1).map((d) => JSON.stringify(d)).join("\n") + "\n");
    const { source: s } = source(root, { staleAfterSeconds: 60 });
    const marks = memoryWatermarks();
    const now = fs.statSync(file).mtimeMs;
    let scan = await s.scan(marks, { force: false, nowMs: now + 1000 });
    expect(scan.snapshot.runs[0]?.state).toBe("open");
    marks.save(scan.watermarks);
    scan = await s.scan(marks, { force: false, nowMs: now + 5000 });
    expect(scan.unchanged).toBe(1);
    scan = await s.scan(marks, { force: false, nowMs: now + 61_000 });
    expect(scan.snapshot.runs[0]?.state).toBe("stale");
    marks.save(scan.watermarks);
    fs.appendFileSync(file, JSON.stringify(docs[docs.length - 1]) + "\n");
    scan = await s.scan(marks, { force: false, nowMs: now + 62_000 });
    expect(scan.snapshot.runs[0]).toMatchObject({ state: "complete", exitStatus: "success" });
  });

  it("a file that grows line by line while being scanned ends with exactly one complete run", async () => {
    const root = temp();
    const file = path.join(root, "growing.jsonl");
    const text = runDocuments({ events: 10 }).map((d) => JSON.stringify(d)).join("\n") + "\n";
    const { source: s, config } = source(root);
    const marks = memoryWatermarks();
    const seen = new Map<string, string>();
    fs.writeFileSync(file, "");
    // Append in uneven pieces, cutting lines in the middle, and scan after each piece.
    for (let offset = 0; offset < text.length; ) {
      const step = 37 + (offset % 53);
      fs.appendFileSync(file, text.slice(offset, offset + step));
      offset += step;
      const scan = await s.scan(marks, { force: false, nowMs: Date.now() });
      marks.save(scan.watermarks);
      expect(scan.snapshot.problems).toEqual([]);
      for (const record of mapToScicat(scan.snapshot, config)) if (record.kind === "dataset") seen.set(record.key, String((record.payload.scientificMetadata as { run: { exit_status: string } }).run.exit_status));
      for (const run of scan.snapshot.runs) expect(["open", "complete"]).toContain(run.state);
    }
    const final = await s.scan(marks, { force: true, nowMs: Date.now() });
    expect(final.snapshot.runs).toHaveLength(1);
    expect(final.snapshot.runs[0]).toMatchObject({ state: "complete", numEvents: 10 });
    expect([...seen.keys()]).toHaveLength(1);
    expect([...seen.values()]).toEqual(["success"]);
  });

  it("an unterminated JSON array (JSONWriter before the stop) keeps every complete element", async () => {
    const root = temp();
    const docs = runDocuments().slice(0, -1);
    fs.writeFileSync(path.join(root, "open.json"), `[\n${docs.map(([name, doc]) => JSON.stringify({ name, doc })).join(",\n")},\n`);
    const read = await readFile(path.join(root, "open.json"), options(root), false);
    expect(read.summary.complete).toBe(false);
    expect(read.problems).toEqual([]);
    expect(read.runs[0]).toMatchObject({ state: "open", numEvents: 3 });
  });
});
