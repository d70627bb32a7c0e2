import type { Config } from "../config/schema.js";
import type { Destination } from "../destinations/contract.js";
import { indexSnapshot, type MappingIndex } from "../mapping/common.js";
import type { DesiredRecord, DestinationName } from "../mapping/record.js";
import { emptySnapshot, type Snapshot, type SourceKind } from "../model/types.js";
import type { Logger } from "../ops/logger.js";
import type { ScanOptions, ScanResult, Source, Watermark, WatermarkReader } from "../sources/contract.js";
import type { ReconcileCounts, RecordScope, StateStore } from "../state/contract.js";
import { UsageError } from "./errors.js";
import { changedKeys, recordShape, type RecordShape } from "./record-shape.js";
import { isTransientStateError, StateStoreError } from "./errors.js";
import { rememberRunsGone } from "./gone.js";
import { OutboxWorker, type DrainSummary } from "./worker.js";

export type Mapper = (snapshot: Snapshot, config: Config, index: MappingIndex) => DesiredRecord[];

/** The pieces an engine runs with; built from the configuration by src/app/wire.ts, or by a test. */
export interface EngineParts {
  config: Config;
  store: StateStore;
  sources: Source[];
  destinations: Destination[];
  mappers: Partial<Record<DestinationName, Mapper>>;
  logger: Logger;
}

export interface ScanOutcome {
  snapshot: Snapshot;
  watermarks: Watermark[];
  unchanged: number;
}

export interface ReconcileOutcome extends ReconcileCounts {
  runsRead: number;
  filesRead: number;
  filesUnchanged: number;
  /** Files known from an earlier scan that a full scan no longer found. */
  filesGone: number;
  /** upload_log rows past sync.uploadLogRetentionDays, removed after a full scan. */
  logRowsRemoved: number;
  problems: number;
  durationMs: number;
  /**
   * Why this pass did not cover every source (DATA root unreadable, a source failed, the state store could not
   * be written, stopped by a signal); empty when it did. `sync` never exits 0 when it is not empty.
   */
  incomplete: string[];
}

const PRUNE_BATCH = 5000;

export interface ReconcileOptions {
  /** Queue every record in `scope` again even if unchanged (resync). */
  force?: boolean;
  scope?: RecordScope;
  changedPaths?: ReadonlySet<string>;
  nowMs?: number;
  /** Stop between two files (shutdown). */
  signal?: AbortSignal;
}

/** What a scan could not do, reported by `scan` to its caller. */
export interface ScanGaps {
  incomplete: string[];
}

/** Add one reconcile's counts to a running total. */
function addCounts(total: ReconcileCounts, c: ReconcileCounts): void {
  total.created += c.created;
  total.updated += c.updated;
  total.forced += c.forced;
  total.unchanged += c.unchanged;
}

/** Runs mapped and queued together when a file holds more (see recordInSlices). */
const RUNS_PER_SLICE = 100;

/**
 * Scan → map → reconcile → push. Every trigger (watcher, schedule, CLI) goes through `reconcile`, and the
 * same outbox worker pushes for `sync` and `run`.
 */
export class Engine {
  readonly config: Config;
  readonly store: StateStore;
  readonly logger: Logger;
  readonly destinations: Destination[];
  private readonly sources: Source[];
  private readonly mappers: Partial<Record<DestinationName, Mapper>>;
  private workerInstance: OutboxWorker | undefined;
  private readonly shape: RecordShape;
  private keysChecked = false;
  /** The operator confirmed a change of the settings that make record keys (`--accept-new-keys`). */
  acceptNewKeys = false;

  constructor(parts: EngineParts) {
    this.config = parts.config;
    this.store = parts.store;
    this.sources = parts.sources;
    this.destinations = parts.destinations;
    this.mappers = parts.mappers;
    this.logger = parts.logger;
    this.shape = recordShape(parts.config);
  }

