/**
 * Typed errors that say whether to retry. Every failure a destination reports is one of these,
 * so the outbox worker never has to guess from a status code.
 */

export type FailureKind = "transient" | "permanent" | "dependency" | "configuration";

export abstract class SyncError extends Error {
  abstract readonly kind: FailureKind;
  readonly httpStatus: number | undefined;

  constructor(message: string, options: { httpStatus?: number | undefined; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.httpStatus = options.httpStatus;
  }

  get retryable(): boolean {
    return this.kind === "transient" || this.kind === "dependency";
  }
}

/** Network trouble, 5xx, 429: try again later, honouring `retryAfterMs` when the server named one. */
export class TransientError extends SyncError {
  readonly kind = "transient" as const;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { httpStatus?: number | undefined; retryAfterMs?: number | undefined; cause?: unknown } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The catalog as a whole cannot serve us now, whatever the record (its login refused or answered with a
 * maintenance page, the URL leads nowhere): not the record's fault. The destination counts as down at once,
 * its records stay pending without spending attempts, and pushes go on by themselves when it answers again.
 */
export class UnavailableError extends TransientError {}

/** Validation, permission, mapping: retrying the same request cannot succeed. */
export class PermanentError extends SyncError {
  readonly kind = "permanent" as const;
}

/** A record this one depends on is missing or invisible in the catalog: wait for it, then retry. */
export class DependencyError extends SyncError {
  readonly kind = "dependency" as const;
}

/** The catalog or our configuration is set up wrongly (missing reference data, bad credentials). */
export class ConfigurationError extends SyncError {
  readonly kind = "configuration" as const;
}

/** Bad command-line usage or configuration file: exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function isSyncError(err: unknown): err is SyncError {
  return err instanceof SyncError;
}

/** Turn anything thrown into a SyncError; unknown errors are treated as transient (we cannot prove otherwise). */
export function toSyncError(err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TransientError(message, { cause: err });
}

/**
 * beamsync's own state file could not be read or written (locked past the busy timeout, disk full, removed).
 * Always worth retrying: the file the beamline wrote is fine, and nothing read from it was recorded.
 */
export class StateStoreError extends Error {
  readonly retryable = true;
  constructor(file: string, cause: unknown) {
    super(`beamsync's state store ${file} could not be written (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = "StateStoreError";
  }
}

const TRANSIENT_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/**
 * Errors of the state that may pass by themselves. SQLite: a lock, a full disk. PostgreSQL: the server away or
 * restarting (SQLSTATE class 08 connection, 53 insufficient resources, 57P operator intervention such as a
 * shutdown), a serialization failure or deadlock (class 40), a lock or statement timeout (55P03, 57014), the
 * connection refused, reset or timed out, and pg's own "Connection terminated" errors.
 */
export function isTransientStateError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  // The store's own word that waiting helps (an earlier commit the server is still finishing).
  if ((err as { transient?: unknown }).transient === true) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED") || code === "SQLITE_FULL" || code.startsWith("SQLITE_IOERR")) return true;
    if (TRANSIENT_NODE_CODES.has(code)) return true;
    // SQLSTATE: five characters, digits and capitals.
    if (/^[0-9A-Z]{5}$/.test(code) && (code.startsWith("08") || code.startsWith("40") || code.startsWith("53") || code.startsWith("57P") || code === "57014" || code === "55P03")) return true;
  }
  const message = err instanceof Error ? err.message : "";
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable/i.test(message);
}

/** beamsync's state file or directory cannot be used as configured (missing, not a directory, unwritable, not SQLite): exit 2. */
export class StateFileError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = "StateFileError";
  }
}
