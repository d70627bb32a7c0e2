import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { describeAccessError, notRegularFile } from "../access.js";
import type { Config } from "../../config/schema.js";
import { firstString } from "../../mapping/lookup.js";
import { emptySnapshot, type Beamtime, type DataKeyInfo, type Researcher, type Run, type Sample, type StreamInfo } from "../../model/types.js";
import { looksLikeLogin } from "../people.js";
import type { Logger } from "../../ops/logger.js";
import type { ScanOptions, ScanResult, Source, Watermark, WatermarkReader } from "../contract.js";
import { RunAssembler, type AssembledRun } from "./assemble.js";
import { commonFolder, packRootMap, resolveReferences, rootMapFrom } from "./files.js";
import { globMatcher } from "./glob.js";
import { readDocumentFile, type ReadSummary } from "./reader.js";
import { validateDocument } from "./schemas.js";
import { walkDataRoot } from "../walk.js";
import { createPacer } from "../pace.js";

/**
 * The bluesky source: every document file under the DATA root that the include globs select. A file whose
 * size and mtime are unchanged is not read again; a changed file yields all of its runs.
 */

export { readDocumentFile } from "./reader.js";
export type { ReadItem, ReadSummary } from "./reader.js";

export interface BlueskySourceOptions {
  dataRoot: string;
  config: Config["sources"]["bluesky"];
  logger: Logger;
  /** Keep the first events' values of each stream for preview plots (previews.enabled). */
  previews?: boolean;
}

interface FileWatermarkData {
  /** Runs without a stop at the last read (they may turn stale without the file changing). */
  open: number;
  /** A rewrite that kept size and mtime still changes these (ctime cannot be set back); absent in old watermarks. */
  ino?: number;
  ctimeMs?: number;
}

const SOURCE = "bluesky" as const;
const MAX_PROBLEMS_PER_FILE = 20;

export function createBlueskySource(options: BlueskySourceOptions): Source {
  const include = globMatcher(options.config.include);
  const exclude = globMatcher(options.config.exclude);
  return {
    kind: SOURCE,
    scan: (watermarks, scan) => scanBluesky(options, (rel) => include(rel) && !exclude(rel), watermarks, scan),
  };
}

async function scanBluesky(options: BlueskySourceOptions, selected: (relative: string) => boolean, watermarks: WatermarkReader, scan: ScanOptions): Promise<ScanResult> {
  const result: ScanResult = { snapshot: emptySnapshot(), watermarks: [], unchanged: 0 };
  const staleMs = options.config.staleAfterSeconds * 1000;
  const pace = createPacer(scan.signal);
  for (const relative of walkDataRoot(options.dataRoot, selected, (p, reason) => result.snapshot.problems.push({ source: SOURCE, path: p, reason }))) {
    if (await pace()) break;
    const absolute = path.join(options.dataRoot, relative);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(absolute);
    } catch {
      continue; // vanished between listing and reading
    }
    // Replaced by a FIFO or a directory since it was listed: never opened (a FIFO would block the open).
    const irregular = notRegularFile(stat);
    if (irregular) {
      const out: ScanResult = scan.onBatch ? { snapshot: emptySnapshot(), watermarks: [], unchanged: 0 } : result;
      out.snapshot.problems.push({ source: SOURCE, path: relative, reason: irregular });
      out.watermarks.push({ source: SOURCE, path: relative, size: 0, mtimeMs: 0, problem: irregular, retry: true });
      if (scan.onBatch) await scan.onBatch(out);
      continue;
    }
    const previous = await watermarks.get(SOURCE, relative);
    const data = previous?.data as Partial<FileWatermarkData> | undefined;
    const sameFile = (data?.ino === undefined || data.ino === stat.ino) && (data?.ctimeMs === undefined || data.ctimeMs === stat.ctimeMs);
    const unchanged =
      previous && !previous.retry && previous.size === stat.size && previous.mtimeMs === stat.mtimeMs && sameFile && !((data?.open ?? 0) > 0 && scan.nowMs - stat.mtimeMs > staleMs);
    if (!scan.force && unchanged) {
      result.unchanged++;
      continue;
    }
    // One file, one batch (handed over at once when the caller asks for batches).
    const out: ScanResult = scan.onBatch ? { snapshot: emptySnapshot(), watermarks: [], unchanged: 0 } : result;
    const wm: Watermark = { source: SOURCE, path: relative, size: stat.size, mtimeMs: stat.mtimeMs };
    const problems: string[] = [];
    try {
      const file = await readFile(absolute, options, scan.nowMs - stat.mtimeMs > staleMs);
      for (const p of file.problems) {
        out.snapshot.problems.push({ source: SOURCE, path: relative, reason: p.reason, location: p.location });
        problems.push(`${p.location}: ${p.reason}`);
      }
      out.snapshot.runs.push(...file.runs);
      out.snapshot.beamtimes.push(...file.beamtimes);
      out.snapshot.samples.push(...file.samples);
      wm.data = { open: file.runs.filter((r) => r.state === "open").length, ino: stat.ino, ctimeMs: stat.ctimeMs } satisfies FileWatermarkData;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code ? describeAccessError(code) : `cannot read the file: ${(error as Error).message}`;
      out.snapshot.problems.push({ source: SOURCE, path: relative, reason });
      problems.push(reason);
      // A permission or I/O problem may pass without the file changing.
      wm.retry = code !== undefined;
    }
    if (problems.length) wm.problem = `${problems.length} problem(s): ${problems.slice(0, 3).join("; ")}`.slice(0, 1000);
    out.watermarks.push(wm);
    if (scan.onBatch) await scan.onBatch(out);
  }
  return result;
}

