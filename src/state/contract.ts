import type { DesiredRecord, DestinationName } from "../mapping/record.js";
import type { SourceKind } from "../model/types.js";
import type { Watermark } from "../sources/contract.js";
import type { DumpRow } from "./dump.js";

/**
 * What beamsync keeps between runs, as one interface with two backends: SQLite (one instance per beamline,
 * `state.backend: sqlite`) and PostgreSQL (several workers sharing one state, `state.backend: postgres`).
 * Every method that reads or writes is asynchronous; attempt outcomes are queued and committed in groups
 * (see OutcomeQueue), so the push path never waits for a commit.
 */

export type RecordState = "pending" | "synced" | "failed" | "dead";

export interface RecordRow {
  id: string;
  destination: DestinationName;
  kind: string;
  key: string;
  session_identifier: string;
  run_uid: string | null;
  beamtime_key: string | null;
  state: RecordState;
  desired_hash: string;
  synced_hash: string | null;
  payload: string | null;
  depends_on: string;
  remote_id: string | null;
  remote_url: string | null;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  changed_at_ms: number | null;
  created_at: string;
  updated_at: string;
  /** JSON of the fields as last written to the catalog (see destinations/scicat/merge.ts). */
  written: string | null;
  /** JSON list of FieldConflict met at the last push. */
  conflicts: string | null;
}

export interface UploadLogRow {
  id: number;
  session_identifier: string;
  destination_name: string;
  success: number;
  timestamp: string;
  record_id: string | null;
  record_url: string | null;
  error_message: string | null;
  metadata_json: string | null;
  /** The worker that made the attempt (its lease owner id); null for attempts from before state migration 4. */
  worker: string | null;
}

export interface UploadLogEntry {
  sessionIdentifier: string;
  destination: DestinationName;
  success: boolean;
  timestamp?: string;
  recordId?: string | undefined;
  recordUrl?: string | undefined;
  errorMessage?: string | undefined;
  metadata: Record<string, unknown>;
  worker?: string | undefined;
}

/** Which upload attempts `beamsync log` shows: the newest `limit` that match, oldest first. */
export interface UploadLogFilter {
  runUid?: string | undefined;
  destination?: string | undefined;
  failed?: boolean;
  since?: string | undefined;
  limit: number;
}

/** Which records a resync or retry applies to. Empty scope = all. */
export interface RecordScope {
  runUid?: string | undefined;
  beamtime?: string | undefined;
  destination?: DestinationName | undefined;
  /** resync only: forget what beamsync last wrote, so the source's values win over curators' edits. */
  force?: boolean | undefined;
}

export interface ReconcileCounts {
  created: number;
  updated: number;
  forced: number;
  unchanged: number;
}

export interface RequestRow {
  id: number;
  action: "resync" | "retry";
  scope: string;
  requested_at: string;
  handled_at: string | null;
  result: string | null;
}

export interface LeaseOptions {
  owner: string;
  limit: number;
  nowMs: number;
  leaseMs: number;
  destinations: DestinationName[];
  excludeIds?: ReadonlySet<string>;
}

export interface SourceProblemRow {
  source: string;
  path: string;
  problem: string;
  retry: boolean;
  scanned_at: string;
}

export interface SourceSummaryRow {
  source: string;
  files: number;
  problems: number;
  last_scanned: string | null;
}

export interface OldestPendingRow {
  id: string;
  destination: string;
  changed_at_ms: number | null;
  created_at: string;
  last_error: string | null;
}

/** One process working on the state: `status` lists them, upload_log names them. */
export interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
  stopped_at: string | null;
}

/** A row of the workers table as heartbeatWorker writes it. */
export interface WorkerIdentity {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
}

/** What another process wrote that this one should act on without waiting for its next poll. */
export type StateEvent = "work" | "request";

export interface SuccessResult {
  remoteId: string;
  remoteUrl?: string | undefined;
  written?: Record<string, unknown> | undefined;
  conflicts?: unknown[] | undefined;
}

export interface MigrationReport {
  from: number;
  to: number;
  applied: string[];
}

export interface StateStore {
  readonly backend: "sqlite" | "postgres";
  /** Where the state lives, for messages: the SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string;
  /** The SQLite file (the daemon watches it is not deleted or replaced); undefined for PostgreSQL. */
  readonly file: string | undefined;
  readonly migration: MigrationReport;
  /** Whether several processes may push from this state at once (PostgreSQL), so leases decide who pushes. */
  readonly shared: boolean;
  close(): Promise<void>;
  schemaVersion(): Promise<number>;

  // ---- sources
  getWatermark(source: SourceKind, path: string): Promise<Watermark | undefined>;
  forgetSourcesExcept(source: SourceKind, keep: ReadonlySet<string>): Promise<number>;
  sourceProblems(): Promise<SourceProblemRow[]>;
  sourceSummary(): Promise<SourceSummaryRow[]>;

