import fs from "node:fs";
import path from "node:path";
import type { Config } from "../../config/schema.js";
import type { IdentityPin } from "../../model/keys.js";
import { emptySnapshot, type SourceProblem } from "../../model/types.js";
import type { Logger } from "../../ops/logger.js";
import type { ScanOptions, ScanResult, Source, Watermark, WatermarkReader } from "../contract.js";
import { readBeamtimeDb } from "./beamtime-db.js";
import { beamtimeRecords } from "./beamtime.js";
import { readIndexDb, type IndexEntry } from "./index-db.js";
import { discoverDbFiles, locateDbPath } from "./locate.js";
import { describeReadError, readDbHeader } from "./sqlite.js";
import { createPacer } from "../pace.js";
import { notRegularFile } from "../access.js";

/**
 * The resonance source (resonance-data.md): the master index and every beamtime DB it lists (and, with
 * `discover`, the ones it does not), read-only and briefly. A DB whose size and mtime are unchanged is not
 * opened again; a changed DB yields its whole beamtime (beamtime, samples, runs), which is what reconcile needs.
 */

export interface ResonanceSourceOptions {
  dataRoot: string;
  config: Config["sources"]["resonance"];
  logger: Logger;
  sampleKey?: "id" | "serial";
  /** Beamtimes that keep the researcher and label they were synced with before an upgrade, by key. */
  pins?: ReadonlyMap<string, IdentityPin>;
  /** Read the first events of each stream for preview plots (previews.enabled). */
  previews?: boolean;
}

interface DbWatermarkData {
  /** The DB had runs without a stop at the last read (they may turn stale without the file changing). */
  open: number;
  stale: number;
  /** The beamtime key read from this DB, kept while the index lists the path after the file moved away. */
  beamtimeKey?: string | undefined;
  /**
   * What else tells a change that kept size and mtime (a restored mtime, a same-size rewrite): the header's
   * file change counter (every commit in rollback-journal mode), the inode and the change time (which no
   * utimes can set back). Absent in watermarks written before they were kept.
   */
  changeCounter?: number | undefined;
  ino?: number;
  ctimeMs?: number;
}

interface IndexWatermarkData {
  entries: IndexEntry[];
}

const SOURCE = "resonance" as const;

export function createResonanceSource(options: ResonanceSourceOptions): Source {
  return {
    kind: SOURCE,
    scan: (watermarks, scanOptions) => scanResonance(options, watermarks, scanOptions),
  };
}

