import { randomUUID } from "node:crypto";
import os from "node:os";
import type { Destination, PushContext, PushResult } from "../destinations/contract.js";
import type { DestinationName } from "../mapping/record.js";
import { pidAlive } from "../ops/heartbeat.js";
import { scrubSecrets, type Logger } from "../ops/logger.js";
import type { RecordRow, StateStore, WorkerIdentity } from "../state/contract.js";
import { CircuitBreaker } from "./circuit.js";
import { toSyncError, UnavailableError, type SyncError } from "./errors.js";
import { LeaseFence, LeaseLostError, withLeaseFence } from "./lease-fence.js";
import { backoffDelay } from "./retry.js";

export interface WorkerOptions {
  concurrency: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  leaseMs: number;
  /** Transient failures in a row after which a destination counts as down. */
  circuitThreshold?: number;
  probeBaseMs?: number;
  probeMaxMs?: number;
  now?: () => number;
  random?: () => number;
}

export type AttemptOutcome = "success" | "retry" | "failed" | "dead";

export interface AttemptEvent {
  destination: DestinationName;
  kind: string;
  key: string;
  sessionIdentifier: string;
  outcome: AttemptOutcome;
  operation?: PushResult["operation"];
  durationMs: number;
  /** When the source change behind this record was reconciled (for change-to-catalog latency). */
  changedAtMs: number | null;
  error?: string;
}

export interface DrainOptions {
  /** Keep running (daemon) instead of returning when nothing is left to do (one-shot sync). */
  forever: boolean;
  /** One-shot only: give up on a destination after this many failed health probes while it is down. */
  maxProbesWhenDown?: number;
  signal?: AbortSignal;
  /** One-shot only: not done before this settles (the scan still queueing records while pushes run). */
  holdOpenUntil?: Promise<unknown>;
}

export interface DrainSummary {
  attempts: number;
  succeeded: number;
  retried: number;
  failed: number;
  dead: number;
  /** Destinations given up on because they stayed down. */
  unreachable: DestinationName[];
}

/**
 * Records leased per lease query. The query's cost is mostly fixed (one scan, one commit), so a larger batch
 * makes it cheaper per push; the leases of records waiting their turn are renewed with those in flight.
 */
const LEASE_BATCH = 128;

/** Pauses after state-store errors: 1 s, doubling to 30 s; one process, so no jitter. */
const STORE_BACKOFF = { baseMs: 1000, maxMs: 30_000, random: () => 1 };

interface InFlight {
  row: RecordRow;
  promise: Promise<void>;
  fence: LeaseFence;
  startedAt: number;
}

/**
 * The outbox worker: leases due records (their dependencies already in the catalog), pushes them with bounded
 * concurrency, records every attempt in upload_log, and backs off per record and per destination.
 * The same worker serves `beamsync sync` (drain until done) and `beamsync run` (drain forever).
 *
 * It writes nothing to the workers table itself: the daemon registers its worker there (src/app/state-guard.ts),
 * because on a shared state a live row there is how `status`, `resync` and `retry` tell a running daemon
 * (src/ops/heartbeat.ts). A one-shot drain (`sync`, or `resync`/`register` without a daemon) that registered would
 * have them queue requests nobody handles. A one-shot worker still leases, and names itself in upload_log, with
 * its own id; on PostgreSQL, where releaseDeadLeases finds a dead lease owner's pid through the workers table,
 * the leases of a one-shot sync killed with SIGKILL run out after sync.leaseMs instead of being freed at once
 * (SQLite reads the pid from the id).
 */
export class OutboxWorker {
  /**
   * This worker's id: lease owner, upload_log's `worker`, and (the daemon's worker only, registered by its
   * StateGuard) a row of `status`'s workers. "<pid>-<random>".
   */
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly startedAt = new Date().toISOString();
  /** Remote ids of the dependencies of leased records, read once per lease batch (see context()). */
  private readonly dependencyIds = new Map<string, string>();
  private readonly destinations: Map<DestinationName, Destination>;
  private readonly circuit: CircuitBreaker;
  private readonly now: () => number;
  private readonly inFlight = new Map<string, InFlight>();
  /** Leased but not started yet: leasing a batch at a time keeps the lease query off the per-push path. */
  private readonly ready: RecordRow[] = [];
  private wakeUp: (() => void) | undefined;
  /** A wake() came while the loop was busy: its next wait returns at once rather than miss it. */
  private wokenEarly = false;
  private stopping = false;
  private readonly listeners: ((e: AttemptEvent) => void)[] = [];
  private readonly givenUp = new Set<DestinationName>();

