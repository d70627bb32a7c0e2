import fs from "node:fs";
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { Database } from "../sqlite.js";
import { StateFileError } from "../sync/errors.js";
import type { MigrationReport } from "./contract.js";
import { LATEST_VERSION, migrate } from "./migrations.js";

export const STATE_FILE = "beamsync.sqlite";

export interface OpenedDatabase {
  db: BetterSqlite3.Database;
  file: string;
  migration: MigrationReport;
}

/**
 * Open (creating if needed) the daemon's own SQLite file. WAL lets the CLI read while the daemon writes;
 * a busy timeout makes the CLI and the daemon wait for each other's short transactions instead of failing.
 * `mustExist`: commands that only look (status, log) never create a store, so a mistyped stateDir says so.
 */
export function openDatabase(stateDir: string, options: { readonly?: boolean; mustExist?: boolean; busyTimeoutMs?: number } = {}): OpenedDatabase {
  const file = path.join(stateDir, STATE_FILE);
  const mustExist = (options.readonly ?? false) || (options.mustExist ?? false);
  if (mustExist && !fs.existsSync(file)) {
    throw new StateFileError(`no state store at ${file}: beamsync has not run with this stateDir yet (check stateDir; \`beamsync sync\` or \`beamsync run\` creates it)`);
  }
  if (!mustExist) ensureStateDir(stateDir);
  let db: BetterSqlite3.Database;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: mustExist });
  } catch (err) {
    throw new StateFileError(`cannot open the state store ${file} (${describeOpenError(err, stateDir)})`);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
      db.pragma("synchronous = NORMAL");
      // Copy the WAL into the database every 10,000 pages (40 MB), not SQLite's 1,000: a record's row and index
      // pages change several times during a sync (queued, leased, synced), and each checkpoint writes them out
      // again. A third less commit CPU in the cold-sync benchmark. The WAL file is cut back to 64 MB after one.
      db.pragma("wal_autocheckpoint = 10000");
      db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    }
    db.pragma("foreign_keys = ON");
    const migration = options.readonly ? { from: 0, to: 0, applied: [] } : migrateAlone(db);
    return { db, file, migration };
  } catch (err) {
    db.close();
    const code = (err as { code?: unknown }).code;
    if (code === "SQLITE_NOTADB" || (typeof code === "string" && code.startsWith("SQLITE_CORRUPT"))) {
      throw new StateFileError(`the state store ${file} is not a usable SQLite database (${(err as Error).message}); move it aside and let beamsync start a new one, or point stateDir elsewhere`);
    }
    if (typeof code === "string" && (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM")) {
      throw new StateFileError(`cannot write the state store ${file} (${describeOpenError(err, stateDir)})`);
    }
    throw err;
  }
}

/** Create stateDir if needed, with errors that name it and say what is wrong. */
export function ensureStateDir(stateDir: string): void {
  try {
    fs.mkdirSync(stateDir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOTDIR") throw new StateFileError(`stateDir ${stateDir} is not a directory (a file is in its place or in its path); point stateDir at a directory`);
    throw new StateFileError(`cannot create stateDir ${stateDir} (${code ?? String(err)}); create it and give the beamsync user write access (systemd: StateDirectory=beamsync)`);
  }
}

/** SQLite says "unable to open database file" for most causes; the file system names the real one. */
function describeOpenError(err: unknown, stateDir: string): string {
  try {
    fs.accessSync(stateDir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (accessErr) {
    return `stateDir ${stateDir} is not writable by this user (${(accessErr as NodeJS.ErrnoException).code}); give the beamsync user write access`;
  }
  return (err as Error).message;
}

/**
 * Migrate under the write lock when there is anything to do: `run` and `sync` started together on a new
 * stateDir would otherwise both see version 0 and the second fail with "table sources already exists".
 * Inside the IMMEDIATE transaction, migrate's own transactions become savepoints and it reads the version anew.
 */
function migrateAlone(db: BetterSqlite3.Database): MigrationReport {
  if ((db.pragma("user_version", { simple: true }) as number) >= LATEST_VERSION) return migrate(db);
  return db.transaction(() => migrate(db)).immediate();
}