  /**
   * Refuse to work when the settings that make record keys changed since the state store last worked (every
   * record would be created again under new keys), unless the operator confirmed it. Called before any reconcile.
   */
  async checkRecordKeys(): Promise<void> {
    if (this.keysChecked) return;
    const stored = await this.store.getMeta("record_keys");
    const current = JSON.stringify(this.shape.keys);
    if (stored !== undefined && stored !== current) {
      const changes = changedKeys(JSON.parse(stored) as Record<string, unknown>, this.shape.keys);
      if (changes.length > 0 && !this.acceptNewKeys) {
        throw new UsageError(
          `the configuration changes how record keys are made (${changes.join("; ")}): every record already in the catalogs would be ` +
            `created a second time under a new key, and the old ones left behind. Put the old value back, or, if that is what you want, ` +
            `run once with --accept-new-keys (beamsync run or sync)`,
        );
      }
      if (changes.length > 0) this.logger.warn("record keys change: records are created again under their new keys", { changes });
    }
    try {
      if (stored !== current) await this.store.setMeta("record_keys", current);
      this.keysChecked = true;
    } catch (err) {
      // Bookkeeping only: the check passed; remembering the settings waits for a store that can be written.
      this.logger.warn("could not record the key settings in the state store; will try again", { error: (err as Error).message });
    }
  }

  get destinationNames(): DestinationName[] {
    return this.destinations.map((d) => d.name);
  }

  /**
   * Read the sources. Without `onBatch` everything read is returned as one snapshot (dry-run); with it, each
   * file's records are handed over as soon as they are read and the returned snapshot holds only the rest.
   */
  async scan(options: Partial<ScanOptions> = {}, onBatch?: (batch: ScanOutcome) => void | Promise<void>, examined?: Map<SourceKind, Set<string>>, gaps: ScanGaps = { incomplete: [] }): Promise<ScanOutcome> {
    const snapshot = emptySnapshot();
    const watermarks: Watermark[] = [];
    let unchanged = 0;
    const note = (source: SourceKind, path: string) => examined?.get(source)?.add(path);
    // Every file a source asks about or reports on is one it found: the others are gone (see forgetSourcesExcept).
    const reader: WatermarkReader = {
      get: (source, path) => {
        note(source, path);
        return this.store.getWatermark(source, path);
      },
    };
    const deliver = (result: ScanResult): void | Promise<void> => {
      keepProblemsWithoutFile(result);
      for (const w of result.watermarks) note(w.source, w.path);
      attachProblems(result.watermarks, result.snapshot);
      for (const problem of result.snapshot.problems) {
        this.logger.warn("source problem", { source: problem.source, path: problem.path, location: problem.location, reason: problem.reason });
      }
      if (onBatch) return onBatch({ snapshot: result.snapshot, watermarks: result.watermarks, unchanged: 0 });
      // Loops, not push(...spread): a big DATA root has more runs than a call may have arguments.
      for (const b of result.snapshot.beamtimes) snapshot.beamtimes.push(b);
      for (const s of result.snapshot.samples) snapshot.samples.push(s);
      for (const r of result.snapshot.runs) snapshot.runs.push(r);
      for (const p of result.snapshot.problems) snapshot.problems.push(p);
      for (const w of result.watermarks) watermarks.push(w);
    };
    const scanOptions: ScanOptions = {
      force: options.force ?? false,
      changedPaths: options.changedPaths,
      nowMs: options.nowMs ?? Date.now(),
      onBatch: onBatch ? deliver : undefined,
      signal: options.signal,
    };
    for (const source of this.sources) {
      if (examined && !examined.has(source.kind)) examined.set(source.kind, new Set());
      if (options.signal?.aborted) break;
      try {
        const result = await source.scan(reader, scanOptions);
        // The DATA root itself could not be read: what this scan did not find may only be hidden. The problem
        // is kept against the source's "." (see keepProblemsWithoutFile) for status, /readyz and the metrics.
        const rootProblem = result.snapshot.problems.find((p) => p.path === ".");
        if (rootProblem) {
          examined?.delete(source.kind);
          gaps.incomplete.push(`${source.kind}: ${rootProblem.reason}`);
        }
        deliver(result);
        unchanged += result.unchanged;
      } catch (err) {
        examined?.delete(source.kind);
        if (err instanceof StateStoreError) {
          // Our own file failed, not the beamline's: say so, and leave the source's watermarks as they were.
          this.logger.error("state store write failed; this source is read again on the next pass", { source: source.kind, error: err.message });
          gaps.incomplete.push(`${source.kind}: ${err.message}`);
          continue;
        }
        // A source that throws is a bug or an unreadable DATA root; report it and let the other source run.
        const reason = err instanceof Error ? err.message : String(err);
        this.logger.error("source scan failed", { source: source.kind, error: reason });
        gaps.incomplete.push(`${source.kind}: scan failed: ${reason}`);
        try {
          await deliver({
            snapshot: { ...emptySnapshot(), problems: [{ source: source.kind, path: ".", reason: `scan failed: ${reason}` }] },
            watermarks: [{ source: source.kind, path: ".", size: 0, mtimeMs: 0, problem: `scan failed: ${reason}`, retry: true }],
            unchanged: 0,
          });
        } catch (deliverErr) {
          this.logger.error("state store write failed", { error: (deliverErr as Error).message });
        }
      }
    }
    if (options.signal?.aborted) gaps.incomplete.push("stopped by a signal before every file was read");
    return { snapshot, watermarks, unchanged };
  }