interface FileRecords {
  runs: Run[];
  beamtimes: Beamtime[];
  samples: Sample[];
  problems: { location: string; reason: string }[];
  summary: ReadSummary;
}

/** Read, validate and assemble one document file into model records. `quiet`: the file has not grown for the stale period. */
export async function readFile(absolute: string, options: BlueskySourceOptions, quiet: boolean): Promise<FileRecords> {
  const assembler = new RunAssembler({ series: options.previews === true });
  const problems: FileRecords["problems"] = [];
  let suppressed = 0;
  // A file of garbage must not become a million problems: the first ones say enough.
  const note = (p: { location: string; reason: string }) => (problems.length < MAX_PROBLEMS_PER_FILE ? problems.push(p) : suppressed++);
  const summary = await readDocumentFile(absolute, (item) => {
    if (item.type === "problem") {
      note({ location: item.location, reason: item.reason });
      return;
    }
    const validated = validateDocument(item.name, item.doc);
    if (!validated.ok) note({ location: item.location, reason: validated.reason });
    else assembler.add(validated.name, validated.doc, item.location);
  });
  if (suppressed > 0) problems.push({ location: "file", reason: `${suppressed} more problem(s) not listed` });
  problems.push(...assembler.orphans.slice(0, MAX_PROBLEMS_PER_FILE));
  if (!summary.complete && quiet && !summary.gzip) problems.push({ location: `byte ${summary.bytes}`, reason: "the file ends in the middle of a document and has not grown since (truncated?)" });

  const rootMap = rootMapFrom(options.config.rootMap, packRootMap(absolute, (t) => YAML.parse(t) as unknown));
  const docStat = fs.statSync(absolute);
  const docFile = { path: absolute, size: docStat.size, mtimeMs: Math.floor(docStat.mtimeMs) };
  const out: FileRecords = { runs: [], beamtimes: [], samples: [], problems, summary };
  for (const [uid, assembled] of assembler.runs) {
    const { files, missing } = resolveReferences(assembled.references, rootMap);
    const run = toRun(uid, assembled, [docFile, ...files], missing, options.config, quiet);
    out.runs.push(run);
    const proposal = firstString(assembled.start, options.config.keys.proposal);
    if (proposal) {
      run.beamtimeKey = `bluesky:${proposal}`;
      // Only proposal-level fields (its PI), which every run of the proposal states alike, so the Proposal's
      // hash does not depend on which run came first; a run's own owner goes to its dataset.
      out.beamtimes.push({ key: run.beamtimeKey, source: SOURCE, label: proposal, proposalId: proposal, researcher: person(firstString(assembled.start, options.config.keys.pi)), extra: {} });
    }
    const sampleId = firstString(assembled.start, options.config.keys.sample);
    if (sampleId) {
      // Inside the run's proposal: a run of another proposal naming the same sample id gets a sample of its own.
      run.sampleKey = `bluesky:${proposal ?? ""}/${sampleId}`;
      out.samples.push({
        key: run.sampleKey,
        beamtimeKey: run.beamtimeKey ?? "",
        name: firstString(assembled.start, options.config.keys.sampleName) ?? sampleId,
        tags: [],
        extra: {},
      });
    }
  }
  return out;
}