  // ---- reconcile
  reconcile(desired: Iterable<DesiredRecord>, watermarks: Iterable<Watermark>, options?: { force?: (r: DesiredRecord) => boolean; nowMs?: number }): Promise<ReconcileCounts>;
  diff(desired: Iterable<DesiredRecord>): Promise<{ record: DesiredRecord; change: "create" | "update" }[]>;
  /** Record ids and run uids of a beamtime's run records (runs gone from their beamtime DB). */
  runRecordsOfBeamtime(beamtimeKey: string): Promise<{ id: string; run_uid: string }[]>;

  // ---- outbox
  lease(options: LeaseOptions): Promise<RecordRow[]>;
  /** Keep leases of long pushes alive; returns the ids this owner still holds (another worker may have taken one). */
  extendLeases(owner: string, ids: string[], until: number): Promise<string[]>;
  /** Free leases of processes on this host that no longer exist; returns how many were freed. */
  releaseDeadLeases(isAlive: (pid: number) => boolean): Promise<number>;
  releaseLease(id: string, owner: string): Promise<void>;
  releaseLeases(owner: string): Promise<void>;
  remoteIdOf(recordId: string): Promise<string | undefined>;
  /** Remote ids of records that have one, for the dependencies of a batch of leased records. */
  remoteIdsOf(recordIds: readonly string[]): Promise<Map<string, string>>;
  nextDueAt(destinations: DestinationName[], afterMs?: number): Promise<number | undefined>;
  countPending(destinations: DestinationName[]): Promise<number>;
  countBlocked(destinations: DestinationName[]): Promise<number>;

  // ---- attempt outcomes (queued, committed in groups)
  recordSuccess(row: RecordRow, result: SuccessResult, log: UploadLogEntry, nowMs: number): void;
  recordRetry(row: RecordRow, error: string, nextAttemptAt: number, maxAttempts: number, log: UploadLogEntry, nowMs: number): RecordState;
  recordFailure(row: RecordRow, error: string, log: UploadLogEntry, nowMs: number): void;
  recordDeferred(row: RecordRow, error: string, nextAttemptAt: number, log: UploadLogEntry, nowMs: number): void;
  /** Commit the queued outcomes now; on failure they stay queued and the error is thrown. */
  flushWrites(): Promise<void>;

  // ---- curators' edits
  forgetWritten(scope: RecordScope): Promise<number>;
  conflicted(limit: number): Promise<RecordRow[]>;
  countConflicted(): Promise<number>;
  writtenOf(id: string): Promise<Record<string, unknown> | undefined>;

  // ---- upload_log
  appendLog(entry: UploadLogEntry): Promise<void>;
  pruneUploadLog(beforeIso: string, limit: number): Promise<number>;
  uploadLog(filter: UploadLogFilter): Promise<UploadLogRow[]>;

  // ---- operator actions
  retry(scope: RecordScope): Promise<number>;
  addRequest(action: "resync" | "retry", scope: RecordScope): Promise<number>;
  openRequests(): Promise<RequestRow[]>;
  finishRequest(id: number, result: unknown): Promise<void>;
  getRequest(id: number): Promise<RequestRow | undefined>;
  getRecord(id: string): Promise<RecordRow | undefined>;
  records(scope: RecordScope & { states?: RecordState[]; limit?: number }): Promise<RecordRow[]>;

  // ---- status
  countsByState(): Promise<{ destination: string; state: string; n: number }[]>;
  waitingCounts(): Promise<{ destination: string; n: number }[]>;
  oldestPending(): Promise<OldestPendingRow | undefined>;
  recentFailures(limit: number): Promise<RecordRow[]>;
  getMeta(key: string): Promise<string | undefined>;
  /** `waitMs`: how long to wait for another writer's lock before failing (the heartbeat waits only briefly). */
  setMeta(key: string, value: string, options?: { waitMs?: number }): Promise<void>;

  // ---- workers
  /**
   * Say who this process is (host, pid, start); called at start and on every heartbeat. Only the daemon calls it,
   * for its worker (src/app/state-guard.ts): a live row here means a daemon that handles operator requests.
   */
  heartbeatWorker(worker: WorkerIdentity, options?: { waitMs?: number }): Promise<void>;
  stopWorker(id: string): Promise<void>;
  /** The daemons' workers, latest heartbeat first (at most 50); one-shot commands are not among them. */
  workers(): Promise<WorkerRow[]>;
  /**
   * Take the right to run a full scan; undefined when another worker holds it. The returned function gives it
   * back. SQLite: always granted (one daemon per stateDir); PostgreSQL: an advisory lock.
   */
  tryScanLock(): Promise<(() => Promise<void>) | undefined>;
  /** Hear what other processes write (new work, operator requests). SQLite: nothing to hear, one process pushes. */
  listen(onEvent: (event: StateEvent) => void): Promise<void>;

  // ---- moving between backends (state export / import, see dump.ts)
  /** Every row a dump carries, table by table. */
  exportRows(): AsyncIterable<DumpRow>;
  /** Load a dump into this state, which must hold no records yet; all or nothing. Returns rows per table. */
  importRows(rows: AsyncIterable<DumpRow>): Promise<Record<string, number>>;
}
