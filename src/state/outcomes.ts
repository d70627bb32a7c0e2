import type { RecordRow, RecordState, SuccessResult, UploadLogEntry } from "./contract.js";

/** Longest an attempt outcome waits for its commit, and how many may wait (see OutcomeQueue). */
const GROUP_COMMIT_MS = 20;
const GROUP_COMMIT_MAX = 256;
const GROUP_COMMIT_RETRY_MS = 1000;

/** One attempt's outcome as both backends write it: the record's new state and its upload_log row. */
export type Outcome =
  | { kind: "success"; id: string; hash: string; remoteId: string; remoteUrl: string | null; written: string | null; conflicts: string | null; now: string; log: UploadLogEntry }
  | { kind: "retry"; id: string; nextAttemptAt: number; error: string; maxAttempts: number; now: string; log: UploadLogEntry }
  | { kind: "failure"; id: string; error: string; now: string; log: UploadLogEntry }
  | { kind: "deferred"; id: string; nextAttemptAt: number; error: string; now: string; log: UploadLogEntry };

/**
 * Attempt outcomes are written together: each is queued, and one transaction commits them all at most
 * GROUP_COMMIT_MS later (or at once when GROUP_COMMIT_MAX are waiting). A commit per push was the largest
 * state cost of a cold sync; a commit per 8 or more costs a third. Every read the worker relies on flushes
 * first, and so do close and releasing leases. A kill -9 can lose only the outcomes of the last few
 * milliseconds: those pushes are idempotent and are simply made again after the restart.
 */
export class OutcomeQueue {
  private readonly queued: Outcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  /** `commit` writes the outcomes in one transaction, or throws having written none of them. */
  constructor(private readonly commit: (outcomes: Outcome[]) => Promise<void> | void) {}

  get size(): number {
    return this.queued.length;
  }

  success(row: RecordRow, result: SuccessResult, log: UploadLogEntry, nowMs: number): void {
    this.push({
      kind: "success",
      id: row.id,
      hash: row.desired_hash,
      remoteId: result.remoteId,
      remoteUrl: result.remoteUrl ?? null,
      written: result.written ? JSON.stringify(result.written) : null,
      conflicts: result.conflicts?.length ? JSON.stringify(result.conflicts) : null,
      now: new Date(nowMs).toISOString(),
      log,
    });
  }

  retry(row: RecordRow, error: string, nextAttemptAt: number, maxAttempts: number, log: UploadLogEntry, nowMs: number): RecordState {
    this.push({ kind: "retry", id: row.id, nextAttemptAt, error, maxAttempts, now: new Date(nowMs).toISOString(), log });
    return row.attempts + 1 >= maxAttempts ? "dead" : "pending";
  }

  failure(row: RecordRow, error: string, log: UploadLogEntry, nowMs: number): void {
    this.push({ kind: "failure", id: row.id, error, now: new Date(nowMs).toISOString(), log });
  }

  deferred(row: RecordRow, error: string, nextAttemptAt: number, log: UploadLogEntry, nowMs: number): void {
    this.push({ kind: "deferred", id: row.id, nextAttemptAt, error, now: new Date(nowMs).toISOString(), log });
  }

  /**
   * Commit what is queued (one commit at a time, in order). When it fails (the file locked past the busy
   * timeout, a full disk, the server gone) the outcomes stay queued, in order, and the error goes to the caller.
   */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.queued.length === 0) return;
    const outcomes = this.queued.splice(0);
    const committing = (async () => {
      try {
        await this.commit(outcomes);
      } catch (error) {
        this.queued.unshift(...outcomes);
        throw error;
      }
    })();
    this.flushing = committing;
    try {
      await committing;
    } finally {
      if (this.flushing === committing) this.flushing = undefined;
    }
  }

  /**
   * Commit what is queued together with the caller's own writes: `work` gets the outcomes and writes them in the
   * same transaction as its own, or throws having written none (they stay queued, in order). One commit where a
   * flush and then the caller's transaction made two: the worker's lease is the read that flushes most often.
   */
  async commitWith<T>(work: (outcomes: Outcome[]) => T): Promise<T> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.flushing) await this.flushing.catch(() => undefined);
    const outcomes = this.queued.splice(0);
    try {
      return work(outcomes);
    } catch (error) {
      this.queued.unshift(...outcomes);
      // As after a failed flush: tried again later even if no read comes to flush them.
      if (this.queued.length > 0) this.schedule(GROUP_COMMIT_RETRY_MS);
      throw error;
    }
  }

  /** Stop the timer (close): what is still queued is the caller's to flush or give up. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private push(outcome: Outcome): void {
    this.queued.push(outcome);
    if (this.queued.length >= GROUP_COMMIT_MAX) this.schedule(0);
    else this.schedule(GROUP_COMMIT_MS);
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Kept queued on failure (see flush); the worker's next read meets the same error and reports it.
      this.flush().catch(() => this.schedule(GROUP_COMMIT_RETRY_MS));
    }, delayMs);
  }
}

/**
 * What both stores do with attempt outcomes (StateStore.record*): queue them, and commit them in groups with the
 * backend's own `commitOutcomes` (one transaction, or none of them).
 */
export abstract class QueuedOutcomes {
  protected readonly outcomes = new OutcomeQueue((outcomes) => this.commitOutcomes(outcomes));

  protected abstract commitOutcomes(outcomes: Outcome[]): Promise<void> | void;

  async flushWrites(): Promise<void> {
    if (this.outcomes.size === 0) return;
    await this.outcomes.flush();
  }

  recordSuccess(row: RecordRow, result: SuccessResult, log: UploadLogEntry, nowMs: number): void {
    this.outcomes.success(row, result, log, nowMs);
  }

  recordRetry(row: RecordRow, error: string, nextAttemptAt: number, maxAttempts: number, log: UploadLogEntry, nowMs: number): RecordState {
    return this.outcomes.retry(row, error, nextAttemptAt, maxAttempts, log, nowMs);
  }

  recordFailure(row: RecordRow, error: string, log: UploadLogEntry, nowMs: number): void {
    this.outcomes.failure(row, error, log, nowMs);
  }

  /** The catalog as a whole could not serve this attempt: try again at `nextAttemptAt`, no attempt counted. */
  recordDeferred(row: RecordRow, error: string, nextAttemptAt: number, log: UploadLogEntry, nowMs: number): void {
    this.outcomes.deferred(row, error, nextAttemptAt, log, nowMs);
  }
}
