import os from "node:os";
import pg from "pg";
import type { DesiredRecord, DestinationName } from "../mapping/record.js";
import type { SourceKind } from "../model/types.js";
import type { Watermark } from "../sources/contract.js";
import type {
  LeaseOptions,
  MigrationReport,
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
import { redactUrl } from "./open.js";
import { DUMP_COLUMNS, DUMP_TABLES, PROCESS_META, StateImportError, type DumpRow, type DumpTable } from "./dump.js";
import { QueuedOutcomes, type Outcome } from "./outcomes.js";
import { NumberedParams, scopeWhere, uploadLogWhere } from "./sql-filters.js";
import { watermarkFromRow, type StoredWatermark } from "./watermark-row.js";
import { currentVersion, migratePostgres } from "./postgres-schema.js";

/**
 * The PostgreSQL backend: one state shared by several workers (on any hosts). Same tables, same answers as the
 * SQLite store (sqlite-store.ts); what sharing adds:
 *
 * - lease takes rows FOR UPDATE SKIP LOCKED, so two workers never lease one record;
 * - reconcile upserts (INSERT … ON CONFLICT), so two workers reconciling one file at once both succeed;
 * - reconcile and addRequest NOTIFY beamsync_state, which listen() hears on a connection of its own;
 * - full scans take turns through an advisory lock (tryScanLock);
 * - releaseDeadLeases frees only leases of this host's dead processes (other hosts' run out by themselves).
 *
 * A lost connection or a server restart makes the calls throw (never hang: connect and statement timeouts);
 * the worker and daemon retry, and the pool opens new connections when the server is back.
 */

const CHANNEL = "beamsync_state";
/** pg_try_advisory_lock key of the full scan. */
const SCAN_LOCK_KEY = "7365223718402";
const CONNECT_TIMEOUT_MS = 5_000;
const STATEMENT_TIMEOUT_MS = 30_000;
const LISTEN_RETRY_MIN_MS = 1_000;
const LISTEN_RETRY_MAX_MS = 30_000;
/** Rows per upsert statement in reconcile (parameters are arrays, so this only bounds the statement's size). */
const BATCH = 500;

/** records' columns in RecordRow's order (seq, the insertion order, stays inside the store). */
const RECORD_COLUMNS =
  "id, destination, kind, key, session_identifier, run_uid, beamtime_key, state, desired_hash, synced_hash, payload, depends_on, " +
  "remote_id, remote_url, attempts, next_attempt_at, lease_owner, lease_until, last_error, changed_at_ms, created_at, updated_at, written, conflicts";

/** Dependencies of record `r` not yet in the catalog (the same rule as SQLite's lease). */
const UNMET_DEPENDENCY = `
  SELECT 1 FROM jsonb_array_elements_text(r.depends_on::jsonb) AS d(value) LEFT JOIN records p ON p.id = d.value
  WHERE p.id IS NULL OR (p.remote_id IS NULL AND p.state <> 'synced')`;

/**
 * BIGINT (COUNT, ids, millisecond times) and NUMERIC (SUM) as JS numbers, as better-sqlite3 returns them, on this
 * store's connections only (pg's global parsers stay as they are).
 */
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
types.setTypeParser(pg.types.builtins.NUMERIC, (value: string) => Number(value));

const nowIso = () => new Date().toISOString();
/** Millisecond times go to BIGINT columns. */
const ms = (value: number) => Math.round(value);
const noop = () => undefined;

export interface PostgresStateOptions {
  url: string;
  /** Overrides a password in the URL (state.password, passwordFile, BEAMSYNC_STATE__PASSWORD). */
  password?: string | undefined;
  poolSize: number;
  /** status, log: a database where beamsync never ran is an error. */
  mustExist: boolean;
}

/** Numbered parameters for SQL built from parts. */

export class PostgresStateStore extends QueuedOutcomes implements StateStore {
  readonly backend = "postgres" as const;
  readonly shared = true;
  readonly file = undefined;
  /** The scan lock's give-back function while this store holds it. */
  private readonly scanLocks = new Map<pg.PoolClient, () => Promise<void>>();
  private listener: pg.Client | undefined;
  private listenHandlers: ((event: StateEvent) => void)[] = [];
  private listenTimer: NodeJS.Timeout | undefined;
  private listenConnecting = false;
  private listenRetryMs = LISTEN_RETRY_MIN_MS;
  private closed = false;
  /** The outcomes of a COMMIT that failed, and its transaction id: committed or not, the server knows. */
  private unsettled: { xid: string; outcomes: ReadonlySet<Outcome> } | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
    readonly location: string,
    readonly migration: MigrationReport,
  ) {
    super();
  }

  static async open(options: PostgresStateOptions): Promise<PostgresStateStore> {
    const location = redactUrl(options.url);
    const clientConfig = connectionConfig(options);
    const pool = new pg.Pool({ ...clientConfig, max: options.poolSize });
    // An idle connection that breaks (server restart) is dropped by the pool; the next call opens a new one.
    pool.on("error", noop);
    try {
      const migration = await withClient(pool, (client) => migratePostgres(client, { location, mustExist: options.mustExist }));
      return new PostgresStateStore(pool, clientConfig, location, migration);
    } catch (error) {
      await pool.end().catch(noop);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flushWrites();
    } finally {
      this.closed = true;
      this.outcomes.stop();
      if (this.listenTimer) clearTimeout(this.listenTimer);
      this.listenTimer = undefined;
      const listener = this.listener;
      this.listener = undefined;
      if (listener) await listener.end().catch(noop);
      // A scan lock held now is given back (it would go with its session, but only once the server sees it end).
      await Promise.all([...this.scanLocks.values()].map((release) => release()));
      await this.pool.end();
    }
  }

  async schemaVersion(): Promise<number> {
    return withClient(this.pool, currentVersion);
  }

  // ---- plumbing ------------------------------------------------------------------------------------------

  private async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, values);
  }

  private async rows<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return (await this.query<R>(sql, values)).rows;
  }

  /**
   * Run `fn` in a transaction on one connection. `lockTimeoutMs`: how long a statement waits for a row lock
   * before failing (SET LOCAL lock_timeout). A connection that broke is discarded, never returned to the pool.
   * `onCommitError` hears of a COMMIT that failed: whether the server committed is then unknown (the connection
   * may have gone after the server wrote the commit, before its answer arrived).
   */
  private async transaction<T>(
    fn: (client: pg.PoolClient) => Promise<T>,
    options: { lockTimeoutMs?: number | undefined; onCommitError?: () => void } = {},
  ): Promise<T> {
    return withClient(this.pool, async (client) => {
      await client.query("BEGIN");
      try {
        if (options.lockTimeoutMs !== undefined) await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs))}`);
        const result = await fn(client);
        await client.query("COMMIT").catch((error: unknown) => {
          options.onCommitError?.();
          throw error;
        });
        return result;
      } catch (error) {
        // A ROLLBACK that fails too means the connection is gone: withClient then discards it.
        await client.query("ROLLBACK").catch(noop);
        throw error;
      }
    });
  }

  // ---- sources -------------------------------------------------------------------------------------------

  async getWatermark(source: SourceKind, path: string): Promise<Watermark | undefined> {
    const [row] = await this.rows<StoredWatermark>("SELECT size, mtime_ms, data, problem, retry FROM sources WHERE source = $1 AND path = $2", [source, path]);
    return row ? watermarkFromRow(source, path, row) : undefined;
  }

  /** See SqliteStateStore.forgetSourcesExcept. */
  async forgetSourcesExcept(source: SourceKind, keep: ReadonlySet<string>): Promise<number> {
    const known = await this.rows<{ path: string }>("SELECT path FROM sources WHERE source = $1", [source]);
    const gone = known.map((r) => r.path).filter((p) => !keep.has(p));
    if (gone.length === 0) return 0;
    await this.query("DELETE FROM sources WHERE source = $1 AND path = ANY($2::text[])", [source, gone]);
    return gone.length;
  }

  async sourceProblems(): Promise<SourceProblemRow[]> {
    const rows = await this.rows<{ source: string; path: string; problem: string; retry: number; scanned_at: string }>(
      "SELECT source, path, problem, retry, scanned_at FROM sources WHERE problem IS NOT NULL ORDER BY source, path",
    );
    return rows.map((row) => ({ ...row, retry: row.retry === 1 }));
  }

  async sourceSummary(): Promise<SourceSummaryRow[]> {
    return this.rows<SourceSummaryRow>(
      `SELECT source, COUNT(*) AS files, COUNT(problem) AS problems, MAX(scanned_at) AS last_scanned
       FROM sources GROUP BY source ORDER BY source`,
    );
  }

  // ---- reconcile -----------------------------------------------------------------------------------------

  /**
   * The SQLite store's reconcile as upserts, in one transaction with the watermarks: a record is written only
   * when its hash changed (or it is forced), so two workers reconciling the same file at once both succeed and
   * the second finds it unchanged. Anything queued is announced (NOTIFY, sent when the transaction commits).
   */
  async reconcile(
    desired: Iterable<DesiredRecord>,
    watermarks: Iterable<Watermark>,
    options: { force?: (r: DesiredRecord) => boolean; nowMs?: number } = {},
  ): Promise<ReconcileCounts> {
    await this.flushWrites();
    const counts: ReconcileCounts = { created: 0, updated: 0, forced: 0, unchanged: 0 };
    const nowMs = ms(options.nowMs ?? Date.now());
    const now = new Date(nowMs).toISOString();
    // One statement may not touch a row twice: a record named twice goes to the next batch (as SQLite, in order).
    const batches: { record: DesiredRecord; id: string; forced: boolean }[][] = [];
    let batch: { record: DesiredRecord; id: string; forced: boolean }[] = [];
    let ids = new Set<string>();
    for (const record of desired) {
      const id = `${record.destination}/${record.kind}/${record.key}`;
      if (ids.has(id) || batch.length >= BATCH) {
        batches.push(batch);
        batch = [];
        ids = new Set();
      }
      ids.add(id);
      batch.push({ record, id, forced: options.force?.(record) ?? false });
    }
    if (batch.length > 0) batches.push(batch);
    const marks = new Map<string, Watermark>();
    for (const w of watermarks) marks.set(`${w.source}\0${w.path}`, w);

    await this.transaction(async (client) => {
      for (const part of batches) {
        const { rows } = await client.query<{ id: string; inserted: boolean; old_hash: string | null }>(RECONCILE_SQL, [
          part.map((p) => p.id),
          part.map((p) => p.record.destination),
          part.map((p) => p.record.kind),
          part.map((p) => p.record.key),
          part.map((p) => p.record.sessionIdentifier ?? p.record.runUid ?? p.record.key),
          part.map((p) => p.record.runUid ?? null),
          part.map((p) => p.record.beamtimeKey ?? null),
          part.map((p) => p.record.hash),
          part.map((p) => JSON.stringify(p.record.payload)),
          part.map((p) => JSON.stringify(p.record.dependsOn)),
          nowMs,
          now,
          part.filter((p) => p.forced).map((p) => p.id),
        ]);
        const written = new Map(rows.map((r) => [r.id, r]));
        for (const p of part) {
          const row = written.get(p.id);
          if (!row) counts.unchanged++;
          else if (row.inserted) counts.created++;
          else if (row.old_hash === p.record.hash) counts.forced++;
          else counts.updated++;
        }
      }
      const all = [...marks.values()];
      for (let i = 0; i < all.length; i += BATCH) {
        const part = all.slice(i, i + BATCH);
        await client.query(WATERMARK_SQL, [
          part.map((w) => w.source),
          part.map((w) => w.path),
          part.map((w) => ms(w.size)),
          part.map((w) => w.mtimeMs),
          part.map((w) => (w.data === undefined ? null : JSON.stringify(w.data))),
          part.map((w) => w.problem ?? null),
          part.map((w) => (w.retry ? 1 : 0)),
          now,
        ]);
      }
      if (counts.created + counts.updated + counts.forced > 0) await client.query("SELECT pg_notify($1, 'work')", [CHANNEL]);
    });
    return counts;
  }

  /** Classify desired records against the store without changing anything (dry-run). */
  async diff(desired: Iterable<DesiredRecord>): Promise<{ record: DesiredRecord; change: "create" | "update" }[]> {
    const list = [...desired];
    const known = new Map<string, string | null>();
    const ids = [...new Set(list.map((r) => `${r.destination}/${r.kind}/${r.key}`))];
    for (let i = 0; i < ids.length; i += BATCH) {
      const rows = await this.rows<{ id: string; synced_hash: string | null }>("SELECT id, synced_hash FROM records WHERE id = ANY($1::text[])", [ids.slice(i, i + BATCH)]);
      for (const row of rows) known.set(row.id, row.synced_hash);
    }
    const out: { record: DesiredRecord; change: "create" | "update" }[] = [];
    for (const record of list) {
      const id = `${record.destination}/${record.kind}/${record.key}`;
      if (!known.has(id)) out.push({ record, change: "create" });
      else if (known.get(id) !== record.hash) out.push({ record, change: "update" });
    }
    return out;
  }

  async runRecordsOfBeamtime(beamtimeKey: string): Promise<{ id: string; run_uid: string }[]> {
    return this.rows("SELECT id, run_uid FROM records WHERE beamtime_key = $1 AND run_uid IS NOT NULL ORDER BY seq", [beamtimeKey]);
  }

  // ---- outbox --------------------------------------------------------------------------------------------

  /**
   * Lease up to `limit` due records whose dependencies exist remotely (see SqliteStateStore.lease). Rows another
   * worker is leasing at this moment are skipped (SKIP LOCKED), and a row leased since this statement began is
   * rechecked under its lock, so no record is leased to two live owners.
   */
  async lease(options: LeaseOptions): Promise<RecordRow[]> {
    await this.flushWrites();
    if (options.destinations.length === 0 || options.limit <= 0) return [];
    const excluded = options.excludeIds;
    return this.transaction(async (client) => {
      const { rows } = await client.query<RecordRow>(LEASE_SQL, [
        options.owner,
        ms(options.nowMs + options.leaseMs),
        ms(options.nowMs),
        options.destinations,
        options.limit,
      ]);
      if (!excluded || excluded.size === 0) return rows;
      const kept: RecordRow[] = [];
      const release: string[] = [];
      for (const row of rows) {
        if (excluded.has(row.id) || kept.length >= options.limit) release.push(row.id);
        else kept.push(row);
      }
      if (release.length > 0) {
        await client.query("UPDATE records SET lease_owner = NULL, lease_until = NULL WHERE id = ANY($1::text[]) AND lease_owner = $2", [release, options.owner]);
      }
      return kept;
    });
  }

  async extendLeases(owner: string, ids: string[], until: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows<{ id: string }>(
      "UPDATE records SET lease_until = $1 WHERE lease_owner = $2 AND id = ANY($3::text[]) RETURNING id",
      [ms(until), owner, ids],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Free leases of this host's workers whose process is gone (a kill -9). Owners are the workers table's ids;
   * leases of other hosts' workers run out by themselves (their pids mean nothing here), and so do those of a
   * one-shot sync (only daemons register in the workers table: src/app/state-guard.ts).
   */
  async releaseDeadLeases(isAlive: (pid: number) => boolean): Promise<number> {
    const owners = await this.rows<{ owner: string; pid: number }>(
      `SELECT DISTINCT r.lease_owner AS owner, w.pid FROM records r JOIN workers w ON w.id = r.lease_owner
       WHERE r.lease_owner IS NOT NULL AND w.host = $1`,
      [os.hostname()],
    );
    const dead = owners.filter((o) => Number.isInteger(o.pid) && o.pid > 0 && !isAlive(o.pid)).map((o) => o.owner);
    if (dead.length === 0) return 0;
    const result = await this.query("UPDATE records SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ANY($1::text[])", [dead]);
    return result.rowCount ?? 0;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.query("UPDATE records SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2", [id, owner]);
  }

  async releaseLeases(owner: string): Promise<void> {
    await this.flushWrites();
    await this.query("UPDATE records SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", [owner]);
  }

  async remoteIdOf(recordId: string): Promise<string | undefined> {
    const [row] = await this.rows<{ remote_id: string | null }>("SELECT remote_id FROM records WHERE id = $1", [recordId]);
    return row?.remote_id ?? undefined;
  }

  async remoteIdsOf(recordIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const unique = [...new Set(recordIds)];
    for (let i = 0; i < unique.length; i += BATCH) {
      const rows = await this.rows<{ id: string; remote_id: string }>(
        "SELECT id, remote_id FROM records WHERE remote_id IS NOT NULL AND id = ANY($1::text[])",
        [unique.slice(i, i + BATCH)],
      );
      for (const row of rows) out.set(row.id, row.remote_id);
    }
    return out;
  }

  async nextDueAt(destinations: DestinationName[], afterMs = -1): Promise<number | undefined> {
    await this.flushWrites();
    if (destinations.length === 0) return undefined;
    const [row] = await this.rows<{ due: number | null }>(
      "SELECT MIN(next_attempt_at) AS due FROM records WHERE state = 'pending' AND next_attempt_at > $1 AND destination = ANY($2::text[])",
      [ms(afterMs), destinations],
    );
    return row?.due ?? undefined;
  }

  async countPending(destinations: DestinationName[]): Promise<number> {
    await this.flushWrites();
    if (destinations.length === 0) return 0;
    const [row] = await this.rows<{ n: number }>("SELECT COUNT(*) AS n FROM records WHERE state = 'pending' AND destination = ANY($1::text[])", [destinations]);
    return row?.n ?? 0;
  }

  /** See SqliteStateStore.countBlocked: the same recursive query. */
  async countBlocked(destinations: DestinationName[]): Promise<number> {
    await this.flushWrites();
    if (destinations.length === 0) return 0;
    const [row] = await this.rows<{ n: number }>(COUNT_BLOCKED_SQL, [destinations]);
    return row?.n ?? 0;
  }

  // ---- attempt outcomes ----------------------------------------------------------------------------------

  /**
   * Commit queued attempt outcomes in one transaction (see OutcomeQueue): the same UPDATEs as SQLite. When a COMMIT
   * fails, the outcomes stay queued, and whether the server committed them is unknown: written twice, they would
   * count each attempt twice (a record dead too early) and log it twice. So the transaction's id is kept, and the
   * next commit asks the server (txid_status) before it writes those outcomes again.
   */
  protected async commitOutcomes(outcomes: Outcome[]): Promise<void> {
    if (this.closed) throw new Error(`the state store ${this.location} is closed`);
    const todo = await this.withoutCommitted(outcomes);
    if (todo.length === 0) return;
    let xid: string | undefined;
    await this.transaction(async (client) => {
      xid = (await client.query<{ xid: string }>("SELECT txid_current()::text AS xid")).rows[0]?.xid;
      for (const o of todo) {
        switch (o.kind) {
          case "success": {
            const values = [o.id, o.hash, o.remoteId, o.remoteUrl, o.written, o.conflicts, o.now];
            const synced = await client.query(
              `UPDATE records SET state = 'synced', synced_hash = desired_hash, payload = NULL, remote_id = $3,
                 remote_url = $4, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, last_error = NULL,
                 written = $5, conflicts = $6, updated_at = $7
               WHERE id = $1 AND desired_hash = $2`,
              values,
            );
            if (synced.rowCount === 0) {
              // The desired content changed while we pushed the old one: keep it pending, remember the remote id.
              await client.query(
                `UPDATE records SET remote_id = $3, remote_url = $4, lease_owner = NULL, lease_until = NULL,
                   written = $5, conflicts = $6, updated_at = $7 WHERE id = $1 AND desired_hash <> $2`,
                values,
              );
            }
            break;
          }
          case "retry":
            await client.query(
              `UPDATE records SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3,
                 state = CASE WHEN attempts + 1 >= $4 THEN 'dead' ELSE 'pending' END,
                 lease_owner = NULL, lease_until = NULL, updated_at = $5
               WHERE id = $1`,
              [o.id, ms(o.nextAttemptAt), o.error, o.maxAttempts, o.now],
            );
            break;
          case "failure":
            await client.query(
              `UPDATE records SET attempts = attempts + 1, state = 'failed', last_error = $2, lease_owner = NULL,
                 lease_until = NULL, updated_at = $3 WHERE id = $1`,
              [o.id, o.error, o.now],
            );
            break;
          case "deferred":
            // Not the record's fault (the catalog as a whole is unavailable): no attempt spent.
            await client.query(
              `UPDATE records SET next_attempt_at = $2, last_error = $3, lease_owner = NULL, lease_until = NULL,
                 updated_at = $4 WHERE id = $1`,
              [o.id, ms(o.nextAttemptAt), o.error, o.now],
            );
            break;
        }
        await insertLog(client, o.log);
      }
    }, { onCommitError: () => (this.unsettled = xid ? { xid, outcomes: new Set(todo) } : undefined) });
  }

  /** `outcomes` less those a COMMIT with no answer did write (see commitOutcomes). */
  private async withoutCommitted(outcomes: Outcome[]): Promise<Outcome[]> {
    const unsettled = this.unsettled;
    if (!unsettled) return outcomes;
    const [row] = await this.rows<{ status: string | null }>("SELECT txid_status($1::bigint) AS status", [unsettled.xid]);
    const status = row?.status ?? null;
    // Still running on the server (it has not yet seen the connection go): only its end tells. Kept queued.
    if (status === "in progress") {
      throw Object.assign(new Error(`the state store ${this.location} has not yet finished an earlier commit (transaction ${unsettled.xid}); trying again`), { transient: true });
    }
    this.unsettled = undefined;
    // Aborted, or too old for the server to know (NULL): written again.
    return status === "committed" ? outcomes.filter((o) => !unsettled.outcomes.has(o)) : outcomes;
  }


  // ---- curators' edits -----------------------------------------------------------------------------------

  async forgetWritten(scope: RecordScope): Promise<number> {
    const params = new NumberedParams();
    const where = scopeWhere(scope, params);
    return (await this.query(`UPDATE records SET written = NULL WHERE ${where}`, params.values)).rowCount ?? 0;
  }

  async conflicted(limit: number): Promise<RecordRow[]> {
    await this.flushWrites();
    return this.rows(`SELECT ${RECORD_COLUMNS} FROM records WHERE conflicts IS NOT NULL ORDER BY updated_at DESC, seq LIMIT $1`, [limit]);
  }

  async countConflicted(): Promise<number> {
    const [row] = await this.rows<{ n: number }>("SELECT COUNT(*) AS n FROM records WHERE conflicts IS NOT NULL");
    return row?.n ?? 0;
  }

  async writtenOf(id: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await this.rows<{ written: string | null }>("SELECT written FROM records WHERE id = $1", [id]);
    return row?.written ? (JSON.parse(row.written) as Record<string, unknown>) : undefined;
  }

  // ---- upload_log ----------------------------------------------------------------------------------------

  async appendLog(entry: UploadLogEntry): Promise<void> {
    await withClient(this.pool, (client) => insertLog(client, entry));
  }

  async pruneUploadLog(beforeIso: string, limit: number): Promise<number> {
    await this.flushWrites();
    const result = await this.query(
      "DELETE FROM upload_log WHERE id IN (SELECT id FROM upload_log WHERE timestamp < $1 ORDER BY timestamp, id LIMIT $2)",
      [beforeIso, limit],
    );
    return result.rowCount ?? 0;
  }

  async uploadLog(filter: UploadLogFilter): Promise<UploadLogRow[]> {
    const params = new NumberedParams();
    const where = uploadLogWhere(filter, params);
    const rows = await this.rows<UploadLogRow>(
      `SELECT id, session_identifier, destination_name, success, timestamp, record_id, record_url, error_message, metadata_json, worker
       FROM upload_log ${where} ORDER BY id DESC LIMIT ${params.add(filter.limit)}`,
      params.values,
    );
    return rows.reverse();
  }

  // ---- operator actions ----------------------------------------------------------------------------------

  async retry(scope: RecordScope): Promise<number> {
    const params = new NumberedParams();
    const now = params.add(nowIso());
    const where = scopeWhere(scope, params);
    const result = await this.query(
      `UPDATE records SET state = 'pending', attempts = 0, next_attempt_at = 0, last_error = NULL, updated_at = ${now}
       WHERE state IN ('failed', 'dead') AND ${where}`,
      params.values,
    );
    return result.rowCount ?? 0;
  }

  /** Queue an operator request and tell the workers at once (NOTIFY, sent on commit). */
  async addRequest(action: "resync" | "retry", scope: RecordScope): Promise<number> {
    const [row] = await this.rows<{ id: number }>(
      `WITH added AS (INSERT INTO requests (action, scope, requested_at) VALUES ($1, $2, $3) RETURNING id)
       SELECT id, pg_notify($4, 'request') FROM added`,
      [action, JSON.stringify(scope), nowIso(), CHANNEL],
    );
    if (!row) throw new Error("the request was not stored");
    return row.id;
  }

  async openRequests(): Promise<RequestRow[]> {
    return this.rows("SELECT id, action, scope, requested_at, handled_at, result FROM requests WHERE handled_at IS NULL ORDER BY id");
  }

  async finishRequest(id: number, result: unknown): Promise<void> {
    await this.query("UPDATE requests SET handled_at = $1, result = $2 WHERE id = $3", [nowIso(), JSON.stringify(result), id]);
  }

  async getRequest(id: number): Promise<RequestRow | undefined> {
    const [row] = await this.rows<RequestRow>("SELECT id, action, scope, requested_at, handled_at, result FROM requests WHERE id = $1", [id]);
    return row;
  }

  async getRecord(id: string): Promise<RecordRow | undefined> {
    const [row] = await this.rows<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM records WHERE id = $1`, [id]);
    return row;
  }

  async records(scope: RecordScope & { states?: RecordState[]; limit?: number }): Promise<RecordRow[]> {
    const params = new NumberedParams();
    const where = scopeWhere(scope, params);
    const states = scope.states?.length ? ` AND state = ANY(${params.add(scope.states)}::text[])` : "";
    return this.rows(
      `SELECT ${RECORD_COLUMNS} FROM records WHERE ${where}${states} ORDER BY updated_at DESC, seq LIMIT ${params.add(scope.limit ?? 1_000_000)}`,
      params.values,
    );
  }

  // ---- status --------------------------------------------------------------------------------------------

  async countsByState(): Promise<{ destination: string; state: string; n: number }[]> {
    await this.flushWrites();
    return this.rows("SELECT destination, state, COUNT(*) AS n FROM records GROUP BY destination, state ORDER BY destination, state");
  }

  async waitingCounts(): Promise<{ destination: string; n: number }[]> {
    return this.rows(
      `SELECT r.destination, COUNT(*) AS n FROM records r WHERE r.state = 'pending' AND EXISTS (${UNMET_DEPENDENCY})
       GROUP BY r.destination ORDER BY r.destination`,
    );
  }

  async oldestPending(): Promise<OldestPendingRow | undefined> {
    const [row] = await this.rows<OldestPendingRow>(
      // NULLS FIRST: SQLite's order.
      "SELECT id, destination, changed_at_ms, created_at, last_error FROM records WHERE state = 'pending' ORDER BY changed_at_ms NULLS FIRST, seq LIMIT 1",
    );
    return row;
  }

  async recentFailures(limit: number): Promise<RecordRow[]> {
    return this.rows(`SELECT ${RECORD_COLUMNS} FROM records WHERE state IN ('failed', 'dead') ORDER BY updated_at DESC, seq LIMIT $1`, [limit]);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const [row] = await this.rows<{ value: string }>("SELECT value FROM meta WHERE key = $1", [key]);
    return row?.value;
  }

  /** `waitMs`: the row lock wait (SET LOCAL lock_timeout in a transaction of its own); without it, the statement timeout. */
  async setMeta(key: string, value: string, options: { waitMs?: number } = {}): Promise<void> {
    const sql = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    if (options.waitMs === undefined) await this.query(sql, [key, value]);
    else await this.transaction((client) => client.query(sql, [key, value]), { lockTimeoutMs: options.waitMs });
  }

  // ---- workers -------------------------------------------------------------------------------------------

  async heartbeatWorker(worker: { id: string; host: string; pid: number; startedAt: string }, options: { waitMs?: number } = {}): Promise<void> {
    const sql = `INSERT INTO workers (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`;
    const values = [worker.id, worker.host, worker.pid, worker.startedAt, nowIso()];
    if (options.waitMs === undefined) await this.query(sql, values);
    else await this.transaction((client) => client.query(sql, values), { lockTimeoutMs: options.waitMs });
  }

  async stopWorker(id: string): Promise<void> {
    await this.query("UPDATE workers SET stopped_at = $1 WHERE id = $2", [nowIso(), id]);
  }

  async workers(): Promise<WorkerRow[]> {
    return this.rows("SELECT id, host, pid, started_at, heartbeat_at, stopped_at FROM workers ORDER BY heartbeat_at DESC, id LIMIT 50");
  }

  /**
   * The full scan's advisory lock, held by a connection kept out of the pool until the returned function gives it
   * back. Should that connection break meanwhile, the lock went with its session; giving it back then only
   * discards the connection.
   */
  async tryScanLock(): Promise<(() => Promise<void>) | undefined> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on("error", onError);
    const giveBack = (error?: Error) => {
      client.removeListener("error", onError);
      client.release(error ?? broken);
    };
    let granted: boolean;
    try {
      const { rows } = await client.query<{ granted: boolean }>("SELECT pg_try_advisory_lock($1) AS granted", [SCAN_LOCK_KEY]);
      granted = rows[0]?.granted === true;
    } catch (error) {
      giveBack(error as Error);
      throw error;
    }
    if (!granted) {
      giveBack();
      return undefined;
    }
    const release = async () => {
      if (!this.scanLocks.delete(client)) return;
      if (broken) return giveBack();
      try {
        await client.query("SELECT pg_advisory_unlock($1)", [SCAN_LOCK_KEY]);
        giveBack();
      } catch (error) {
        giveBack(error as Error);
      }
    };
    this.scanLocks.set(client, release);
    return release;
  }

  /**
   * Hear NOTIFY beamsync_state on a connection of its own. When it breaks (a server restart), it is opened again
   * (1 s, doubling to 30 s) until close(); after each reconnection `onEvent` hears both events once, for what
   * may have been said meanwhile.
   */
  // ---- export / import (see dump.ts) ----------------------------------------------------------------------

  async *exportRows(): AsyncIterable<DumpRow> {
    await this.flushWrites();
    for (const table of DUMP_TABLES) {
      const columns = DUMP_COLUMNS[table];
      const order = EXPORT_ORDER[table];
      // Keyset pages: a big state streams without a cursor held open across the caller's writes.
      let after: unknown[] | undefined;
      for (;;) {
        const where = after ? `WHERE (${order.join(", ")}) > (${order.map((_, i) => `$${i + 1}`).join(", ")})` : "";
        const { rows } = await this.pool.query<Record<string, unknown>>(
          `SELECT ${[...new Set([...columns, ...order])].join(", ")} FROM ${table} ${where} ORDER BY ${order.join(", ")} LIMIT ${EXPORT_PAGE}`,
          after ?? [],
        );
        for (const row of rows) {
          if (table === "meta" && PROCESS_META.has(String(row.key))) continue;
          yield { table, row: Object.fromEntries(columns.map((c) => [c, row[c]])) };
        }
        if (rows.length < EXPORT_PAGE) break;
        const last = rows[rows.length - 1]!;
        after = order.map((c) => last[c]);
      }
    }
  }

  async importRows(rows: AsyncIterable<DumpRow>): Promise<Record<string, number>> {
    return this.transaction(async (client) => {
      const { rows: held } = await client.query<{ n: number }>("SELECT (SELECT COUNT(*) FROM records) + (SELECT COUNT(*) FROM upload_log) AS n");
      if (Number(held[0]?.n ?? 0) > 0) throw new StateImportError(`${this.location} already holds records or upload attempts; import into a new, empty database`);
      const counts: Record<string, number> = {};
      for await (const { table, row } of rows) {
        const columns = DUMP_COLUMNS[table];
        const upsert = table === "meta" ? " ON CONFLICT (key) DO UPDATE SET value = excluded.value" : "";
        await client.query(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})${upsert}`, columns.map((c) => row[c] ?? null));
        counts[table] = (counts[table] ?? 0) + 1;
      }
      return counts;
    });
  }

  async listen(onEvent: (event: StateEvent) => void): Promise<void> {
    this.listenHandlers.push(onEvent);
    if (this.listener || this.listenTimer || this.listenConnecting || this.closed) return;
    this.listenConnecting = true;
    const connected = await this.connectListener();
    this.listenConnecting = false;
    if (!connected || !this.listener) this.scheduleListener();
  }

  private emit(event: StateEvent): void {
    for (const handler of this.listenHandlers) {
      try {
        handler(event);
      } catch {
        // A handler's trouble is its own; the connection keeps listening.
      }
    }
  }

  private async connectListener(): Promise<boolean> {
    const client = new pg.Client(this.clientConfig);
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      client.end().catch(noop);
      if (this.listener === client) {
        this.listener = undefined;
        this.scheduleListener();
      }
    };
    client.on("error", drop);
    client.on("end", drop);
    client.on("notification", (message) => {
      if (message.channel !== CHANNEL) return;
      if (message.payload === "work" || message.payload === "request") this.emit(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch {
      dropped = true;
      await client.end().catch(noop);
      return false;
    }
    if (dropped || this.closed) {
      await client.end().catch(noop);
      return false;
    }
    this.listener = client;
    return true;
  }

  private scheduleListener(): void {
    if (this.closed || this.listenTimer || this.listenConnecting) return;
    const delay = this.listenRetryMs;
    this.listenRetryMs = Math.min(LISTEN_RETRY_MAX_MS, delay * 2);
    this.listenTimer = setTimeout(() => {
      this.listenTimer = undefined;
      this.listenConnecting = true;
      void this.connectListener().then((connected) => {
        this.listenConnecting = false;
        if (this.closed) return;
        // Not connected, or dropped again already: the next try, later.
        if (!connected || !this.listener) return this.scheduleListener();
        this.listenRetryMs = LISTEN_RETRY_MIN_MS;
        this.emit("work");
        this.emit("request");
      });
    }, delay);
    this.listenTimer.unref();
  }
}

/**
 * Run `fn` on a connection of the pool. pg reports a connection that breaks as an 'error' event of its client,
 * which would end the process without a listener: it is heard here, and such a connection (or one whose query
 * failed at the protocol level) is discarded, never given back to the pool.
 */
/** Rows per page of an export, and the key each table is paged by (the order a dump keeps). */
const EXPORT_PAGE = 2000;
const EXPORT_ORDER: Record<DumpTable, readonly string[]> = {
  meta: ["key"],
  sources: ["source", "path"],
  records: ["seq"],
  requests: ["id"],
  upload_log: ["id"],
};

async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken = error);
  client.on("error", onError);
  try {
    return await fn(client);
  } catch (error) {
    // Errors the server answered (they carry a SQLSTATE) leave the connection usable; anything else may not.
    if (!isServerError(error)) broken ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.removeListener("error", onError);
    client.release(broken);
  }
}

function isServerError(error: unknown): boolean {
  return error instanceof pg.DatabaseError && !/^(08|57P)/.test(error.code ?? "");
}

/** pg's settings for every connection of the store (the pool's and the listener's). */
function connectionConfig(options: PostgresStateOptions): pg.ClientConfig {
  let connectionString = options.url;
  if (options.password !== undefined) {
    // pg lets the URL's fields win over the settings given beside it: the configured password goes into the URL.
    const url = new URL(options.url);
    url.password = encodeURIComponent(options.password);
    connectionString = url.toString();
  }
  return {
    connectionString,
    types,
    application_name: "beamsync",
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 5_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

async function insertLog(client: pg.ClientBase, entry: UploadLogEntry): Promise<void> {
  await client.query(
    `INSERT INTO upload_log (session_identifier, destination_name, success, timestamp, record_id, record_url,
       error_message, metadata_json, worker)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      entry.sessionIdentifier,
      entry.destination,
      entry.success ? 1 : 0,
      entry.timestamp ?? nowIso(),
      entry.recordId ?? null,
      entry.recordUrl ?? null,
      entry.errorMessage ?? null,
      JSON.stringify(entry.metadata),
      entry.worker ?? null,
    ],
  );
}