  map(snapshot: Snapshot, index: MappingIndex = indexSnapshot(snapshot.beamtimes, snapshot.samples)): DesiredRecord[] {
    const out: DesiredRecord[] = [];
    for (const destination of this.destinations) {
      const mapper = this.mappers[destination.name];
      if (mapper) for (const record of mapper(snapshot, this.config, index)) out.push(record);
    }
    return out;
  }

  /**
   * Read what changed, map it, and queue the differences. With `force`, every record in `scope` is queued
   * again even if unchanged (resync).
   */
  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileOutcome> {
    await this.checkRecordKeys();
    const started = Date.now();
    // The configuration that shapes records changed since the last full pass: map every file again (records
    // whose payload is unchanged compare equal by hash and cost nothing).
    const contentHash = await this.store.getMeta("record_content");
    const remap = !options.changedPaths && contentHash !== this.shape.contentHash;
    if (remap && contentHash !== undefined) this.logger.info("the configuration that shapes records changed: mapping every source again");
    const nowMs = options.nowMs ?? Date.now();
    const scope = options.scope;
    const force = options.force && scope ? (r: DesiredRecord) => inScope(r, scope) : undefined;
    const counts: ReconcileCounts = { created: 0, updated: 0, forced: 0, unchanged: 0 };
    let runsRead = 0;
    let filesRead = 0;
    let problems = 0;
    // File by file: map and queue each file's records in one transaction with its watermark, then let them go.
    const onBatch = async (batch: ScanOutcome) => {
      const c = await this.recordInSlices(batch, { force, nowMs });
      try {
        await rememberRunsGone(this.store, batch.snapshot, batch.watermarks);
      } catch (err) {
        this.logger.warn("could not note runs gone from their beamtime", { error: (err as Error).message });
      }
      addCounts(counts, c);
      runsRead += batch.snapshot.runs.length;
      filesRead += batch.watermarks.length;
      problems += batch.snapshot.problems.length;
      // Pushes need not wait for the whole scan (see syncOnce; the daemon's worker too).
      if (c.created + c.updated + c.forced > 0) this.workerInstance?.wake();
    };
    // A full scan sees every file there is: watermarks of files it did not find (deleted, renamed) are dropped,
    // so a problem reported for a file that is gone does not stay in `status` and the metrics for ever.
    const examined = options.changedPaths ? undefined : new Map<SourceKind, Set<string>>();
    const gaps: ScanGaps = { incomplete: [] };
    const scan = await this.scan({ force: (options.force ?? false) || remap, changedPaths: options.changedPaths, nowMs, signal: options.signal }, onBatch, examined, gaps);
    const aborted = options.signal?.aborted ?? false;
    let forgotten = 0;
    let logRowsRemoved = 0;
    try {
      // A stopped scan did not see every file: forgetting what it missed would be wrong.
      if (!aborted) for (const [source, paths] of examined ?? []) forgotten += await this.store.forgetSourcesExcept(source, paths);
      if (!options.changedPaths && !aborted) logRowsRemoved = await this.pruneUploadLog(nowMs);
      if (!aborted) await this.store.setMeta("last_scan", new Date(nowMs).toISOString());
      // Only a pass that mapped every source settles a configuration change; otherwise the next one maps them again.
      if (remap && !aborted && gaps.incomplete.length === 0) await this.store.setMeta("record_content", this.shape.contentHash);
    } catch (err) {
      const failure = new StateStoreError(this.store.location, err);
      this.logger.error("state store write failed after the scan", { error: failure.message });
      gaps.incomplete.push(failure.message);
    }
    const outcome: ReconcileOutcome = {
      ...counts,
      runsRead,
      filesRead,
      filesUnchanged: scan.unchanged,
      filesGone: forgotten,
      logRowsRemoved,
      problems,
      durationMs: Date.now() - started,
      incomplete: gaps.incomplete,
    };
    try {
      await this.store.setMeta("last_reconcile", JSON.stringify({ at: new Date(nowMs).toISOString(), ...outcome }));
    } catch (err) {
      outcome.incomplete.push(new StateStoreError(this.store.location, err).message);
    }
    if (counts.created + counts.updated + counts.forced > 0) {
      this.logger.info("reconciled", { ...outcome });
      this.workerInstance?.wake();
    } else {
      this.logger.debug("reconciled; nothing changed", { ...outcome });
    }
    return outcome;
  }