async function scanResonance(options: ResonanceSourceOptions, watermarks: WatermarkReader, scan: ScanOptions): Promise<ScanResult> {
  const { dataRoot, config } = options;
  const result: ScanResult = { snapshot: emptySnapshot(), watermarks: [], unchanged: 0 };
  const problems = result.snapshot.problems;
  const report = (p: string, reason: string, location?: string) => problems.push({ source: SOURCE, path: p, reason, ...(location ? { location } : {}) });

  let realRoot: string;
  try {
    realRoot = fs.realpathSync(dataRoot);
  } catch (error) {
    report(".", `DATA root ${dataRoot} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return result;
  }

  // 1. The index (cached in its watermark: 200 entries cost nothing to keep).
  const indexRel = config.indexFile.split(path.sep).join("/");
  const index = await readIndex(options, indexRel, watermarks, scan, result);
  const indexChanged = index.changed;

  // 2. Which DBs: the listed ones (checked), then discovered ones.
  const targets = new Map<string, IndexEntry>();
  // Index entries whose DB is not where the index says (moved before the index caught up), by the beamtime
  // they were read as: a discovered DB that turns out to be that beamtime keeps the entry's researcher and label.
  const moved = new Map<string, IndexEntry>();
  for (const entry of index.entries) {
    const located = locateDbPath(dataRoot, realRoot, entry.dbPath);
    if (!located.ok) {
      report(entry.dbPath, located.reason, `index ${indexRel}`);
      const known = ((await watermarks.get(SOURCE, entry.dbPath))?.data as Partial<DbWatermarkData> | undefined)?.beamtimeKey;
      if (known) moved.set(known, entry);
      const data: Partial<DbWatermarkData> | undefined = known ? { beamtimeKey: known } : undefined;
      result.watermarks.push({ source: SOURCE, path: entry.dbPath, size: 0, mtimeMs: 0, problem: located.reason, retry: true, ...(data ? { data } : {}) });
      continue;
    }
    targets.set(located.relative, entry);
  }
  const discovered = new Set<string>();
  if (config.discover) {
    for (const rel of discoverDbFiles(dataRoot, new Set([indexRel]), (p, reason) => report(p, reason))) {
      if (targets.has(rel)) continue;
      discovered.add(rel);
      // Label and researcher come from the DB's own runs (beamtime.ts), never from its file or directory name.
      targets.set(rel, { dbPath: rel, label: "", researcher: { name: "" }, extra: {} });
    }
  }

  // 3. Read what changed, one DB at a time (handed over as its own batch when the caller asks for that).
  const pace = createPacer(scan.signal);
  for (const [relative, entry] of targets) {
    if (await pace()) break;
    const one = await readOneDb(options, relative, entry, discovered.has(relative), indexChanged, watermarks, scan, moved);
    if (one === "unchanged") result.unchanged++;
    else if (scan.onBatch) await scan.onBatch(one);
    else mergeInto(result, one);
  }
  return result;
}

function mergeInto(target: ScanResult, part: ScanResult): void {
  for (const b of part.snapshot.beamtimes) target.snapshot.beamtimes.push(b);
  for (const x of part.snapshot.samples) target.snapshot.samples.push(x);
  for (const r of part.snapshot.runs) target.snapshot.runs.push(r);
  for (const p of part.snapshot.problems) target.snapshot.problems.push(p);
  for (const w of part.watermarks) target.watermarks.push(w);
}

/** One beamtime DB: its records and watermark, or "unchanged" when it need not be read. */
async function readOneDb(
  options: ResonanceSourceOptions,
  relative: string,
  entry: IndexEntry,
  discovered: boolean,
  indexChanged: boolean,
  watermarks: WatermarkReader,
  scan: ScanOptions,
  moved: ReadonlyMap<string, IndexEntry>,
): Promise<ScanResult | "unchanged"> {
  const { dataRoot, config } = options;
  const result: ScanResult = { snapshot: emptySnapshot(), watermarks: [], unchanged: 0 };
  const report = (p: string, reason: string) => result.snapshot.problems.push({ source: SOURCE, path: p, reason });
  const absolute = path.join(dataRoot, relative);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (error) {
    const reason = `cannot stat the beamtime DB (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    report(relative, reason);
    result.watermarks.push({ source: SOURCE, path: relative, size: 0, mtimeMs: 0, problem: reason, retry: true });
    return result;
  }
  // Checked before SQLite opens it: opening a FIFO blocks until someone writes to it.
  const irregular = notRegularFile(stat);
  if (irregular) {
    report(relative, irregular);
    result.watermarks.push({ source: SOURCE, path: relative, size: 0, mtimeMs: 0, problem: irregular, retry: true });
    return result;
  }
  const journal = fs.existsSync(`${absolute}-journal`);
  const previous = await watermarks.get(SOURCE, relative);
  const changeCounter = (await readDbHeader(absolute))?.changeCounter;
  if (!scan.force && !indexChanged && unchanged(previous, stat, changeCounter, scan.nowMs, config.staleAfterSeconds)) return "unchanged";
  const wm: Watermark = { source: SOURCE, path: relative, size: stat.size, mtimeMs: stat.mtimeMs };
  try {
    const read = readBeamtimeDb(absolute, config.busyTimeoutMs, { series: options.previews === true });
    if (read.kind === "other") {
      if (!discovered) {
        wm.problem = `not a resonance beamtime DB (missing table(s) ${read.missingTables.join(", ")})`;
        report(relative, wm.problem);
      }
      result.watermarks.push(wm);
      return result;
    }
    const records = beamtimeRecords(read, {
      relative,
      absolute,
      entry,
      sampleKey: options.sampleKey ?? "id",
      staleAfterSeconds: config.staleAfterSeconds,
      nowMs: scan.nowMs,
      fileMtimeMs: stat.mtimeMs,
      fileSize: stat.size,
      journal,
      movedEntries: discovered ? moved : new Map(),
      ...(options.pins ? { pins: options.pins } : {}),
      discovered,
      knownKey: keyOfSameFile(previous, stat),
    });
    if (records.beamtime) result.snapshot.beamtimes.push(records.beamtime);
    result.snapshot.samples = records.samples;
    result.snapshot.runs = records.runs;
    result.snapshot.problems.push(...records.problems);
    const data: DbWatermarkData = {
      open: records.runs.filter((r) => r.state === "open").length,
      stale: records.runs.filter((r) => r.state === "stale").length,
      ...(records.beamtime ? { beamtimeKey: records.beamtime.key } : {}),
      changeCounter,
      ino: stat.ino,
      ctimeMs: stat.ctimeMs,
    };
    wm.data = data;
    // A write in progress: what we read is the state before it; read again once it commits.
    if (journal) wm.retry = true;
    if (records.problems.length > 0) wm.problem = records.problems.map((p) => `${p.location ? `${p.location}: ` : ""}${p.reason}`).join("; ").slice(0, 1000);
  } catch (error) {
    const header = await readDbHeader(absolute);
    const failure = describeReadError(error, absolute, { header, size: stat.size });
    // A discovered *.db that is not SQLite at all is somebody else's file, but still worth a word.
    wm.problem = discovered && header !== undefined && !header.isSqlite && !failure.retry ? `not an SQLite database: ${failure.message}` : failure.message;
    wm.retry = failure.retry;
    report(relative, wm.problem);
  }
  result.watermarks.push(wm);
  return result;
}

/** Unchanged: same size and mtime, nothing to retry, and no open run that may have turned stale meanwhile. */
/** The beamtime key a watermark remembers for this very file (same inode): a deleted first run does not re-key it. */
function keyOfSameFile(previous: Watermark | undefined, stat: fs.Stats): string | undefined {
  const data = previous?.data as Partial<DbWatermarkData> | undefined;
  return data?.ino === stat.ino && data.beamtimeKey?.startsWith("resonance:") ? data.beamtimeKey : undefined;
}

function unchanged(previous: Watermark | undefined, stat: fs.Stats, changeCounter: number | undefined, nowMs: number, staleAfterSeconds: number): boolean {
  if (!previous || previous.retry || previous.size !== stat.size || previous.mtimeMs !== stat.mtimeMs) return false;
  const data = previous.data as Partial<DbWatermarkData> | undefined;
  if (data?.changeCounter !== undefined && data.changeCounter !== changeCounter) return false;
  if (data?.ino !== undefined && data.ino !== stat.ino) return false;
  if (data?.ctimeMs !== undefined && data.ctimeMs !== stat.ctimeMs) return false;
  if (staleAfterSeconds > 0 && (data?.open ?? 0) > 0 && nowMs - stat.mtimeMs > staleAfterSeconds * 1000) return false;
  return true;
}

async function readIndex(options: ResonanceSourceOptions, indexRel: string, watermarks: WatermarkReader, scan: ScanOptions, result: ScanResult): Promise<{ entries: IndexEntry[]; changed: boolean }> {
  const file = path.join(options.dataRoot, indexRel);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    // No index is the normal case today (resonance's IndexWriter is a skeleton): discovery finds the DBs.
    const previous = await watermarks.get(SOURCE, indexRel);
    if (previous) result.watermarks.push({ source: SOURCE, path: indexRel, size: 0, mtimeMs: 0, data: { entries: [] } });
    return { entries: [], changed: previous !== undefined && previous.size !== 0 };
  }
  const previous = await watermarks.get(SOURCE, indexRel);
  const cached = (previous?.data as IndexWatermarkData | undefined)?.entries;
  const irregular = notRegularFile(stat);
  if (irregular) {
    result.watermarks.push({ source: SOURCE, path: indexRel, size: 0, mtimeMs: 0, problem: `index: ${irregular}`, retry: true, data: { entries: cached ?? [] } satisfies IndexWatermarkData });
    result.snapshot.problems.push({ source: SOURCE, path: indexRel, reason: `index: ${irregular}` });
    return { entries: cached ?? [], changed: cached === undefined };
  }
  if (!scan.force && previous && !previous.retry && previous.size === stat.size && previous.mtimeMs === stat.mtimeMs && cached) {
    result.unchanged++;
    return { entries: cached, changed: false };
  }
  const wm: Watermark = { source: SOURCE, path: indexRel, size: stat.size, mtimeMs: stat.mtimeMs };
  try {
    const { entries } = readIndexDb(file, options.config.busyTimeoutMs);
    wm.data = { entries } satisfies IndexWatermarkData;
    result.watermarks.push(wm);
    return { entries, changed: true };
  } catch (error) {
    const failure = describeReadError(error, file, { size: stat.size });
    wm.problem = failure.message;
    wm.retry = failure.retry;
    // Keep using what we knew, so a locked or damaged index does not make every beamtime vanish.
    wm.data = { entries: cached ?? [] } satisfies IndexWatermarkData;
    result.watermarks.push(wm);
    const problem: SourceProblem = { source: SOURCE, path: indexRel, reason: `index: ${failure.message}` };
    result.snapshot.problems.push(problem);
    return { entries: cached ?? [], changed: cached === undefined };
  }
}
