import type { DestinationName } from "../mapping/record.js";

/** A record handed to a destination for pushing (an outbox row, decoded). */
export interface PushRecord {
  kind: string;
  key: string;
  payload: Record<string, unknown>;
  hash: string;
  /** Remote id from an earlier successful push, if any (a hint, never trusted blindly). */
  remoteId?: string | undefined;
  /**
   * What beamsync last wrote to the catalog for this record (PushResult.written of the last success), so an update
   * changes only fields whose mapped value changed and keeps a curator's edits; undefined when not known.
   */
  lastWritten?: Record<string, unknown> | undefined;
}

/** A field changed both in the catalog (by a curator) and in the source since beamsync last wrote it. */
export interface FieldConflict {
  /** `datasetName`, or `scientificMetadata.sample` for a key inside a merged object. */
  field: string;
  /** Kept in the catalog. */
  catalog: unknown;
  /** What the source maps to now, not sent. */
  source: unknown;
  lastWritten: unknown;
}

export interface PushContext {
  /** Remote id of a synced dependency, e.g. the server-assigned pid of an Instrument. */
  dependencyRemoteId(kind: string, key: string): string | undefined;
}

export type PushOperation = "create" | "update" | "skip";

export interface PushResult {
  operation: PushOperation;
  remoteId: string;
  remoteUrl?: string | undefined;
  httpStatus?: number | undefined;
  /** The record's fields as beamsync has now written them (remembered for the next update). */
  written?: Record<string, unknown> | undefined;
  /** Fields left as the catalog has them because a curator changed them too. */
  conflicts?: FieldConflict[] | undefined;
}

/** What the catalog holds now for a record, for `sync --dry-run` diffs. */
export interface RemoteState {
  exists: boolean;
  remoteId?: string | undefined;
  /** The catalog's current values of the fields this record would set. */
  fields?: Record<string, unknown> | undefined;
  /** Fields an update would send now (with PushRecord.lastWritten, curator edits are left out). */
  changes?: string[] | undefined;
  conflicts?: FieldConflict[] | undefined;
}

export type CheckSeverity = "ok" | "warning" | "error";

export interface CheckResult {
  name: string;
  severity: CheckSeverity;
  message: string;
  /** How to fix it, when severity is not ok. */
  fix?: string | undefined;
}

export interface HealthResult {
  reachable: boolean;
  authenticated: boolean;
  message: string;
}

/**
 * One small interface per catalog. Implementations are idempotent by construction: pushing a record
 * twice, or after a lost response, updates instead of duplicating. Failures are thrown as SyncError
 * subclasses (src/sync/errors.ts) so callers know whether to retry.
 */
export interface Destination {
  readonly name: DestinationName;
  /** Log in (or check a token). Throws ConfigurationError for bad credentials. */
  authenticate(): Promise<void>;
  /** Create or update the record by its natural key. */
  push(record: PushRecord, ctx: PushContext): Promise<PushResult>;
  /** Look the record up without changing anything. */
  lookup(record: PushRecord, ctx: PushContext): Promise<RemoteState>;
  /** Cheap reachability probe used while the catalog is considered down. */
  health(): Promise<HealthResult>;
  /** Preflight checks for `beamsync doctor` (permissions, reference data). */
  preflight(): Promise<CheckResult[]>;
  /** Release sessions; called on shutdown. */
  close(): Promise<void>;
}
