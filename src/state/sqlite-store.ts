import type Database from "better-sqlite3";
import type { DesiredRecord, DestinationName } from "../mapping/record.js";
import type { SourceKind } from "../model/types.js";
import type { Watermark } from "../sources/contract.js";
import type {
  LeaseOptions,
  OldestPendingRow,
  ReconcileCounts,
  RecordRow,
  RecordScope,
  RecordState,
  RequestRow,
  SourceProblemRow,
  SourceSummaryRow,
  StateEvent,
  StateStore,
  UploadLogEntry,
  UploadLogFilter,
  UploadLogRow,
  WorkerRow,
} from "./contract.js";
import { openDatabase, type OpenedDatabase } from "./database.js";
import { DUMP_COLUMNS, DUMP_TABLES, PROCESS_META, StateImportError, type DumpRow } from "./dump.js";
import { QueuedOutcomes, type Outcome } from "./outcomes.js";
import { PositionalParams, scopeWhere, uploadLogWhere } from "./sql-filters.js";
import { watermarkFromRow, type StoredWatermark } from "./watermark-row.js";

/** Every query beamsync makes against its state file, as prepared statements behind named methods. */

const nowIso = () => new Date().toISOString();

export class SqliteStateStore extends QueuedOutcomes implements StateStore {
  readonly backend = "sqlite" as const;
  readonly shared: boolean = false;
  readonly db: Database.Database;
  readonly file: string;
  readonly location: string;
  readonly migration: OpenedDatabase["migration"];
  private readonly stmts;
  /** The lease query, prepared once per number of destinations. */
  private readonly leaseStatements = new Map<number, Database.Statement>();
  private readonly statementCache = new Map<string, Database.Statement>();

  constructor(opened: OpenedDatabase) {
    super();
    this.db = opened.db;
    this.file = opened.file;
    this.location = opened.file;
    this.migration = opened.migration;
    const db = this.db;
    this.stmts = {
      getSource: db.prepare<[string, string], StoredWatermark>(
        "SELECT size, mtime_ms, data, problem, retry FROM sources WHERE source = ? AND path = ?",
      ),
      putSource: db.prepare(
        `INSERT INTO sources (source, path, size, mtime_ms, data, problem, retry, scanned_at)
         VALUES (@source, @path, @size, @mtimeMs, @data, @problem, @retry, @scannedAt)
         ON CONFLICT (source, path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
           data = excluded.data, problem = excluded.problem, retry = excluded.retry, scanned_at = excluded.scanned_at`,
      ),
      getRecord: db.prepare<[string], RecordRow>("SELECT * FROM records WHERE id = ?"),
      getHashes: db.prepare<[string], { desired_hash: string; synced_hash: string | null; state: RecordState }>(
        "SELECT desired_hash, synced_hash, state FROM records WHERE id = ?",
      ),
      insertRecord: db.prepare(
        `INSERT INTO records (id, destination, kind, key, session_identifier, run_uid, beamtime_key, state, desired_hash,
           payload, depends_on, attempts, next_attempt_at, changed_at_ms, created_at, updated_at)
         VALUES (@id, @destination, @kind, @key, @sessionIdentifier, @runUid, @beamtimeKey, 'pending', @hash,
           @payload, @dependsOn, 0, 0, @changedAtMs, @now, @now)`,
      ),
      requeueRecord: db.prepare(
        `UPDATE records SET state = 'pending', desired_hash = @hash, payload = @payload, depends_on = @dependsOn,
           session_identifier = @sessionIdentifier, run_uid = @runUid, beamtime_key = @beamtimeKey,
           attempts = 0, next_attempt_at = 0, last_error = NULL, changed_at_ms = @changedAtMs, updated_at = @now
         WHERE id = @id`,
      ),
      remoteId: db.prepare<[string], { remote_id: string | null }>("SELECT remote_id FROM records WHERE id = ?"),
      markSynced: db.prepare(
        `UPDATE records SET state = 'synced', synced_hash = desired_hash, payload = NULL, remote_id = @remoteId,
           remote_url = @remoteUrl, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, last_error = NULL,
           written = @written, conflicts = @conflicts, updated_at = @now
         WHERE id = @id AND desired_hash = @hash`,
      ),
      // The desired content changed while we pushed the old one: keep it pending, remember the remote id.
      markSyncedStale: db.prepare(
        `UPDATE records SET remote_id = @remoteId, remote_url = @remoteUrl, lease_owner = NULL, lease_until = NULL,
           written = @written, conflicts = @conflicts, updated_at = @now WHERE id = @id AND desired_hash != @hash`,
      ),
      // Not the record's fault (the catalog as a whole is unavailable): try again later without spending an attempt.
      markDeferred: db.prepare(
        `UPDATE records SET next_attempt_at = @nextAttemptAt, last_error = @error, lease_owner = NULL, lease_until = NULL,
           updated_at = @now WHERE id = @id`,
      ),
      markRetry: db.prepare(
        `UPDATE records SET attempts = attempts + 1, next_attempt_at = @nextAttemptAt, last_error = @error,
           state = CASE WHEN attempts + 1 >= @maxAttempts THEN 'dead' ELSE 'pending' END,
           lease_owner = NULL, lease_until = NULL, updated_at = @now
         WHERE id = @id`,
      ),
      markFailed: db.prepare(
        `UPDATE records SET attempts = attempts + 1, state = 'failed', last_error = @error, lease_owner = NULL,
           lease_until = NULL, updated_at = @now WHERE id = @id`,
      ),
      release: db.prepare("UPDATE records SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?"),
      releaseOwner: db.prepare("UPDATE records SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?"),
      insertLog: db.prepare(
        `INSERT INTO upload_log (session_identifier, destination_name, success, timestamp, record_id, record_url,
           error_message, metadata_json, worker)
         VALUES (@sessionIdentifier, @destination, @success, @timestamp, @recordId, @recordUrl, @errorMessage, @metadata, @worker)`,
      ),
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      addRequest: db.prepare("INSERT INTO requests (action, scope, requested_at) VALUES (?, ?, ?)"),
      openRequests: db.prepare<[], RequestRow>("SELECT * FROM requests WHERE handled_at IS NULL ORDER BY id"),
      finishRequest: db.prepare("UPDATE requests SET handled_at = ?, result = ? WHERE id = ?"),
      getRequest: db.prepare<[number], RequestRow>("SELECT * FROM requests WHERE id = ?"),
    };
  }