/**
 * Insert new records, requeue changed (or forced) ones, leave the rest: $1–$10 are arrays, one element per record;
 * $13 the forced ids. Answers the rows written, whether inserted, and the hash they had before.
 */
const RECONCILE_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
      WITH ORDINALITY AS t(id, destination, kind, key, session_identifier, run_uid, beamtime_key, desired_hash, payload, depends_on, ord)
  ),
  old AS (SELECT r.id, r.desired_hash FROM records r JOIN input USING (id)),
  written AS (
    INSERT INTO records (id, destination, kind, key, session_identifier, run_uid, beamtime_key, state, desired_hash,
      payload, depends_on, attempts, next_attempt_at, changed_at_ms, created_at, updated_at)
    SELECT id, destination, kind, key, session_identifier, run_uid, beamtime_key, 'pending', desired_hash,
      payload, depends_on, 0, 0, $11::bigint, $12, $12
    FROM input ORDER BY ord
    ON CONFLICT (id) DO UPDATE SET state = 'pending', desired_hash = excluded.desired_hash, payload = excluded.payload,
      depends_on = excluded.depends_on, session_identifier = excluded.session_identifier, run_uid = excluded.run_uid,
      beamtime_key = excluded.beamtime_key, attempts = 0, next_attempt_at = 0, last_error = NULL,
      changed_at_ms = excluded.changed_at_ms, updated_at = excluded.updated_at
    WHERE records.desired_hash IS DISTINCT FROM excluded.desired_hash OR excluded.id = ANY($13::text[])
    RETURNING id, (xmax = 0) AS inserted
  )
  SELECT written.id, written.inserted, old.desired_hash AS old_hash FROM written LEFT JOIN old USING (id)`;

const WATERMARK_SQL = `
  INSERT INTO sources (source, path, size, mtime_ms, data, problem, retry, scanned_at)
  SELECT source, path, size, mtime_ms, data, problem, retry, $8
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::text[], $6::text[], $7::int[]) AS t(source, path, size, mtime_ms, data, problem, retry)
  ON CONFLICT (source, path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, data = excluded.data,
    problem = excluded.problem, retry = excluded.retry, scanned_at = excluded.scanned_at`;

/** $1 owner, $2 lease until, $3 now, $4 destinations, $5 limit. Rows in lease order. */
const LEASE_SQL = `
  WITH picked AS (
    SELECT r.id FROM records r
    WHERE r.state = 'pending' AND r.next_attempt_at <= $3
      AND (r.lease_until IS NULL OR r.lease_until < $3)
      AND r.destination = ANY($4::text[])
      AND NOT EXISTS (${UNMET_DEPENDENCY})
    ORDER BY r.next_attempt_at, r.seq
    LIMIT $5
    FOR UPDATE OF r SKIP LOCKED
  ),
  leased AS (
    UPDATE records SET lease_owner = $1, lease_until = $2 FROM picked WHERE records.id = picked.id
    RETURNING records.*
  )
  SELECT ${RECORD_COLUMNS} FROM leased ORDER BY next_attempt_at, seq`;

const COUNT_BLOCKED_SQL = `
  WITH RECURSIVE blocked(id) AS (
    SELECT r.id FROM records r CROSS JOIN LATERAL jsonb_array_elements_text(r.depends_on::jsonb) AS d(value)
      LEFT JOIN records p ON p.id = d.value
    WHERE r.state = 'pending' AND (p.id IS NULL OR (p.state IN ('failed', 'dead') AND p.remote_id IS NULL))
    UNION
    SELECT r.id FROM records r CROSS JOIN LATERAL jsonb_array_elements_text(r.depends_on::jsonb) AS d(value)
      JOIN blocked b ON b.id = d.value JOIN records p ON p.id = b.id
    WHERE r.state = 'pending' AND p.remote_id IS NULL
  )
  SELECT COUNT(*) AS n FROM blocked JOIN records USING (id) WHERE destination = ANY($1::text[])`;
