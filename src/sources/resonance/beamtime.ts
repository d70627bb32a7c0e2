import path from "node:path";
import { firstString } from "../../mapping/lookup.js";
import type { IdentityPin } from "../../model/keys.js";
import type { Beamtime, ImageSeries, Researcher, Run, Sample, SourceProblem, StreamInfo, StreamSeries } from "../../model/types.js";
import { looksLikeLogin } from "../people.js";
import type { BeamtimeDbRead, ImageGroupRow, RunRow, SampleRow, SeriesRow } from "./beamtime-db.js";
import type { IndexEntry } from "./index-db.js";
import { parseJsonObject, parseStringList } from "../python-json.js";
import { filesUnder } from "./locate.js";
import { normalizeDataKeys, normalizeExitStatus } from "./normalize.js";

/** Rows of one beamtime DB → model records (resonance-data.md §3, §7, §9). Pure apart from listing the run's Zarr files. */

export interface BeamtimeContext {
  /** db_path relative to the DATA root (where the files are; never part of a key). */
  relative: string;
  absolute: string;
  entry: IndexEntry;
  sampleKey: "id" | "serial";
  staleAfterSeconds: number;
  nowMs: number;
  /** When the file last changed (ms); a run quiet since before `now - staleAfter` is stale. */
  fileMtimeMs: number;
  fileSize: number;
  /** A write transaction is open (or was left by a crash): open runs are not stale. */
  journal: boolean;
  /** Index entries of beamtimes whose DB moved away from the indexed path, by beamtime key. */
  movedEntries?: ReadonlyMap<string, IndexEntry> | undefined;
  /** Beamtimes as a key migration left them, by key (model/keys.ts IdentityPin). */
  pins?: ReadonlyMap<string, IdentityPin> | undefined;
  /** The index does not list this DB. */
  discovered?: boolean | undefined;
  /** The key this very file (same path and inode) had when last read. */
  knownKey?: string | undefined;
}

export interface BeamtimeRecords {
  /** None until the DB holds a run: a beamtime is known by its first run. */
  beamtime: Beamtime | undefined;
  samples: Sample[];
  runs: Run[];
  problems: SourceProblem[];
}

export function beamtimeRecords(read: Extract<BeamtimeDbRead, { kind: "resonance" }>, ctx: BeamtimeContext): BeamtimeRecords {
  const problems: SourceProblem[] = [];
  const problem = (reason: string, location?: string) => problems.push({ source: "resonance", path: ctx.relative, reason, ...(location ? { location } : {}) });
  const first = read.runs[0];
  if (!first) return { beamtime: undefined, samples: [], runs: [], problems };
  // The first run, unless a key migration tied the beamtime to a later one of its runs.
  const pinned = ctx.pins && ctx.pins.size > 0 ? read.runs.find((r) => ctx.pins?.has(beamtimeKeyFor(r.uid))) : undefined;
  // Else the same file keeps the identity it was first read with, also once the run that gave it is deleted.
  const key = pinned ? beamtimeKeyFor(pinned.uid) : (ctx.knownKey ?? beamtimeKeyFor(first.uid));
  const pin = ctx.pins?.get(key);
  const kept = ctx.discovered && pin?.label !== undefined && pin.researcher !== undefined ? { ...ctx.entry, label: pin.label, researcher: { name: pin.researcher } } : undefined;
  const entry = ctx.movedEntries?.get(key) ?? kept ?? ctx.entry;
  if (entry.extraError) problem(entry.extraError, "index beamtimes.extra");
  const beamtime: Beamtime = {
    key,
    source: "resonance",
    label: entry.label !== "" ? entry.label : isoDate(first.time_start),
    researcher: entry.researcher.name !== "" ? entry.researcher : researcherFromFirstRun(first),
    extra: entry.extra,
    ...(typeof entry.extra.proposal_id === "string" && entry.extra.proposal_id !== "" ? { proposalId: entry.extra.proposal_id } : {}),
    ...(entry.description !== undefined ? { description: entry.description } : {}),
    ...(entry.timeStart !== undefined ? { timeStart: entry.timeStart } : {}),
    ...(entry.timeStop !== undefined ? { timeStop: entry.timeStop } : {}),
  };

  const sampleKeys = new Map<number, string>();
  const samples = read.samples.map((row) => {
    const sample = toSample(row, key, ctx, problem);
    sampleKeys.set(row.id, sample.key);
    return sample;
  });

  const rangesByStream = new Map<string, Record<string, { min: number; max: number }>>();
  for (const row of read.ranges) {
    const id = `${row.run_uid}\u0000${row.stream}`;
    const ranges = rangesByStream.get(id) ?? {};
    ranges[row.field] = { min: row.min, max: row.max };
    rangesByStream.set(id, ranges);
  }
  const seriesByStream = seriesOf(read.series);
  const streamsByRun = new Map<string, StreamInfo[]>();
  for (const row of read.streams) {
    const keys = parseJsonObject(row.data_keys);
    if (!keys.ok) problem(`streams.data_keys ${keys.error}`, `run ${row.run_uid} stream ${row.name}`);
    const list = streamsByRun.get(row.run_uid) ?? [];
    const ranges = rangesByStream.get(`${row.run_uid}\u0000${row.name}`);
    const series = seriesByStream.get(`${row.run_uid}\u0000${row.name}`);
    list.push({ name: row.name, dataKeys: normalizeDataKeys(keys.ok ? keys.value : {}), ...(ranges ? { ranges } : {}), ...(series ? { series } : {}) });
    streamsByRun.set(row.run_uid, list);
  }

  // Committed frames per run: chunks at higher indexes are orphans (a crash, a late frame) and are not registered.
  const committed = new Map<string, number>();
  for (const group of read.imageGroups) committed.set(group.zarr_group, group.max_index);
  const imageGroupsByRun = new Map<string, ImageGroupRow[]>();
  for (const group of read.imageGroups) {
    // zarr_group is "runs/<run uid>/<field>" (resonance-data.md §1).
    const runUid = group.zarr_group.split("/")[1] ?? "";
    const list = imageGroupsByRun.get(runUid) ?? [];
    list.push(group);
    imageGroupsByRun.set(runUid, list);
  }

  const zarrRoot = path.join(path.dirname(ctx.absolute), `${path.basename(ctx.absolute, path.extname(ctx.absolute))}.zarr`);
  // Runs are read in start order and never deleted: a run's place in its beamtime is its scan number.
  const runs = read.runs.map((row, i) => ({ ...toRun(row, key, ctx, { sampleKeys, streamsByRun, committed, imageGroupsByRun, zarrRoot, problem }), scanId: i + 1 }));
  return { beamtime, samples, runs, problems };
}

