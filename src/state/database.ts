import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { migrate, type MigrationReport } from "./migrations.js";

export const STATE_FILE = "beamsync.sqlite";

export interface OpenedDatabase {
  db: Database.Database;
  file: string;
  migration: MigrationReport;
}

/**
 * Open (creating if needed) the daemon's own SQLite file. WAL lets the CLI read while the daemon writes;
 * a busy timeout makes the CLI and the daemon wait for each other's short transactions instead of failing.
 */
export function openDatabase(stateDir: string, options: { readonly?: boolean } = {}): OpenedDatabase {
  const file = path.join(stateDir, STATE_FILE);
  if (!options.readonly) fs.mkdirSync(stateDir, { recursive: true });
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  db.pragma("busy_timeout = 10000");
  if (!options.readonly) {
    db.pragma("journal_mode = WAL");
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    db.pragma("synchronous = NORMAL");
  }
  db.pragma("foreign_keys = ON");
  const migration = options.readonly
    ? { from: 0, to: 0, applied: [] }
    : migrate(db);
  return { db, file, migration };
}
