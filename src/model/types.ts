/**
 * The domain model: plain typed records that sources produce and mappings consume.
 * Every record has a stable natural key so that re-reading the same files yields the same keys.
 */

export type SourceKind = "resonance" | "bluesky" | "registration";

/** A person responsible for a beamtime (resonance `researchers` row, or bluesky start-document fields). */
export interface Researcher {
  /** A person's name; empty when the source names nobody. */
  name: string;
  /** `name` is a login id (e.g. `prjemian@zap`), not a person's name: shown whole, never split into first and last. */
  login?: boolean | undefined;
  email?: string | undefined;
  orcid?: string | undefined;
  affiliation?: string | undefined;
  rootPath?: string | undefined;
}

/** A block of beamline time; becomes a SciCat Proposal and an ICAT Investigation. */
export interface Beamtime {
  /**
   * Natural key, from the beamtime itself and never from where its files lie: `resonance:<uid of its first run>`
   * (the earliest by start time, then uid; runs are never deleted), or `bluesky:<proposal id>`.
   */
  key: string;
  source: SourceKind;
  /** Human label, typically an ISO date (resonance `beamtimes.label`), or the bluesky proposal id. */
  label: string;
  /** Proposal id stated by the source itself (e.g. `beamtimes.extra.proposal_id`), before config rules apply. */
  proposalId?: string | undefined;
  researcher: Researcher;
  description?: string | undefined;
  /** Unix seconds. */
  timeStart?: number | undefined;
  timeStop?: number | undefined;
  extra: Record<string, unknown>;
}

export interface Sample {
  /**
   * Natural key, always inside one beamtime (so inside one proposal): `<beamtime key>#<samples.id>` for resonance
   * (`serial:<serial>` with mapping.sampleKey serial); `bluesky:<proposal id>/<sample id>` for bluesky.
   */
  key: string;
  beamtimeKey: string;
  name: string;
  formula?: string | undefined;
  serial?: string | undefined;
  tags: string[];
  beamlinePos?: string | undefined;
  extra: Record<string, unknown>;
}

/** One data key of a stream, normalised towards event-model's DataKey. */
export interface DataKeyInfo {
  dtype?: string | undefined;
  shape?: (number | null)[] | undefined;
  units?: string | null | undefined;
  source?: string | undefined;
  external?: string | boolean | undefined;
}

/** Values by event, in event order: `time` and each field hold one entry per event (NaN where an event lacks it). */
export interface StreamSeries {
  time: number[];
  fields: Record<string, number[]>;
}

/** Events of a stream kept for a preview: enough for a small plot. */
export const SERIES_MAX_EVENTS = 2000;

export interface StreamInfo {
  name: string;
  dataKeys: Record<string, DataKeyInfo>;
  /** Number of events seen in this stream, where the source tells. */
  eventCount?: number | undefined;
  /** Smallest and largest finite value of each numeric scalar field over the stream's events. */
  ranges?: Record<string, { min: number; max: number }> | undefined;
  /** The first events' numeric scalar values, for a preview plot (only read when previews are on). */
  series?: StreamSeries | undefined;
}

/** A file that belongs to a run. */
export interface FileRef {
  /** Absolute path on this machine. */
  path: string;
  size: number;
  /** Modification time, milliseconds since the Unix epoch. */
  mtimeMs: number;
  /** Shared by every run of its beamtime (the resonance beamtime DB): counted with none of them. */
  shared?: boolean | undefined;
  /** Hex digest of the content, with `files.checksum` (never for a shared file, which changes with every run). */
  checksum?: string | undefined;
}

/** A detector image series the run wrote as a Zarr array (resonance `image_refs`): frames committed with the run. */
export interface ImageSeries {
  field: string;
  /** Absolute directory of the Zarr array, `<stem>.zarr/runs/<uid>/<field>`. */
  arrayPath: string;
  /** Frames committed (image_refs rows); chunks beyond them are orphans. */
  frames: number;
  /** `[rows, columns]` as image_refs states them. */
  shape: [number, number];
  /** numpy dtype name, e.g. "uint16". */
  dtype: string;
}

/** Normalised exit status: event-model words, or a source's unknown word kept verbatim. */
export type ExitStatus = "success" | "abort" | "fail" | (string & {});

/**
 * open: still being written (not pushed as finished);
 * complete: closed with an exit status;
 * stale: never closed and quiet for the configured period (pushed as incomplete, upgraded later).
 */
export type RunState = "open" | "complete" | "stale";

export interface Run {
  /** Natural key: resonance `runs.uid` (32 hex) or bluesky start `uid`. */
  uid: string;
  source: SourceKind;
  beamtimeKey?: string | undefined;
  sampleKey?: string | undefined;
  planName: string;
  /** Unix seconds. */
  timeStart: number;
  timeStop?: number | undefined;
  state: RunState;
  exitStatus?: ExitStatus | undefined;
  reason?: string | undefined;
  numEvents: number;
  scanId?: number | undefined;
  operator?: string | undefined;
  /** Who the run belongs to, where the source names someone for the run itself (bluesky start document). */
  owner?: Researcher | undefined;
  /** Free-form run metadata (resonance `runs.metadata`, bluesky start document minus bulky keys). */
  metadata: Record<string, unknown>;
  streams: StreamInfo[];
  /** Directory that the run's files are listed relative to. */
  sourceFolder: string;
  /** The run's own folder, when `sourceFolder` is shared with other runs (resonance: its Zarr group). */
  ownFolder?: string | undefined;
  files: FileRef[];
  /** Image series the run wrote (resonance Zarr arrays): its main data, shown by a preview as the first frame. */
  images?: ImageSeries[] | undefined;
  /** Files the run names but that do not exist (reported, never invented). */
  missingFiles?: string[] | undefined;
  dataFormat: string;
  /** Source-specific extras a mapping may use (e.g. the bluesky stop document). */
  extra?: Record<string, unknown> | undefined;
}

/** Something a source could not read; reported against that source, never fatal. */
export interface SourceProblem {
  source: SourceKind;
  /** Path of the file (relative to the DATA root where possible). */
  path: string;
  reason: string;
  /** Line or byte offset inside the file, where known. */
  location?: string | undefined;
}

/** Everything one scan of the sources yields. */
export interface Snapshot {
  beamtimes: Beamtime[];
  samples: Sample[];
  runs: Run[];
  problems: SourceProblem[];
}

export function emptySnapshot(): Snapshot {
  return { beamtimes: [], samples: [], runs: [], problems: [] };
}