/** Event rows → per stream, each numeric field's values in event order (an unreadable event counts as NaN). */
function seriesOf(rows: SeriesRow[]): Map<string, StreamSeries> {
  const out = new Map<string, StreamSeries>();
  for (const row of rows) {
    const id = `${row.run_uid}\u0000${row.stream}`;
    let series = out.get(id);
    if (!series) out.set(id, (series = { time: [], fields: {} }));
    const index = series.time.length;
    series.time.push(row.time);
    const data = parseJsonObject(row.data);
    for (const [field, value] of Object.entries(data.ok ? data.value : {})) {
      if (typeof value !== "number") continue;
      const values = (series.fields[field] ??= []);
      while (values.length < index) values.push(Number.NaN);
      values.push(value);
    }
  }
  for (const series of out.values()) for (const values of Object.values(series.fields)) while (values.length < series.time.length) values.push(Number.NaN);
  return out;
}

/** A beamtime's key: its first run, which neither a move nor a rename of the DB or its directory changes. */
export function beamtimeKeyFor(firstRunUid: string): string {
  return `resonance:${firstRunUid}`;
}

/** Unix seconds → `YYYY-MM-DD` (UTC): the label of a beamtime the index does not list. */
function isoDate(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString().slice(0, 10);
}

/** Metadata keys that name a person in `runs.metadata` (free-form), first match wins. */
const PERSON_KEYS = ["researcher", "pi_name", "principal_investigator", "user_name"];

/**
 * Who a beamtime that the index does not list belongs to: a person named in its first run's metadata, else
 * that run's operator as a login id, else nobody. Never the directory the DB lies in, and only the first run
 * (written once, at its start), so later runs cannot change whom the beamtime belongs to.
 */
function researcherFromFirstRun(first: RunRow): Researcher {
  const metadata = parseJsonObject(first.metadata);
  const name = metadata.ok ? firstString(metadata.value, PERSON_KEYS) : undefined;
  if (name) return { name, ...(looksLikeLogin(name) ? { login: true } : {}) };
  if (first.operator) return { name: first.operator, login: true };
  return { name: "" };
}

