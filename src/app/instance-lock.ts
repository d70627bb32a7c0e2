import fs from "node:fs";
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { Database } from "../sqlite.js";
import { StateFileError, UsageError } from "../sync/errors.js";

const LOCK_FILE = "beamsync.lock";
const PID_FILE = "beamsync.pid";

/** Another `beamsync run` already works on this stateDir: exit 2, naming it. */
export class StateDirInUseError extends UsageError {
  constructor(
    stateDir: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      `stateDir ${stateDir} is in use by another beamsync run${holderPid ? ` (pid ${holderPid})` : ""}; ` +
        "stop it first, or give this one its own stateDir. One-shot commands (sync, status, resync, retry) may run beside it.",
    );
    this.name = "StateDirInUseError";
  }
}

export interface InstanceLock {
  release(): void;
}

/**
 * One daemon per stateDir. The lock is SQLite's own (an fcntl lock on `beamsync.lock` held by an open
 * exclusive transaction): the kernel drops it when the process ends in any way, kill -9 included, so a
 * crashed daemon never leaves a stale lock behind. The holder's pid is written beside it for the message.
 */
export function lockStateDir(stateDir: string): InstanceLock {
  const lockFile = path.join(stateDir, LOCK_FILE);
  const pidFile = path.join(stateDir, PID_FILE);
  let db: BetterSqlite3.Database;
  try {
    db = new Database(lockFile, { timeout: 0 });
  } catch (err) {
    throw new StateFileError(`cannot create the lock file ${lockFile} (${(err as Error).message}); give the beamsync user write access to stateDir`);
  }
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) throw new StateDirInUseError(stateDir, readPid(pidFile));
    throw err;
  }
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  return {
    release() {
      if (readPid(pidFile) === process.pid) fs.rmSync(pidFile, { force: true });
      if (db.open) db.close();
    },
  };
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
