import { SERIES_MAX_EVENTS } from "../../model/types.js";
import { SourceReadError, withReadOnlyDb } from "./sqlite.js";

/** Rows of one beamtime DB, read with one statement per table (resonance-data.md §1). */

export const BEAMTIME_TABLES = ["samples", "runs", "streams", "events", "image_refs"] as const;
export const SUPPORTED_VERSIONS = [1, 2];

export interface SampleRow {
  id: number;
  name: string;
  formula: string | null;
  serial: string | null;
  tags: string | null;
  beamline_pos: string | null;
  extra: string | null;
}

export interface RunRow {
  uid: string;
  sample_id: number | null;
  plan_name: string;
  time_start: number;
  time_stop: number | null;
  exit_status: string | null;
  num_events: number | null;
  operator: string | null;
  metadata: string | null;
}

export interface StreamRow {
  run_uid: string;
  name: string;
  data_keys: string;
}

/** Smallest and largest value of one numeric field over one stream's events. */
export interface RangeRow {
  run_uid: string;
  stream: string;
  field: string;
  min: number;
  max: number;
}

/** One event's data, for preview series. */
export interface SeriesRow {
  run_uid: string;
  stream: string;
  time: number;
  data: string;
}

/** Committed frames per Zarr array (`image_refs` grouped by zarr_group). */
export interface ImageGroupRow {
  zarr_group: string;
  field_name: string;
  frames: number;
  max_index: number;
  shape_x: number;
  shape_y: number;
  dtype: string;
  codec: string | null;
}

export type BeamtimeDbRead =
  | {
      kind: "resonance";
      userVersion: number;
      hasCodecColumn: boolean;
      runs: RunRow[];
      samples: SampleRow[];
      streams: StreamRow[];
      imageGroups: ImageGroupRow[];
      ranges: RangeRow[];
      series: SeriesRow[];
    }
  | { kind: "other"; userVersion: number; missingTables: string[] };

/**
 * Runs are read first: whatever a later statement sees was committed no earlier, so a run read as complete
 * has all its image_refs counted and every sample it names present (samples are never deleted by resonance).
 */
export function readBeamtimeDb(file: string, busyTimeoutMs: number, options: { series?: boolean } = {}): BeamtimeDbRead {
  return withReadOnlyDb(file, busyTimeoutMs, (db) => {
    const userVersion = db.pragma("user_version", { simple: true }) as number;
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    const missingTables = BEAMTIME_TABLES.filter((t) => !tables.has(t));
    if (missingTables.length) return { kind: "other", userVersion, missingTables };
    if (!SUPPORTED_VERSIONS.includes(userVersion)) {
      throw new SourceReadError(`unknown schema version ${userVersion} (beamsync reads 1 and 2)`, false);
    }
    // A v1 file reopened by a v2 writer says version 2 but may still lack the column (resonance-data.md §1).
    const imageColumns = new Set((db.prepare("SELECT name FROM pragma_table_info('image_refs')").all() as { name: string }[]).map((r) => r.name));
    const hasCodecColumn = imageColumns.has("compression_codec");
    const runs = db
      .prepare(
        `SELECT uid, sample_id, plan_name, time_start, time_stop, exit_status, num_events, operator, metadata
         FROM runs ORDER BY time_start, uid`,
      )
      .all() as RunRow[];
    const samples = db.prepare("SELECT id, name, formula, serial, tags, beamline_pos, extra FROM samples ORDER BY id").all() as SampleRow[];
    const streams = db.prepare("SELECT run_uid, name, data_keys FROM streams ORDER BY run_uid, time_created, name").all() as StreamRow[];
    const imageGroups = db
      .prepare(
        `SELECT zarr_group, field_name, COUNT(*) AS frames, MAX(index_in_stack) AS max_index,
                MIN(shape_x) AS shape_x, MIN(shape_y) AS shape_y, MIN(dtype) AS dtype,
                ${hasCodecColumn ? "MIN(compression_codec)" : "NULL"} AS codec
         FROM image_refs GROUP BY zarr_group, field_name`,
      )
      .all() as ImageGroupRow[];
    // Events become visible with their run's stop (resonance-data.md §5): only closed runs have any. Computed by
    // SQLite, a few runs per statement, so no statement holds the file long enough to delay the writer's commit
    // (each statement is its own read). An event whose JSON holds Python's bare NaN/Infinity is not valid JSON to
    // SQLite and is left out of the ranges.
    const closed = runs.filter((r) => r.time_stop !== null).map((r) => r.uid);
    const ranges = inChunks(closed, (uids) =>
      db
        .prepare(
          `SELECT s.run_uid AS run_uid, s.name AS stream, j.key AS field, MIN(j.value) AS min, MAX(j.value) AS max
           FROM streams s JOIN events e ON e.stream_uid = s.uid, json_each(e.data) j
           WHERE s.run_uid IN (${uids.map(() => "?").join(", ")}) AND json_valid(e.data) AND j.type IN ('integer', 'real')
           GROUP BY s.run_uid, s.name, j.key`,
        )
        .all(...uids) as RangeRow[],
    );
    // Previews: the first events of each stream, as text (parsed outside the read).
    const series = options.series
      ? inChunks(closed, (uids) =>
          db
            .prepare(
              `SELECT s.run_uid AS run_uid, s.name AS stream, e.time AS time, e.data AS data
               FROM streams s JOIN events e ON e.stream_uid = s.uid
               WHERE s.run_uid IN (${uids.map(() => "?").join(", ")}) AND e.seq_num <= ${SERIES_MAX_EVENTS}
               ORDER BY s.run_uid, s.name, e.seq_num`,
            )
            .all(...uids) as SeriesRow[],
        )
      : [];
    return { kind: "resonance", userVersion, hasCodecColumn, runs, samples, streams, imageGroups, ranges, series };
  });
}

/** Runs per statement when reading events: small enough that each statement is short. */
const RUNS_PER_STATEMENT = 50;

function inChunks<T>(uids: string[], read: (chunk: string[]) => T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < uids.length; i += RUNS_PER_STATEMENT) for (const row of read(uids.slice(i, i + RUNS_PER_STATEMENT))) out.push(row);
  return out;
}