  /**
   * One file's records, mapped and queued RUNS_PER_SLICE runs at a time, its watermarks with the last slice. A
   * slice's records are let go before the next is mapped: mapped all at once, a beamtime of thousands of runs
   * held every payload at the same time, and the collector kept them long enough to move them to the old
   * generation (the peak RSS of a large first scan). A crash between slices leaves the file without its
   * watermark, so it is read again and the slices already queued compare unchanged.
   */
  private async recordInSlices(batch: ScanOutcome, options: { force: ((r: DesiredRecord) => boolean) | undefined; nowMs: number }): Promise<ReconcileCounts> {
    const { snapshot, watermarks } = batch;
    if (snapshot.runs.length <= RUNS_PER_SLICE) return this.recordBatch(this.map(snapshot), watermarks, options);
    const index = indexSnapshot(snapshot.beamtimes, snapshot.samples);
    const counts: ReconcileCounts = { created: 0, updated: 0, forced: 0, unchanged: 0 };
    // A record that every slice maps (the Instrument) is queued once per file, as when the file was one batch.
    const queued = new Set<string>();
    for (let start = 0; start < snapshot.runs.length; start += RUNS_PER_SLICE) {
      const first = start === 0;
      const last = start + RUNS_PER_SLICE >= snapshot.runs.length;
      const slice: Snapshot = { beamtimes: first ? snapshot.beamtimes : [], samples: first ? snapshot.samples : [], runs: snapshot.runs.slice(start, start + RUNS_PER_SLICE), problems: [] };
      const records = this.map(slice, index).filter((r) => {
        const id = `${r.destination}/${r.kind}/${r.key}`;
        if (queued.has(id)) return false;
        queued.add(id);
        return true;
      });
      const c = await this.recordBatch(records, last ? watermarks : [], options);
      addCounts(counts, c);
      if (!last && c.created + c.updated + c.forced > 0) this.workerInstance?.wake();
    }
    return counts;
  }