function toSample(row: SampleRow, beamtimeKey: string, ctx: BeamtimeContext, problem: (reason: string, location?: string) => void): Sample {
  const tags = parseStringList(row.tags);
  if (!tags.ok) problem(`samples.tags ${tags.error}`, `sample ${row.id}`);
  const extra = parseJsonObject(row.extra);
  if (!extra.ok) problem(`samples.extra ${extra.error}`, `sample ${row.id}`);
  // Inside the beamtime, so inside its proposal: a serial never joins samples of two beamtimes.
  const key = ctx.sampleKey === "serial" && row.serial ? `${beamtimeKey}#serial:${row.serial}` : `${beamtimeKey}#${row.id}`;
  return {
    key,
    beamtimeKey,
    name: row.name,
    tags: tags.ok ? tags.value : [],
    extra: extra.ok ? extra.value : {},
    ...(row.formula !== null ? { formula: row.formula } : {}),
    ...(row.serial !== null ? { serial: row.serial } : {}),
    ...(row.beamline_pos !== null ? { beamlinePos: row.beamline_pos } : {}),
  };
}

interface RunLookups {
  sampleKeys: Map<number, string>;
  streamsByRun: Map<string, StreamInfo[]>;
  committed: Map<string, number>;
  imageGroupsByRun: Map<string, ImageGroupRow[]>;
  zarrRoot: string;
  problem: (reason: string, location?: string) => void;
}

function toRun(row: RunRow, beamtimeKey: string, ctx: BeamtimeContext, lookups: RunLookups): Run {
  const metadata = parseJsonObject(row.metadata);
  if (!metadata.ok) lookups.problem(`runs.metadata ${metadata.error}`, `run ${row.uid}`);
  const closed = row.time_stop !== null && row.exit_status !== null;
  const exit = normalizeExitStatus(row.exit_status);
  if (exit.unknown) lookups.problem(`unknown exit status '${exit.unknown}' kept as it is`, `run ${row.uid}`);

  let state: Run["state"] = closed ? "complete" : "open";
  if (!closed && ctx.staleAfterSeconds > 0 && !ctx.journal) {
    const quietSince = Math.max(row.time_start * 1000, ctx.fileMtimeMs);
    if (ctx.nowMs - quietSince > ctx.staleAfterSeconds * 1000) state = "stale";
  }

  const run: Run = {
    uid: row.uid,
    source: "resonance",
    beamtimeKey,
    planName: row.plan_name,
    timeStart: row.time_start,
    state,
    numEvents: row.num_events ?? 0,
    metadata: metadata.ok ? metadata.value : {},
    streams: lookups.streamsByRun.get(row.uid) ?? [],
    sourceFolder: path.dirname(ctx.absolute),
    files: [],
    dataFormat: "resonance-sqlite+zarr",
  };
  const sampleKey = row.sample_id !== null ? lookups.sampleKeys.get(row.sample_id) : undefined;
  if (sampleKey) run.sampleKey = sampleKey;
  if (closed) run.timeStop = row.time_stop ?? undefined;
  if (exit.status !== undefined) run.exitStatus = exit.status;
  if (row.operator) run.operator = row.operator;
  if (state !== "open") run.files = runFiles(row.uid, ctx, lookups);
  // The run's own folder is its Zarr group, when it has frames there; a run of scalars lives in the DB alone.
  if (run.files.some((f) => !f.shared)) run.ownFolder = path.join(lookups.zarrRoot, "runs", row.uid);
  if (state !== "open") {
    const images = imageSeriesOf(lookups.imageGroupsByRun.get(row.uid) ?? [], lookups.zarrRoot);
    if (images.length > 0) run.images = images;
  }
  return run;
}

/** The run's committed image series, by field name (image_refs rows grouped by their Zarr array). */
function imageSeriesOf(groups: ImageGroupRow[], zarrRoot: string): ImageSeries[] {
  return groups
    .filter((g) => g.frames > 0)
    .map((g) => ({ field: g.field_name, arrayPath: path.join(zarrRoot, ...g.zarr_group.split("/")), frames: g.frames, shape: [g.shape_x, g.shape_y] as [number, number], dtype: g.dtype }))
    .sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
}

/** The beamtime DB (shared by all its runs, so marked shared) plus every committed file under `<stem>.zarr/runs/<uid>/`. */
function runFiles(uid: string, ctx: BeamtimeContext, lookups: RunLookups): Run["files"] {
  const files: Run["files"] = [{ path: ctx.absolute, size: ctx.fileSize, mtimeMs: Math.floor(ctx.fileMtimeMs), shared: true }];
  const runDir = path.join(lookups.zarrRoot, "runs", uid);
  for (const file of filesUnder(runDir)) {
    const parts = path.relative(runDir, file.path).split(path.sep);
    // <field>/c/<frame>/0/0: a chunk beyond the committed frames is an orphan.
    if (parts.length >= 3 && parts[1] === "c") {
      const max = lookups.committed.get(`runs/${uid}/${parts[0] ?? ""}`);
      const frame = Number(parts[2]);
      if (max === undefined || !Number.isInteger(frame) || frame > max) continue;
    }
    files.push(file);
  }
  return files;
}