function toRun(uid: string, assembled: AssembledRun, files: Run["files"], missing: string[], config: Config["sources"]["bluesky"], quiet: boolean): Run {
  const { start, stop } = assembled;
  const streams: StreamInfo[] = [];
  let counted = 0;
  for (const [name, stream] of assembled.streams) {
    const dataKeys: Record<string, DataKeyInfo> = {};
    for (const [field, key] of Object.entries(stream.dataKeys)) {
      dataKeys[field] = {
        ...(typeof key.dtype === "string" ? { dtype: key.dtype } : {}),
        ...(Array.isArray(key.shape) ? { shape: key.shape as (number | null)[] } : {}),
        ...(typeof key.units === "string" || key.units === null ? { units: key.units } : {}),
        ...(typeof key.source === "string" ? { source: key.source } : {}),
        ...(typeof key.external === "string" ? { external: key.external } : {}),
      };
    }
    const ranged = Object.keys(stream.ranges).length > 0;
    streams.push({ name, dataKeys, eventCount: stream.events, ...(ranged ? { ranges: stream.ranges } : {}), ...(stream.series ? { series: stream.series } : {}) });
    counted += stream.events;
  }
  const stated = stop?.num_events ? Object.values(stop.num_events as Record<string, number>).reduce((a, b) => a + b, 0) : 0;
  const run: Run = {
    uid,
    source: SOURCE,
    planName: typeof start.plan_name === "string" ? start.plan_name : "unknown",
    timeStart: Number(start.time),
    state: stop ? "complete" : quiet && config.staleAfterSeconds > 0 ? "stale" : "open",
    numEvents: Math.max(counted, stated),
    metadata: startMetadata(start),
    streams,
    sourceFolder: commonFolder(files.map((f) => f.path)),
    files,
    dataFormat: "bluesky-event-model",
  };
  if (typeof start.scan_id === "number") run.scanId = start.scan_id;
  const operator = firstString(start, ["operator", "login_id", "user_name", "owner"]);
  if (operator) run.operator = operator;
  // The dataset's owner: a named field, else a login id (kept whole), else nobody (the mapping decides).
  const named = firstString(start, config.keys.owner);
  const login = named ? undefined : firstString(start, config.keys.login);
  const owner = person(named ?? login, login !== undefined);
  if (owner.name !== "") run.owner = owner;
  if (missing.length) run.missingFiles = missing;
  if (stop) {
    run.timeStop = Number(stop.time);
    run.exitStatus = String(stop.exit_status);
    if (typeof stop.reason === "string" && stop.reason !== "") run.reason = stop.reason;
    run.extra = { stop };
  }
  return run;
}

function person(name: string | undefined, login = false): Researcher {
  if (!name) return { name: "" };
  return login || looksLikeLogin(name) ? { name, login: true } : { name };
}

/** The start document as metadata, without what is bulky and not catalog material (long plan_args reprs). */
function startMetadata(start: Record<string, unknown>): Record<string, unknown> {
  const out = { ...start };
  if (JSON.stringify(out.plan_args ?? null).length > 4096) out.plan_args = "(omitted: larger than 4 KiB)";
  return out;
}
