import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { planDatablocks } from "../../src/destinations/scicat/index.js";
import { ChecksumCache, withChecksums } from "../../src/files/checksums.js";
import { mapToIcat } from "../../src/mapping/icat/index.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { silentLogger } from "../../src/ops/logger.js";
import { createResonanceSource } from "../../src/sources/resonance/index.js";
import type { ScanResult } from "../../src/sources/contract.js";
import { createDataRoot } from "../fixtures/resonance/index.js";
import { tempDir } from "../support/cli.js";

/** Issue 17 item 5: files.checksum, computed with bounded concurrency and cached by (path, size, mtime). */

let dirs: string[] = [];
let caches: ChecksumCache[] = [];
afterEach(() => {
  for (const c of caches) c.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
  caches = [];
});

function world(algorithm: "sha256" | "blake2b") {
  const root = tempDir("checksums");
  const state = tempDir("checksums-state");
  dirs.push(root, state);
  const written = createDataRoot(root, { beamtimes: [{ label: "2026-11-03", researcher: "jdoe", runs: [{ frames: 3 }, {}] }] });
  const config = configSchema.parse({
    dataRoot: root,
    stateDir: state,
    destinations: { scicat: { enabled: true, pidPrefix: "p/" }, icat: { enabled: true } },
    files: { checksum: algorithm },
  });
  const reads: string[] = [];
  const open = () => {
    const cache = new ChecksumCache(path.join(state, "checksums.sqlite"));
    caches.push(cache);
    const inner = createResonanceSource({ dataRoot: root, config: config.sources.resonance, logger: silentLogger });
    return withChecksums(inner, { algorithm, concurrency: 2, cache, onRead: (f) => reads.push(f) });
  };
  let source = open();
  const scan = async () => {
    const batches: ScanResult[] = [];
    const rest = await source.scan({ get: () => Promise.resolve(undefined) }, { force: true, nowMs: Date.now(), onBatch: (b) => void batches.push(b) });
    const all = [...batches, rest];
    return { beamtimes: all.flatMap((b) => b.snapshot.beamtimes), samples: all.flatMap((b) => b.snapshot.samples), runs: all.flatMap((b) => b.snapshot.runs), problems: [] };
  };
  const restart = () => {
    source = open();
  };
  return { root, written, config, reads, scan, restart };
}

const digest = (file: string, algorithm: string) => createHash(algorithm).update(fs.readFileSync(file)).digest("hex");

describe("file checksums", () => {
  it("fills chk in SciCat file entries and the ICAT Datafile checksum; the shared beamtime DB gets none", async () => {
    const { written, config, scan } = await world("sha256");
    const snapshot = await scan();
    const withFrames = written.beamtimes[0]!.runs[0]!;
    const run = snapshot.runs.find((r) => r.uid === withFrames.uid)!;
    for (const f of run.files) expect(f.checksum).toBe(f.shared ? undefined : digest(f.path, "sha256"));
    const blocks = mapToScicat(snapshot, config).find((r) => r.kind === "origdatablocks" && r.key === `p/${withFrames.uid}`)!.payload;
    expect(blocks.chkAlg).toBe("sha256");
    const entries = blocks.files as { path: string; chk?: string }[];
    expect(entries.length).toBe(withFrames.zarrFiles.length);
    for (const e of entries) expect(e.chk).toMatch(/^[0-9a-f]{64}$/);
    const icat = mapToIcat(snapshot, config).find((r) => r.kind === "dataset" && r.key === withFrames.uid)!.payload;
    const datafiles = icat.datafiles as { name: string; checksum?: string }[];
    expect(datafiles.filter((d) => d.checksum !== undefined)).toHaveLength(withFrames.zarrFiles.length);
    expect(datafiles.find((d) => d.name.endsWith(".db"))?.checksum).toBeUndefined();
  });

  it("reads each file once: a rescan and a restart read none, a changed file is read again", async () => {
    const { written, reads, scan, restart } = await world("blake2b");
    await scan();
    const own = written.beamtimes[0]!.runs[0]!.zarrFiles;
    expect(reads.sort()).toEqual([...own].sort());
    reads.length = 0;
    await scan();
    restart();
    await scan();
    expect(reads).toEqual([]);
    const chunk = written.beamtimes[0]!.runs[0]!.chunkFiles[0]!;
    fs.appendFileSync(chunk, "x");
    const { runs } = await scan();
    expect(reads).toEqual([chunk]);
    const file = runs.flatMap((r) => r.files).find((f) => f.path === chunk)!;
    expect(file.checksum).toBe(digest(chunk, "blake2b512"));
  });

  it("a checksum the catalog lacks is patched into the entry", () => {
    const file = { path: "a", size: 1, time: "2026-03-05T00:00:00.000Z" };
    const plan = planDatablocks([{ _id: "b1", dataFileList: [file] }], [{ ...file, chk: "abc" }], { maxFilesPerBlock: 10, maxBytesPerBlock: 1e6 });
    expect(plan.updates).toEqual([{ id: "b1", files: [{ ...file, chk: "abc" }] }]);
  });
});
