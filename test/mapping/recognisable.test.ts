import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { planDatablocks } from "../../src/destinations/scicat/index.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { publicPath } from "../../src/mapping/scicat/folder.js";
import { silentLogger } from "../../src/ops/logger.js";
import { readFile } from "../../src/sources/bluesky/index.js";
import { createResonanceSource } from "../../src/sources/resonance/index.js";
import { createDataRoot, type DataRootSpec } from "../fixtures/resonance/index.js";
import { tempDir } from "../support/cli.js";

/** Issue 17: datasets a scientist can search and recognise (names, descriptions, folders, sizes). */

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

async function mapped(spec: DataRootSpec, mapping: (root: string) => Record<string, unknown> = () => ({})) {
  const root = tempDir("recognisable");
  dirs.push(root);
  const written = createDataRoot(root, spec);
  const config = configSchema.parse({ dataRoot: root, destinations: { scicat: { enabled: true, pidPrefix: "p/" } }, mapping: mapping(root) });
  const source = createResonanceSource({ dataRoot: root, config: config.sources.resonance, logger: silentLogger });
  const { snapshot } = await source.scan({ get: () => Promise.resolve(undefined) }, { force: true, nowMs: Date.now() });
  const records = mapToScicat(snapshot, config);
  const dataset = (uid: string) => records.find((r) => r.kind === "dataset" && r.key === `p/${uid}`)?.payload ?? {};
  const blocks = (uid: string) => records.find((r) => r.kind === "origdatablocks" && r.key === `p/${uid}`)?.payload;
  return { root, written, records, dataset, blocks };
}

const NEXAFS_DAY: DataRootSpec = {
  beamtimes: [
    {
      label: "2026-11-03",
      researcher: "jdoe",
      description: "Carbon K-edge NEXAFS of HOPG references",
      samples: [{ name: "HOPG reference" }],
      runs: [{ frames: 2 }, { state: "aborted" }, {}],
    },
  ],
};

describe("datasets people recognise", () => {
  it("names each run of a beamtime uniquely by plan, sample, scan number and outcome", async () => {
    const { written, dataset } = await mapped(NEXAFS_DAY);
    const runs = written.beamtimes[0]!.runs;
    const names = runs.map((r) => dataset(r.uid).datasetName);
    expect(names).toEqual(["nexafs HOPG reference #1 2026-11-03", "nexafs HOPG reference #2 2026-11-03 (aborted)", "nexafs HOPG reference #3 2026-11-03"]);
    expect(new Set(names).size).toBe(names.length);
    expect(dataset(runs[1]!.uid).runNumber).toBe("2");
  });

  it("describes a dataset with its beamtime's description", async () => {
    const { written, dataset } = await mapped(NEXAFS_DAY);
    expect(dataset(written.beamtimes[0]!.runs[0]!.uid).description).toBe("Carbon K-edge NEXAFS of HOPG references");
  });

  it("puts each run in its own folder, counts the shared beamtime DB in no run, and names it instead", async () => {
    const { root, written, dataset, blocks } = await mapped(NEXAFS_DAY, (r) => ({ sourceFolderRewrite: { [r]: "/global/als/11012" }, sourceFolderHost: "data.als.example.org" }));
    const seen = (local: string) => path.posix.join("/global/als/11012", path.relative(root, local));
    const bt = written.beamtimes[0]!;
    const withFrames = bt.runs[0]!;
    const zarrDir = path.join(bt.zarrPath, "runs", withFrames.uid);
    expect(dataset(withFrames.uid).sourceFolder).toBe(seen(zarrDir));
    expect(dataset(withFrames.uid).sourceFolderHost).toBe("data.als.example.org");
    const files = (blocks(withFrames.uid)?.files ?? []) as { path: string; size: number }[];
    expect(files.map((f) => f.path).sort()).toEqual(withFrames.zarrFiles.map((f) => path.relative(zarrDir, f)).sort());
    expect(files.some((f) => f.path.endsWith(".db"))).toBe(false);
    const totalSize = files.reduce((sum, f) => sum + f.size, 0);
    expect(totalSize).toBe(withFrames.zarrFiles.reduce((sum, f) => sum + fs.statSync(f).size, 0));
    // A run of scalars alone has no file of its own: its folder is the DB's, and no file list is sent.
    const scalars = bt.runs[2]!;
    expect(dataset(scalars.uid).sourceFolder).toBe(seen(path.dirname(bt.absDbPath)));
    expect(blocks(scalars.uid)).toBeUndefined();
    expect((dataset(scalars.uid).scientificMetadata as { run: { beamtime_db: string } }).run.beamtime_db).toBe(seen(bt.absDbPath));
  });

  it("rewrites folders from the beamline's paths to the ones users see, by whole path segments", () => {
    const rewrite = { "/data/beamline": "/global/als/11012", "/data/beamline/special": "/special" };
    expect(publicPath("/data/beamline/jdoe/x.zarr", rewrite)).toBe("/global/als/11012/jdoe/x.zarr");
    expect(publicPath("/data/beamline/special/a", rewrite)).toBe("/special/a");
    expect(publicPath("/data/beamline2/a", rewrite)).toBe("/data/beamline2/a");
    expect(publicPath("/data/beamline", rewrite)).toBe("/global/als/11012");
  });

  it("takes out of the catalog's blocks the entries the source no longer lists, reusing a block left empty", () => {
    const file = (p: string, size = 1) => ({ path: p, size, time: "2026-03-05T00:00:00.000Z" });
    const limits = { maxFilesPerBlock: 10, maxBytesPerBlock: 1e6 };
    // Before: paths relative to the researcher's directory, the beamtime DB in every run.
    const blocks = [{ _id: "b1", dataFileList: [file("bt.db", 8192), file("bt.zarr/runs/u/zarr.json")] }];
    const plan = planDatablocks(blocks, [file("zarr.json"), file("img/c/0/0/0")], limits);
    expect(plan.updates).toEqual([{ id: "b1", files: [file("zarr.json"), file("img/c/0/0/0")] }]);
    expect(plan.additions).toEqual([]);
    const kept = planDatablocks([{ _id: "b1", dataFileList: [file("a"), file("gone")] }], [file("a")], limits);
    expect(kept.updates).toEqual([{ id: "b1", files: [file("a")] }]);
  });
});