  constructor(
    private readonly store: StateStore,
    destinations: Destination[],
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
  ) {
    this.destinations = new Map(destinations.map((d) => [d.name, d]));
    this.circuit = new CircuitBreaker({
      threshold: options.circuitThreshold ?? 5,
      probeBaseMs: options.probeBaseMs ?? 1000,
      probeMaxMs: options.probeMaxMs ?? 30_000,
    });
    this.now = options.now ?? Date.now;
  }

  onAttempt(listener: (e: AttemptEvent) => void): void {
    this.listeners.push(listener);
  }

  /** New work was reconciled, or a push finished: stop waiting (or do not start to, when nobody waits now). */
  wake(): void {
    const fn = this.wakeUp;
    this.wakeUp = undefined;
    if (fn) fn();
    else this.wokenEarly = true;
  }

  isDown(name: DestinationName): boolean {
    return this.circuit.isOpen(name);
  }

  /** Why a destination counts as down, for /readyz; undefined while it is up. */
  downReason(name: DestinationName): string | undefined {
    return this.circuit.reason(name);
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Stop leasing; in-flight pushes finish (drain resolves once they have). */
  stop(): void {
    this.stopping = true;
    this.wake();
  }

  async drain(options: DrainOptions): Promise<DrainSummary> {
    const summary: DrainSummary = { attempts: 0, succeeded: 0, retried: 0, failed: 0, dead: 0, unreachable: [] };
    const onAbort = () => this.stop();
    options.signal?.addEventListener("abort", onAbort);
    await this.store.releaseDeadLeases(pidAlive);
    const leaseTimer = setInterval(() => void this.renewLeases(), Math.max(1000, Math.floor(this.options.leaseMs / 3)));
    leaseTimer.unref();
    let held = options.holdOpenUntil !== undefined;
    void options.holdOpenUntil?.finally(() => {
      held = false;
      this.wake();
    });
    try {
      let storeFailures = 0;
      while (!this.stopping) {
        try {
          if (await this.step(options, summary)) {
            if (!held) break;
            // Nothing left for now, but the scan is still queueing: wait for its next file (or its end).
            await this.waitForProgress(1000);
          }
          storeFailures = 0;
        } catch (err) {
          // The state store could not be read or written (locked past its busy timeout, disk full): pushes
          // pause, in-flight ones finish, their outcomes stay queued in memory, and the loop tries again.
          storeFailures++;
          // A one-shot sync gives up after a few tries (its caller reports the error); the daemon waits it out.
          if (!options.forever && storeFailures >= 5) throw err;
          const delay = backoffDelay(storeFailures, STORE_BACKOFF);
          this.logger.error("state store error; pushes paused", { error: (err as Error).message, retryInMs: delay });
          await this.waitForProgress(delay);
        }
      }
      await Promise.allSettled([...this.inFlight.values()].map((f) => f.promise));
    } finally {
      clearInterval(leaseTimer);
      this.ready.splice(0);
      this.dependencyIds.clear();
      options.signal?.removeEventListener("abort", onAbort);
      await this.store.releaseLeases(this.owner);
    }
    summary.unreachable = [...this.givenUp];
    return summary;
  }

  /** One turn of the drain loop; true when a one-shot drain is done. */
  private async step(options: DrainOptions, summary: DrainSummary): Promise<boolean> {
    await this.probeDownDestinations(options);
    const started = await this.fill(summary);
    if (this.inFlight.size > 0) {
      // Every slot busy: a finishing push wakes us; no need to ask the store when the next record is due.
      // Slots free: fill() just leased all it could, so a record already due waits on a dependency in flight (or
      // another process's lease); a finishing push wakes us for it. Waiting 0 ms for it ran the lease query in a
      // loop, on the thread that reads the sources and handles the answers.
      await this.waitForProgress(this.inFlight.size >= this.options.concurrency ? 1000 : await this.nextWakeDelay({ dueNowIsBlocked: true }));
      return false;
    }
    if (started > 0) return false;
    const active = this.activeDestinations();
    if (!options.forever) {
      const pending = await this.store.countPending(active);
      const down = [...this.destinations.keys()].filter((d) => this.circuit.isOpen(d) && !this.givenUp.has(d));
      if ((pending === 0 || pending === (await this.store.countBlocked(active))) && down.length === 0) return true;
    }
    await this.waitForProgress(await this.nextWakeDelay());
    return false;
  }

  private activeDestinations(): DestinationName[] {
    return [...this.destinations.keys()].filter((d) => !this.circuit.isOpen(d) && !this.givenUp.has(d));
  }

  private async fill(summary: DrainSummary): Promise<number> {
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopping) return 0;
    const active = new Set(this.activeDestinations());
    // Rows leased for a catalog that has since been found down go back to the outbox.
    for (let i = this.ready.length - 1; i >= 0; i--) {
      const row = this.ready[i]!;
      if (!active.has(row.destination)) {
        this.ready.splice(i, 1);
        await this.store.releaseLease(row.id, this.owner);
      }
    }
    if (this.ready.length < free) {
      const leasedAt = this.now();
      const leased = await this.store.lease({
        owner: this.owner,
        limit: Math.max(free, LEASE_BATCH) - this.ready.length,
        nowMs: leasedAt,
        leaseMs: this.options.leaseMs,
        destinations: [...active],
        excludeIds: new Set([...this.inFlight.keys(), ...this.ready.map((r) => r.id)]),
      });
      await this.learnDependencies(leased);
      const fresh = leased.map((row) => ({ ...row, lease_until: leasedAt + this.options.leaseMs }));
      // Records that wait on nothing (a Proposal, an Instrument) start first: others wait on them, and every lease
      // until they are in the catalog checks those others' dependencies again (a third of such checks at 20 ms × 64).
      this.ready.unshift(...fresh.filter((row) => row.depends_on === "[]"));
      for (const row of fresh) if (row.depends_on !== "[]") this.ready.push(row);
    }
    // While the store was asked, pushes may have finished or stop() come: fill only what is free now.
    const rows = this.stopping ? [] : this.ready.splice(0, Math.max(0, this.options.concurrency - this.inFlight.size));
    for (const row of rows) {
      const fence = new LeaseFence(row.id, row.lease_until ?? this.now() + this.options.leaseMs, this.now);
      const promise = this.attempt(row, summary, fence)
        // Only the state store can throw here; the outcome stays queued and the drain loop reports the store.
        .catch((err: unknown) => this.logger.error("could not record an attempt's outcome", { record: row.id, error: (err as Error).message }))
        .finally(() => {
          // Only its own entry: a push given up on (see renewLeases) may end after the record was leased anew.
          if (this.inFlight.get(row.id) === flight) this.inFlight.delete(row.id);
          this.wake();
        });
      const flight: InFlight = { row, promise, fence, startedAt: this.now() };
      this.inFlight.set(row.id, flight);
    }
    return rows.length;
  }