  /**
   * One file's records and watermarks into the store. The store waits for a lock (busy timeout); a lock or full
   * disk that outlasts that is tried again twice, then reported as beamsync's own state file, not the source's.
   */
  private async recordBatch(desired: DesiredRecord[], watermarks: Watermark[], options: { force: ((r: DesiredRecord) => boolean) | undefined; nowMs: number }): Promise<ReconcileCounts> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.reconcile(desired, watermarks, options);
      } catch (err) {
        if (!isTransientStateError(err)) throw new StateStoreError(this.store.location, err);
        if (attempt >= 3) throw new StateStoreError(this.store.location, err);
        this.logger.warn("state store busy; trying the write again", { state: this.store.location, attempt, error: (err as Error).message });
      }
    }
  }

  /**
   * Apply sync.uploadLogRetentionDays, a few thousand rows per transaction with a turn of the event loop between,
   * so that years of history are trimmed without holding the write lock against pushes or the CLI.
   */
  private async pruneUploadLog(nowMs: number): Promise<number> {
    const days = this.config.sync.uploadLogRetentionDays;
    if (days <= 0) return 0;
    const cutoff = new Date(nowMs - days * 86_400_000).toISOString();
    let removed = 0;
    for (;;) {
      const n = await this.store.pruneUploadLog(cutoff, PRUNE_BATCH);
      removed += n;
      if (n < PRUNE_BATCH) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (removed > 0) this.logger.info("upload_log: removed attempts past the retention", { rows: removed, olderThan: cutoff });
    return removed;
  }

  /**
   * One pass, as `beamsync sync` runs it: reconcile everything, then push until nothing that can still succeed
   * is left. The two overlap; `beforePush` sees the queue once the scan is done (the CLI's progress bar).
   */
  async syncOnce(options: { signal?: AbortSignal; maxProbesWhenDown?: number; beforePush?: (worker: OutboxWorker) => void | Promise<void> } = {}): Promise<{ reconcile: ReconcileOutcome; push: DrainSummary }> {
    await this.checkRecordKeys();
    const worker = this.worker();
    // Pushes start while the scan still reads: each file's records are queued (in their own transaction) and
    // pushed while the next file is read. The drain is not done before the scan is.
    let scanDone!: () => void;
    const scanning = new Promise<void>((resolve) => (scanDone = resolve));
    // A signal stops leasing at once; pushes still in flight get sync.shutdownTimeoutMs, then their exchanges
    // are cut (the records stay pending, no attempt spent) so a slow or trickling catalog cannot hold the exit.
    let cutTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      cutTimer = setTimeout(() => void this.closeDestinations(), this.config.sync.shutdownTimeoutMs);
      cutTimer.unref();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const draining = worker.drain({
      forever: false,
      holdOpenUntil: scanning,
      ...(options.maxProbesWhenDown !== undefined ? { maxProbesWhenDown: options.maxProbesWhenDown } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      let reconcile: ReconcileOutcome;
      try {
        reconcile = await this.reconcile(options.signal ? { signal: options.signal } : {});
      } catch (err) {
        worker.stop();
        throw err;
      } finally {
        scanDone();
      }
      await options.beforePush?.(worker);
      const push = await draining;
      return { reconcile, push };
    } finally {
      // A failed scan stopped the worker: wait for pushes in flight before the caller closes the store.
      await draining.catch(() => undefined);
      clearTimeout(cutTimer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  worker(): OutboxWorker {
    if (!this.workerInstance) {
      const sync = this.config.sync;
      this.workerInstance = new OutboxWorker(
        this.store,
        this.destinations,
        {
          concurrency: sync.concurrency,
          maxAttempts: sync.maxAttempts,
          backoffBaseMs: sync.backoffBaseMs,
          backoffMaxMs: sync.backoffMaxMs,
          leaseMs: sync.leaseMs,
        },
        this.logger,
      );
    }
    return this.workerInstance;
  }

  async close(): Promise<void> {
    await this.closeDestinations();
    await this.store.close();
  }

  /** Release the catalogs' connections, ending exchanges still in flight. */
  private async closeDestinations(): Promise<void> {
    for (const destination of this.destinations) {
      try {
        await destination.close();
      } catch (err) {
        this.logger.warn("closing destination failed", { destination: destination.name, error: (err as Error).message });
      }
    }
  }
}

/** Whether a desired record falls in an operator's resync scope (same rules as the store's scope filter). */
export function inScope(record: DesiredRecord, scope: RecordScope): boolean {
  if (scope.destination && record.destination !== scope.destination) return false;
  if (scope.runUid && record.runUid !== scope.runUid) return false;
  if (scope.beamtime) {
    const isBeamtimeRecord = (record.kind === "proposal" || record.kind === "investigation") && record.key === scope.beamtime;
    if (record.beamtimeKey !== scope.beamtime && !isBeamtimeRecord) return false;
  }
  return true;
}

/** Per-document problems are shown against their file in `status`: fold them into that file's watermark. */
function attachProblems(watermarks: Watermark[], snapshot: Snapshot): void {
  const byPath = new Map<string, string[]>();
  for (const p of snapshot.problems) {
    const list = byPath.get(p.path) ?? [];
    list.push(p.location ? `${p.location}: ${p.reason}` : p.reason);
    byPath.set(p.path, list);
  }
  for (const w of watermarks) {
    if (w.problem) continue;
    const reasons = byPath.get(w.path);
    if (!reasons?.length) continue;
    w.problem = reasons.length === 1 ? reasons[0] : `${reasons[0]} (and ${reasons.length - 1} more)`;
  }
}

/**
 * A problem about a path no watermark speaks for (a directory that cannot be listed, a file name that is not
 * UTF-8, the DATA root itself) gets a watermark of its own, so that `status` and the metrics show it; the next
 * full scan that no longer reports it forgets it.
 */
function keepProblemsWithoutFile(result: ScanResult): void {
  const covered = new Set(result.watermarks.map((w) => `${w.source}\0${w.path}`));
  for (const p of result.snapshot.problems) {
    const id = `${p.source}\0${p.path}`;
    if (covered.has(id)) continue;
    covered.add(id);
    result.watermarks.push({ source: p.source, path: p.path, size: 0, mtimeMs: 0, problem: p.reason, retry: true });
  }
}