  static open(stateDir: string, options: Parameters<typeof openDatabase>[1] = {}): SqliteStateStore {
    return new SqliteStateStore(openDatabase(stateDir, options));
  }

  async close(): Promise<void> {
    try {
      await this.flushWrites();
    } finally {
      this.outcomes.stop();
      if (this.db.open) this.db.close();
    }
  }

  async schemaVersion(): Promise<number> {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  // ---- sources -------------------------------------------------------------------------------------------

  async getWatermark(source: SourceKind, path: string): Promise<Watermark | undefined> {
    const row = this.stmts.getSource.get(source, path);
    return row ? watermarkFromRow(source, path, row) : undefined;
  }

  private saveWatermark(w: Watermark, scannedAt: string): void {
    this.stmts.putSource.run({
      source: w.source,
      path: w.path,
      size: w.size,
      mtimeMs: w.mtimeMs,
      data: w.data === undefined ? null : JSON.stringify(w.data),
      problem: w.problem ?? null,
      retry: w.retry ? 1 : 0,
      scannedAt,
    });
  }

  /**
   * Drop the watermarks of `source` files other than `keep` (files a full scan no longer found). Watermarks only
   * spare re-reading: a file dropped here by mistake is read again, and its records compare unchanged.
   */
  async forgetSourcesExcept(source: SourceKind, keep: ReadonlySet<string>): Promise<number> {
    const known = this.prepared("SELECT path FROM sources WHERE source = ?").pluck().all(source) as string[];
    const gone = known.filter((p) => !keep.has(p));
    if (gone.length === 0) return 0;
    const forget = this.prepared("DELETE FROM sources WHERE source = ? AND path = ?");
    this.db.transaction(() => {
      for (const p of gone) forget.run(source, p);
    }).immediate();
    return gone.length;
  }

  async sourceProblems(): Promise<SourceProblemRow[]> {
    return this
      .prepared("SELECT source, path, problem, retry, scanned_at FROM sources WHERE problem IS NOT NULL ORDER BY source, path")
      .all()
      .map((r) => {
        const row = r as { source: string; path: string; problem: string; retry: number; scanned_at: string };
        return { ...row, retry: row.retry === 1 };
      });
  }

  async sourceSummary(): Promise<SourceSummaryRow[]> {
    return this
      .prepared(
        `SELECT source, COUNT(*) AS files, SUM(problem IS NOT NULL) AS problems, MAX(scanned_at) AS last_scanned
         FROM sources GROUP BY source ORDER BY source`,
      )
      .all() as { source: string; files: number; problems: number; last_scanned: string | null }[];
  }

  // ---- reconcile -----------------------------------------------------------------------------------------

  /**
   * Put the differences between desired records and what was last synced into the outbox, and store the
   * source watermarks that produced them — in one transaction, so a crash never records a file as read
   * without its records queued.
   */
  async reconcile(
    desired: Iterable<DesiredRecord>,
    watermarks: Iterable<Watermark>,
    options: { force?: (r: DesiredRecord) => boolean; nowMs?: number } = {},
  ): Promise<ReconcileCounts> {
    await this.flushWrites();
    const counts: ReconcileCounts = { created: 0, updated: 0, forced: 0, unchanged: 0 };
    const nowMs = options.nowMs ?? Date.now();
    const now = new Date(nowMs).toISOString();
    this.db.transaction(() => {
      for (const record of desired) {
        const id = `${record.destination}/${record.kind}/${record.key}`;
        const existing = this.stmts.getHashes.get(id);
        const forced = options.force?.(record) ?? false;
        if (existing && existing.desired_hash === record.hash && !forced) {
          counts.unchanged++;
          continue;
        }
        const params = {
          id,
          destination: record.destination,
          kind: record.kind,
          key: record.key,
          sessionIdentifier: record.sessionIdentifier ?? record.runUid ?? record.key,
          runUid: record.runUid ?? null,
          beamtimeKey: record.beamtimeKey ?? null,
          hash: record.hash,
          payload: JSON.stringify(record.payload),
          dependsOn: JSON.stringify(record.dependsOn),
          changedAtMs: nowMs,
          now,
        };
        if (!existing) {
          this.stmts.insertRecord.run(params);
          counts.created++;
        } else {
          this.stmts.requeueRecord.run(params);
          if (existing.desired_hash === record.hash) counts.forced++;
          else counts.updated++;
        }
      }
      for (const w of watermarks) this.saveWatermark(w, now);
      // IMMEDIATE: a transaction that reads before it writes cannot wait for a writer beside it (`sync` by `run`).
    }).immediate();
    return counts;
  }

  /** Classify desired records against the store without changing anything (dry-run). */
  async diff(desired: Iterable<DesiredRecord>): Promise<{ record: DesiredRecord; change: "create" | "update" }[]> {
    const out: { record: DesiredRecord; change: "create" | "update" }[] = [];
    for (const record of desired) {
      const existing = this.stmts.getHashes.get(`${record.destination}/${record.kind}/${record.key}`);
      if (!existing) out.push({ record, change: "create" });
      else if (existing.synced_hash !== record.hash) out.push({ record, change: "update" });
    }
    return out;
  }

  // ---- outbox --------------------------------------------------------------------------------------------

  /**
   * Lease up to `limit` due records whose dependencies exist remotely, for `leaseMs`. Records leased by another
   * process (the daemon, or a CLI sync) are skipped until their lease runs out.
   */
  async lease(options: LeaseOptions): Promise<RecordRow[]> {
    if (options.destinations.length === 0 || options.limit <= 0) {
      await this.flushWrites();
      return [];
    }
    const placeholders = options.destinations.map(() => "?").join(", ");
    const sql = `
      UPDATE records SET lease_owner = ?, lease_until = ?
      WHERE id IN (
        SELECT r.id FROM records r
        WHERE r.state = 'pending' AND r.next_attempt_at <= ?
          AND (r.lease_until IS NULL OR r.lease_until < ?)
          AND r.destination IN (${placeholders})
          AND NOT EXISTS (
            SELECT 1 FROM json_each(r.depends_on) d LEFT JOIN records p ON p.id = d.value
            WHERE p.id IS NULL OR (p.remote_id IS NULL AND p.state != 'synced')
          )
        ORDER BY r.next_attempt_at, r.rowid
        LIMIT ?
      )
      RETURNING *`;
    const excluded = options.excludeIds;
    let statement = this.leaseStatements.get(options.destinations.length);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.leaseStatements.set(options.destinations.length, statement);
    }
    const prepared = statement;
    const release = this.stmts.release;
    const leaseRows = (): RecordRow[] => {
      // LIMIT is `limit` alone: rows this owner holds (in flight, or leased and waiting) have a live lease and
      // never match, so asking for `limit + excluded` more leased that many extra rows only to release them again.
      const rows = prepared.all(options.owner, options.nowMs + options.leaseMs, options.nowMs, options.nowMs, ...options.destinations, options.limit) as RecordRow[];
      if (!excluded || excluded.size === 0) return rows;
      const kept: RecordRow[] = [];
      for (const row of rows) {
        if (excluded.has(row.id) || kept.length >= options.limit) release.run(row.id, options.owner);
        else kept.push(row);
      }
      return kept;
    };
    // Attempt outcomes still queued are committed with the lease: one commit instead of two, and the lease sees them.
    return this.outcomes.commitWith((outcomes) =>
      this.db
        .transaction(() => {
          this.writeOutcomes(outcomes);
          return leaseRows();
        })
        .immediate(),
    );
  }