  /**
   * The remote ids a batch's pushes will ask for (an Instrument's pid, an Investigation's id), in one query:
   * the lease only hands out records whose dependencies are in the catalog already. Read again for every batch,
   * as fresh as at its lease: a dependency created again in the catalog has a new id.
   */
  private async learnDependencies(rows: RecordRow[]): Promise<void> {
    const wanted = new Set<string>();
    for (const row of rows) for (const id of JSON.parse(row.depends_on) as string[]) wanted.add(id);
    if (this.dependencyIds.size > 50_000) this.dependencyIds.clear();
    for (const [id, remoteId] of await this.store.remoteIdsOf([...wanted])) this.dependencyIds.set(id, remoteId);
  }

  private async nextWakeDelay(options: { dueNowIsBlocked?: boolean } = {}): Promise<number> {
    const now = this.now();
    const candidates: number[] = [];
    const due = await this.store.nextDueAt(this.activeDestinations(), options.dueNowIsBlocked ? now : -1);
    if (due !== undefined) candidates.push(Math.max(0, due - now));
    for (const name of this.destinations.keys()) {
      const probeAt = this.circuit.nextProbeAt(name);
      if (probeAt !== undefined && !this.givenUp.has(name)) candidates.push(Math.max(0, probeAt - now));
    }
    // Pending records may be waiting on dependencies that are pushed right now; look again soon.
    candidates.push(1000);
    return Math.min(...candidates);
  }