describe("searchable quantities", () => {
  const scientific = (payload: Record<string, unknown>) => payload.scientificMetadata as Record<string, unknown>;

  it("a real bluesky run: the scan axis range with its unit; signals without a unit stay plain numbers", async () => {
    const dir = path.join(import.meta.dirname, "../fixtures/realdocs");
    const config = configSchema.parse({ dataRoot: dir, destinations: { scicat: { enabled: true, pidPrefix: "p/" } } });
    const read = await readFile(path.join(dir, "apstools/uid-3ab777ae.json"), { dataRoot: dir, config: config.sources.bluesky, logger: silentLogger }, false);
    const records = mapToScicat({ beamtimes: read.beamtimes, samples: read.samples, runs: read.runs, problems: [] }, config);
    const dataset = records.find((r) => r.kind === "dataset")!.payload;
    expect(dataset.datasetName).toBe("lineup2 #10014 2025-05-27 07:57:46");
    const metadata = scientific(dataset);
    expect(metadata.m1_min).toEqual({ value: -1, unit: "degrees" });
    expect(metadata.m1_max).toEqual({ value: 1, unit: "degrees" });
    // Units "" in the descriptor: no unit is invented.
    expect(metadata.I0_min).toBeCloseTo(1379.6576350426749);
    expect(metadata.I0_max).toBeCloseTo(99097.74538734264);
    expect(metadata.scaler1_time_min).toBe(1);
  });

  it("a resonance run: metadata with units, motor and signal ranges, a constant as one value", async () => {
    const { written, dataset } = await mapped({
      beamtimes: [{ label: "2026-11-03", researcher: "jdoe", runs: [{ events: 4, metadata: { energy: { value: 285.2, units: "eV" }, polarization: 90, polarization_units: "deg", grating: "1200 l/mm", exotic: { value: 3, unit: "furlong" } } }] }],
    });
    const metadata = scientific(dataset(written.beamtimes[0]!.runs[0]!.uid));
    expect(metadata.energy).toEqual({ value: 285.2, unit: "eV" });
    expect(metadata.polarization).toEqual({ value: 90, unit: "deg" });
    // A unit SciCat may not know is passed through as written.
    expect(metadata.exotic).toEqual({ value: 3, unit: "furlong" });
    expect(metadata.grating).toBeUndefined();
    expect(metadata.sample_x_position_min).toEqual({ value: 0, unit: "mm" });
    expect(metadata.sample_x_position_max).toEqual({ value: 3, unit: "mm" });
    expect(metadata.photodiode_min).toEqual({ value: 0.25, unit: "V" });
    expect(metadata.photodiode_max).toEqual({ value: 1.75, unit: "V" });
    expect(metadata.exposure).toEqual({ value: 1, unit: "s" });
  });
});