  /** Keep leases of long pushes alive. */
  async extendLeases(owner: string, ids: string[], until: number): Promise<string[]> {
    if (ids.length === 0) return [];
    return this
      .prepared(`UPDATE records SET lease_until = ? WHERE lease_owner = ? AND id IN (${ids.map(() => "?").join(", ")}) RETURNING id`)
      .pluck()
      .all(until, owner, ...ids) as string[];
  }

  /**
   * Free leases held by processes that no longer exist (a `kill -9` leaves its leases behind; waiting for them
   * to expire would delay the restart's first pushes). Owners are "<pid>-<random>" on this host.
   */
  async releaseDeadLeases(isAlive: (pid: number) => boolean): Promise<number> {
    const owners = this.prepared("SELECT DISTINCT lease_owner FROM records WHERE lease_owner IS NOT NULL").pluck().all() as string[];
    let released = 0;
    for (const owner of owners) {
      const pid = Number(owner.split("-")[0]);
      if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) released += this.stmts.releaseOwner.run(owner).changes;
    }
    return released;
  }

  /** Prepare once per distinct SQL text (the variants differ only by their number of placeholders). */
  private prepared(sql: string): Database.Statement {
    let statement = this.statementCache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statementCache.set(sql, statement);
    }
    return statement;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    this.stmts.release.run(id, owner);
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.flushWrites();
    this.stmts.releaseOwner.run(owner);
  }

  async remoteIdOf(recordId: string): Promise<string | undefined> {
    return this.stmts.remoteId.get(recordId)?.remote_id ?? undefined;
  }

  /**
   * Earliest time a pending record becomes due, or undefined when none is pending. With `afterMs`, the earliest
   * after it (the worker's question while records due now wait on a dependency in flight).
   */
  async nextDueAt(destinations: DestinationName[], afterMs = -1): Promise<number | undefined> {
    await this.flushWrites();
    if (destinations.length === 0) return undefined;
    const row = this
      .prepared(
        `SELECT MIN(next_attempt_at) AS due FROM records WHERE state = 'pending' AND next_attempt_at > ? AND destination IN (${destinations.map(() => "?").join(", ")})`,
      )
      .get(afterMs, ...destinations) as { due: number | null };
    return row.due ?? undefined;
  }

  /** Pending records that could run now or later (dependencies satisfiable), per destination. */
  async countPending(destinations: DestinationName[]): Promise<number> {
    await this.flushWrites();
    if (destinations.length === 0) return 0;
    const row = this
      .prepared(`SELECT COUNT(*) AS n FROM records WHERE state = 'pending' AND destination IN (${destinations.map(() => "?").join(", ")})`)
      .get(...destinations) as { n: number };
    return row.n;
  }

  /**
   * Pending records that cannot succeed until an operator acts: a dependency failed, died or is missing —
   * directly or through another blocked record.
   */
  async countBlocked(destinations: DestinationName[]): Promise<number> {
    await this.flushWrites();
    if (destinations.length === 0) return 0;
    const row = this
      .prepared(
        `WITH RECURSIVE blocked(id) AS (
           SELECT r.id FROM records r, json_each(r.depends_on) d LEFT JOIN records p ON p.id = d.value
           WHERE r.state = 'pending' AND (p.id IS NULL OR (p.state IN ('failed', 'dead') AND p.remote_id IS NULL))
           UNION
           SELECT r.id FROM records r, json_each(r.depends_on) d JOIN blocked b ON b.id = d.value
             JOIN records p ON p.id = b.id
           WHERE r.state = 'pending' AND p.remote_id IS NULL
         )
         SELECT COUNT(*) AS n FROM blocked JOIN records USING (id)
         WHERE destination IN (${destinations.map(() => "?").join(", ")})`,
      )
      .get(...destinations) as { n: number };
    return row.n;
  }

  /** Commit queued attempt outcomes in one IMMEDIATE transaction (see OutcomeQueue). */
  protected commitOutcomes(outcomes: Outcome[]): void {
    this.db.transaction(() => this.writeOutcomes(outcomes)).immediate();
  }

  /** Attempt outcomes as rows, inside the caller's transaction. */
  private writeOutcomes(outcomes: Outcome[]): void {
    if (!this.db.open) throw new Error(`the state store ${this.file} is closed`);
    for (const o of outcomes) {
      switch (o.kind) {
        case "success": {
          const params = { id: o.id, hash: o.hash, remoteId: o.remoteId, remoteUrl: o.remoteUrl, written: o.written, conflicts: o.conflicts, now: o.now };
          if (this.stmts.markSynced.run(params).changes === 0) this.stmts.markSyncedStale.run(params);
          break;
        }
        case "retry":
          this.stmts.markRetry.run({ id: o.id, nextAttemptAt: o.nextAttemptAt, error: o.error, maxAttempts: o.maxAttempts, now: o.now });
          break;
        case "failure":
          this.stmts.markFailed.run({ id: o.id, error: o.error, now: o.now });
          break;
        case "deferred":
          this.stmts.markDeferred.run({ id: o.id, nextAttemptAt: o.nextAttemptAt, error: o.error, now: o.now });
          break;
      }
      this.insertLog(o.log);
    }
  }


  /** `resync --force`: forget what beamsync last wrote, so the next update sends the source's values. */
  async forgetWritten(scope: RecordScope): Promise<number> {
    const params = new PositionalParams();
    const where = scopeWhere(scope, params);
    return this.prepared(`UPDATE records SET written = NULL WHERE ${where}`).run(...params.values).changes;
  }

  /** Records whose last push left fields as a curator had changed them. */
  async conflicted(limit: number): Promise<RecordRow[]> {
    await this.flushWrites();
    return this.prepared("SELECT * FROM records WHERE conflicts IS NOT NULL ORDER BY updated_at DESC LIMIT ?").all(limit) as RecordRow[];
  }

  async countConflicted(): Promise<number> {
    return this.prepared("SELECT COUNT(*) FROM records WHERE conflicts IS NOT NULL").pluck().get() as number;
  }

  /** What beamsync last wrote for a record, for `sync --dry-run`. */
  async writtenOf(id: string): Promise<Record<string, unknown> | undefined> {
    const text = this.prepared("SELECT written FROM records WHERE id = ?").pluck().get(id) as string | null | undefined;
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  }

  async appendLog(entry: UploadLogEntry): Promise<void> {
    this.insertLog(entry);
  }

  private insertLog(entry: UploadLogEntry): void {
    this.stmts.insertLog.run({
      sessionIdentifier: entry.sessionIdentifier,
      destination: entry.destination,
      success: entry.success ? 1 : 0,
      timestamp: entry.timestamp ?? new Date().toISOString(),
      recordId: entry.recordId ?? null,
      recordUrl: entry.recordUrl ?? null,
      errorMessage: entry.errorMessage ?? null,
      metadata: JSON.stringify(entry.metadata),
      worker: entry.worker ?? null,
    });
  }

  /** Remove up to `limit` upload_log rows written before `beforeIso` (oldest first); returns how many went. */
  async pruneUploadLog(beforeIso: string, limit: number): Promise<number> {
    await this.flushWrites();
    return this.prepared(
      "DELETE FROM upload_log WHERE id IN (SELECT id FROM upload_log WHERE timestamp < ? ORDER BY timestamp LIMIT ?)",
    ).run(beforeIso, limit).changes;
  }

  // ---- operator actions ----------------------------------------------------------------------------------

  /** failed/dead → pending with a fresh attempt budget. Returns how many moved. */
  async retry(scope: RecordScope): Promise<number> {
    const params = new PositionalParams();
    const now = params.add(nowIso());
    const where = scopeWhere(scope, params);
    return this
      .prepared(
        `UPDATE records SET state = 'pending', attempts = 0, next_attempt_at = 0, last_error = NULL, updated_at = ${now}
         WHERE state IN ('failed', 'dead') AND ${where}`,
      )
      .run(...params.values).changes;
  }

  async addRequest(action: "resync" | "retry", scope: RecordScope): Promise<number> {
    return Number(this.stmts.addRequest.run(action, JSON.stringify(scope), nowIso()).lastInsertRowid);
  }

  async openRequests(): Promise<RequestRow[]> {
    return this.stmts.openRequests.all();
  }

  async finishRequest(id: number, result: unknown): Promise<void> {
    this.stmts.finishRequest.run(nowIso(), JSON.stringify(result), id);
  }

  async getRequest(id: number): Promise<RequestRow | undefined> {
    return this.stmts.getRequest.get(id);
  }

  async getRecord(id: string): Promise<RecordRow | undefined> {
    return this.stmts.getRecord.get(id);
  }

  async records(scope: RecordScope & { states?: RecordState[]; limit?: number }): Promise<RecordRow[]> {
    const params = new PositionalParams();
    const where = scopeWhere(scope, params);
    const states = scope.states?.length ? ` AND state IN (${scope.states.map((state) => params.add(state)).join(", ")})` : "";
    const limit = params.add(scope.limit ?? 1_000_000);
    return this.prepared(`SELECT * FROM records WHERE ${where}${states} ORDER BY updated_at DESC LIMIT ${limit}`).all(...params.values) as RecordRow[];
  }

  // ---- status --------------------------------------------------------------------------------------------

  async countsByState(): Promise<{ destination: string; state: string; n: number }[]> {
    await this.flushWrites();
    return this
      .prepared("SELECT destination, state, COUNT(*) AS n FROM records GROUP BY destination, state ORDER BY destination, state")
      .all() as { destination: string; state: string; n: number }[];
  }

  /** Pending records whose dependencies are not yet in the catalog, per destination. */
  async waitingCounts(): Promise<{ destination: string; n: number }[]> {
    return this
      .prepared(
        `SELECT r.destination, COUNT(*) AS n FROM records r WHERE r.state = 'pending' AND EXISTS (
           SELECT 1 FROM json_each(r.depends_on) d LEFT JOIN records p ON p.id = d.value
           WHERE p.id IS NULL OR (p.remote_id IS NULL AND p.state != 'synced'))
         GROUP BY r.destination`,
      )
      .all() as { destination: string; n: number }[];
  }

  async oldestPending(): Promise<OldestPendingRow | undefined> {
    return this
      .prepared(
        "SELECT id, destination, changed_at_ms, created_at, last_error FROM records WHERE state = 'pending' ORDER BY changed_at_ms, rowid LIMIT 1",
      )
      .get() as OldestPendingRow | undefined;
  }

  async recentFailures(limit: number): Promise<RecordRow[]> {
    return this
      .prepared("SELECT * FROM records WHERE state IN ('failed', 'dead') ORDER BY updated_at DESC LIMIT ?")
      .all(limit) as RecordRow[];
  }

  async uploadLog(filter: UploadLogFilter): Promise<UploadLogRow[]> {
    const params = new PositionalParams();
    const where = uploadLogWhere(filter, params);
    const rows = this.prepared(`SELECT * FROM upload_log ${where} ORDER BY id DESC LIMIT ${params.add(filter.limit)}`).all(...params.values) as UploadLogRow[];
    return rows.reverse();
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.stmts.getMeta.get(key)?.value;
  }

  async setMeta(key: string, value: string, options: { waitMs?: number } = {}): Promise<void> {
    if (options.waitMs === undefined) this.stmts.setMeta.run(key, value);
    else this.withBusyTimeout(options.waitMs, () => this.stmts.setMeta.run(key, value));
  }

  async runRecordsOfBeamtime(beamtimeKey: string): Promise<{ id: string; run_uid: string }[]> {
    // Ids only (records() would load every payload of a big beamtime); served by the records_beamtime index.
    return this.prepared("SELECT id, run_uid FROM records WHERE beamtime_key = ? AND run_uid IS NOT NULL").all(beamtimeKey) as { id: string; run_uid: string }[];
  }

  async remoteIdsOf(recordIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (recordIds.length === 0) return out;
    const unique = [...new Set(recordIds)];
    for (let i = 0; i < unique.length; i += 500) {
      const part = unique.slice(i, i + 500);
      const rows = this
        .prepared(`SELECT id, remote_id FROM records WHERE remote_id IS NOT NULL AND id IN (${part.map(() => "?").join(", ")})`)
        .all(...part) as { id: string; remote_id: string }[];
      for (const row of rows) out.set(row.id, row.remote_id);
    }
    return out;
  }

  // ---- workers -------------------------------------------------------------------------------------------

  async heartbeatWorker(worker: { id: string; host: string; pid: number; startedAt: string }, options: { waitMs?: number } = {}): Promise<void> {
    const write = () =>
      this.prepared(
        `INSERT INTO workers (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`,
      ).run(worker.id, worker.host, worker.pid, worker.startedAt, nowIso());
    if (options.waitMs === undefined) write();
    else this.withBusyTimeout(options.waitMs, write);
  }

  async stopWorker(id: string): Promise<void> {
    this.prepared("UPDATE workers SET stopped_at = ? WHERE id = ?").run(nowIso(), id);
  }

  async workers(): Promise<WorkerRow[]> {
    return this.prepared("SELECT * FROM workers ORDER BY heartbeat_at DESC LIMIT 50").all() as WorkerRow[];
  }

  /** One daemon per stateDir (the instance lock): the scan is always this process's to run. */
  async tryScanLock(): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  /** One process pushes from a SQLite state, and it wakes its own worker: nothing to hear. */
  async listen(_onEvent: (event: StateEvent) => void): Promise<void> {}

  // ---- export / import ------------------------------------------------------------------------------------

  async *exportRows(): AsyncIterable<DumpRow> {
    await this.flushWrites();
    for (const table of DUMP_TABLES) {
      const columns = DUMP_COLUMNS[table].join(", ");
      // One read transaction per table would hold a snapshot; rows are few enough to stream by rowid.
      for (const row of this.db.prepare(`SELECT ${columns} FROM ${table} ORDER BY rowid`).iterate() as IterableIterator<Record<string, unknown>>) {
        if (table === "meta" && PROCESS_META.has(String(row.key))) continue;
        yield { table, row };
      }
    }
  }

  async importRows(rows: AsyncIterable<DumpRow>): Promise<Record<string, number>> {
    const held = this.prepared("SELECT (SELECT COUNT(*) FROM records) + (SELECT COUNT(*) FROM upload_log)").pluck().get() as number;
    if (held > 0) throw new StateImportError(`${this.file} already holds records or upload attempts; import into a new, empty state`);
    const counts: Record<string, number> = {};
    const insert = new Map(
      DUMP_TABLES.map((table) => {
        const columns = DUMP_COLUMNS[table];
        const verb = table === "meta" ? "INSERT OR REPLACE" : "INSERT";
        return [table, this.db.prepare(`${verb} INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`)];
      }),
    );
    // All or nothing: the file is read within one transaction (a dump of a beamline's state fits in memory of the WAL).
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for await (const { table, row } of rows) {
        insert.get(table)!.run(row);
        counts[table] = (counts[table] ?? 0) + 1;
      }
      this.db.exec("COMMIT");
    } catch (err) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
    return counts;
  }

  /** Run `fn` with the connection's lock wait shortened (better-sqlite3 is synchronous, so nothing else interleaves). */
  private withBusyTimeout<T>(ms: number, fn: () => T): T {
    const previous = this.db.pragma("busy_timeout", { simple: true }) as number;
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
    try {
      return fn();
    } finally {
      this.db.pragma(`busy_timeout = ${previous}`);
    }
  }
}