  private waitForProgress(ms: number): Promise<void> {
    if (this.wokenEarly) {
      this.wokenEarly = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async probeDownDestinations(options: DrainOptions): Promise<void> {
    for (const [name, destination] of this.destinations) {
      if (this.givenUp.has(name) || !this.circuit.probeDue(name, this.now())) continue;
      // Healthy means able to take pushes: reachable and logged in (a refused login keeps it down).
      let healthy = false;
      let reason: string | undefined;
      try {
        const health = await destination.health();
        healthy = health.reachable && health.authenticated;
        reason = health.message;
      } catch (err) {
        reason = (err as Error).message;
      }
      if (healthy) {
        this.logger.info("catalog is reachable again; resuming pushes", { destination: name });
        this.circuit.success(name);
        continue;
      }
      this.circuit.probeFailed(name, this.now(), reason && scrubSecrets(reason));
      if (!options.forever && options.maxProbesWhenDown !== undefined && this.circuit.probes(name) >= options.maxProbesWhenDown) {
        this.logger.warn("catalog still unreachable; leaving its records pending", { destination: name });
        this.givenUp.add(name);
      }
    }
  }

  /**
   * Keep the leases of records in flight and waiting alive. A record another worker has taken meanwhile (this
   * one was frozen, or cut off from the state past its lease) is dropped: its push stops before its next write.
   */
  private async renewLeases(): Promise<void> {
    const ids = [...this.inFlight.keys(), ...this.ready.map((r) => r.id)];
    const until = this.now() + this.options.leaseMs;
    try {
      const held = new Set(await this.store.extendLeases(this.owner, ids, until));
      for (const [id, flight] of this.inFlight) {
        if (held.has(id)) {
          flight.fence.renewed(until);
          continue;
        }
        // Another worker may push it now: this push may write nothing more (the fence), and its slot is given
        // back at once rather than when it ends (an exchange may take up to the catalog's timeout).
        flight.fence.markLost();
        this.inFlight.delete(id);
        this.logger.warn("lease lost while pushing; the record is left to the worker that holds it now", { record: id, pushingForMs: this.now() - flight.startedAt });
        this.wake();
      }
      for (let i = this.ready.length - 1; i >= 0; i--) {
        const row = this.ready[i]!;
        if (held.has(row.id)) row.lease_until = until;
        else this.ready.splice(i, 1);
      }
      // A worker on this host killed meanwhile: its records go on now rather than when its leases run out.
      // (Workers on other hosts cannot be told from frozen ones; their leases run out after sync.leaseMs.)
      const freed = await this.store.releaseDeadLeases(pidAlive);
      if (freed > 0) {
        this.logger.info("took over the records of a worker that is gone", { records: freed });
        this.wake();
      }
    } catch (err) {
      this.logger.warn("could not renew leases", { error: (err as Error).message });
    }
  }

  /** Who this worker is, for the workers table (the daemon registers its worker: src/app/state-guard.ts). */
  identity(): WorkerIdentity {
    return { id: this.owner, host: os.hostname(), pid: process.pid, startedAt: this.startedAt };
  }

  private context(destination: DestinationName): PushContext {
    return {
      dependencyRemoteId: (kind, key) => this.dependencyIds.get(`${destination}/${kind}/${key}`),
    };
  }

  private async attempt(row: RecordRow, summary: DrainSummary, fence: LeaseFence): Promise<void> {
    const destination = this.destinations.get(row.destination);
    const payload = row.payload;
    if (!destination || payload === null) {
      await this.store.releaseLease(row.id, this.owner);
      return;
    }
    const attemptNumber = row.attempts + 1;
    const startedAt = this.now();
    summary.attempts++;
    const base = {
      kind: row.kind,
      key: row.key,
      attempt: attemptNumber,
      hash: row.desired_hash,
    };
    try {
      // Fenced where other workers may take a record over (a shared state). A SQLite state has one daemon, and
      // the fence's AsyncLocalStorage, once entered, hooks every promise of the process (async_hooks, Node 20 and 22).
      const push = (): Promise<PushResult> => destination.push(
        {
          kind: row.kind,
          key: row.key,
          payload: JSON.parse(payload) as Record<string, unknown>,
          hash: row.desired_hash,
          remoteId: row.remote_id ?? undefined,
          lastWritten: row.written ? (JSON.parse(row.written) as Record<string, unknown>) : undefined,
        },
        this.context(row.destination),
      );
      const result = await (this.store.shared ? withLeaseFence(fence, push) : push());
      const durationMs = this.now() - startedAt;
      this.store.recordSuccess(
        row,
        result,
        {
          sessionIdentifier: row.session_identifier,
          destination: row.destination,
          success: true,
          recordId: result.remoteId,
          recordUrl: result.remoteUrl,
          worker: this.owner,
          metadata: { ...base, operation: result.operation, httpStatus: result.httpStatus, durationMs, ...(result.conflicts?.length ? { conflicts: result.conflicts } : {}) },
        },
        this.now(),
      );
      this.circuit.success(row.destination);
      summary.succeeded++;
      this.emit(row, "success", durationMs, { operation: result.operation });
    } catch (thrown) {
      const error = toSyncError(thrown);
      if (error instanceof LeaseLostError) {
        // The record is another worker's now: it writes the outcome, this one writes nothing.
        this.logger.warn("lease lost; leaving the record to the worker that took it", { record: row.id, error: error.message });
        return;
      }
      this.handleFailure(row, error, attemptNumber, startedAt, base, summary);
    }
  }

  private handleFailure(row: RecordRow, error: SyncError, attemptNumber: number, startedAt: number, base: Record<string, unknown>, summary: DrainSummary): void {
    const now = this.now();
    const durationMs = now - startedAt;
    const message = scrubSecrets(error.message).slice(0, 2000);
    const log = {
      sessionIdentifier: row.session_identifier,
      destination: row.destination,
      success: false,
      errorMessage: message,
      worker: this.owner,
      metadata: { ...base, operation: "failed", httpStatus: error.httpStatus, durationMs, errorKind: error.kind },
    };
    if (error instanceof UnavailableError) {
      // The catalog as a whole cannot serve us (its login refused): the record waits, spending no attempt, and the
      // destination is down until a health probe (which logs in) succeeds.
      if (this.circuit.trip(row.destination, now, message)) {
        this.logger.warn("catalog cannot take pushes; pausing them and probing until it can", { destination: row.destination, error: message });
      }
      this.store.recordDeferred(row, message, now + (this.options.probeBaseMs ?? 1000), log, now);
      summary.retried++;
      this.emit(row, "retry", durationMs, { error: message });
      return;
    }
    if (!error.retryable) {
      this.store.recordFailure(row, message, log, now);
      summary.failed++;
      // A permanent answer still proves the catalog is up.
      this.circuit.success(row.destination);
      this.emit(row, "failed", durationMs, { error: message });
      return;
    }
    const retryAfter = "retryAfterMs" in error ? (error.retryAfterMs as number | undefined) : undefined;
    const delay = backoffDelay(attemptNumber, { baseMs: this.options.backoffBaseMs, maxMs: this.options.backoffMaxMs, random: this.options.random }, retryAfter);
    const state = this.store.recordRetry(row, message, now + delay, this.options.maxAttempts, log, now);
    if (error.kind === "transient") {
      if (this.circuit.failure(row.destination, now, message)) {
        this.logger.warn("catalog looks down; pausing pushes and probing its health", { destination: row.destination, error: message });
      }
    }
    if (state === "dead") summary.dead++;
    else summary.retried++;
    this.emit(row, state === "dead" ? "dead" : "retry", durationMs, { error: message, retryInMs: state === "dead" ? undefined : delay });
  }

  /** One log line per attempt (record key, destination, outcome, duration), then the listeners (metrics, progress). */
  private emit(
    row: RecordRow,
    outcome: AttemptOutcome,
    durationMs: number,
    extra: { operation?: PushResult["operation"]; error?: string; retryInMs?: number | undefined },
  ): void {
    const line = {
      destination: row.destination,
      kind: row.kind,
      record: row.key,
      session: row.session_identifier,
      attempt: row.attempts + 1,
      outcome,
      durationMs,
      ...extra,
    };
    if (outcome === "success") this.logger.info("attempt", line);
    else this.logger.warn("attempt", line);
    if (this.listeners.length === 0) return;
    const event: AttemptEvent = {
      destination: row.destination,
      kind: row.kind,
      key: row.key,
      sessionIdentifier: row.session_identifier,
      outcome,
      durationMs,
      changedAtMs: row.changed_at_ms,
      ...(extra.operation ? { operation: extra.operation } : {}),
      ...(extra.error ? { error: extra.error } : {}),
    };
    for (const listener of this.listeners) listener(event);
  }
}
