import type Database from "better-sqlite3";
import type { MigrationReport } from "./contract.js";
import { migrateIdentityKeys } from "./identity-keys.js";

/**
 * Versioned schema migrations, applied in order inside one transaction each. `PRAGMA user_version` holds the
 * version reached; a state file from a newer beamsync is refused rather than guessed at.
 */
export interface Migration {
  version: number;
  name: string;
  up(db: Database.Database): void;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: "initial: sources, records (synced state + outbox), resync requests, upload_log, meta",
    up(db) {
      db.exec(`
        CREATE TABLE sources (
          source      TEXT NOT NULL,
          path        TEXT NOT NULL,
          size        INTEGER NOT NULL,
          mtime_ms    REAL NOT NULL,
          data        TEXT,
          problem     TEXT,
          retry       INTEGER NOT NULL DEFAULT 0,
          scanned_at  TEXT NOT NULL,
          PRIMARY KEY (source, path)
        );

        -- One row per record per destination: what was last synced (synced_hash, remote id) and,
        -- while there is work to do, the outbox entry (payload, attempts, next attempt, lease).
        CREATE TABLE records (
          id                 TEXT PRIMARY KEY,
          destination        TEXT NOT NULL,
          kind               TEXT NOT NULL,
          key                TEXT NOT NULL,
          session_identifier TEXT NOT NULL,
          run_uid            TEXT,
          beamtime_key       TEXT,
          state              TEXT NOT NULL CHECK (state IN ('pending', 'synced', 'failed', 'dead')),
          desired_hash       TEXT NOT NULL,
          synced_hash        TEXT,
          payload            TEXT,
          depends_on         TEXT NOT NULL DEFAULT '[]',
          remote_id          TEXT,
          remote_url         TEXT,
          attempts           INTEGER NOT NULL DEFAULT 0,
          next_attempt_at    INTEGER NOT NULL DEFAULT 0,
          lease_owner        TEXT,
          lease_until        INTEGER,
          last_error         TEXT,
          changed_at_ms      INTEGER,
          created_at         TEXT NOT NULL,
          updated_at         TEXT NOT NULL
        );
        CREATE INDEX records_due ON records (state, next_attempt_at);
        CREATE INDEX records_run ON records (run_uid);
        CREATE INDEX records_beamtime ON records (beamtime_key);
        CREATE INDEX records_destination_state ON records (destination, state);

        CREATE TABLE requests (
          id           INTEGER PRIMARY KEY,
          action       TEXT NOT NULL CHECK (action IN ('resync', 'retry')),
          scope        TEXT NOT NULL,
          requested_at TEXT NOT NULL,
          handled_at   TEXT,
          result       TEXT
        );

        CREATE TABLE upload_log (
          id                 INTEGER PRIMARY KEY,
          session_identifier TEXT NOT NULL,
          destination_name   TEXT NOT NULL,
          success            INTEGER NOT NULL,
          timestamp          TEXT NOT NULL,
          record_id          TEXT,
          record_url         TEXT,
          error_message      TEXT,
          metadata_json      TEXT
        );
        CREATE INDEX upload_log_session ON upload_log (session_identifier);
        CREATE INDEX upload_log_timestamp ON upload_log (timestamp);

        CREATE TABLE meta (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    name: "records remember what beamsync last wrote (curator edits survive updates) and the conflicts met",
    up(db) {
      db.exec(`
        -- JSON: the record's fields as beamsync last wrote them to the catalog (NULL: not known).
        ALTER TABLE records ADD COLUMN written TEXT;
        -- JSON: fields a curator changed in the catalog while the source changed them too (kept as the curator left them).
        ALTER TABLE records ADD COLUMN conflicts TEXT;
      `);
    },
  },
  {
    version: 3,
    name: "identity keys: beamtimes by their first run, samples inside their proposal; every source read once more",
    up: migrateIdentityKeys,
  },
  {
    version: 4,
    name: "workers: who works on the state (host, pid, heartbeat), and which worker made each upload attempt",
    up(db) {
      db.exec(`
        CREATE TABLE workers (
          id           TEXT PRIMARY KEY,
          host         TEXT NOT NULL,
          pid          INTEGER NOT NULL,
          started_at   TEXT NOT NULL,
          heartbeat_at TEXT NOT NULL,
          stopped_at   TEXT
        );
        ALTER TABLE upload_log ADD COLUMN worker TEXT;
      `);
    },
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]?.version ?? 0;


export class StateVersionError extends Error {
  constructor(readonly found: number) {
    super(
      `state store schema version ${found} is newer than this beamsync understands (${LATEST_VERSION}); ` +
        `upgrade beamsync or point stateDir at a fresh directory`,
    );
    this.name = "StateVersionError";
  }
}

export function migrate(db: Database.Database): MigrationReport {
  const from = db.pragma("user_version", { simple: true }) as number;
  if (from > LATEST_VERSION) throw new StateVersionError(from);
  const applied: string[] = [];
  for (const migration of migrations) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
    applied.push(`${migration.version}: ${migration.name}`);
  }
  return { from, to: Math.max(from, LATEST_VERSION), applied };
}
