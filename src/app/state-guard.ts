import fs from "node:fs";
import type { Logger } from "../ops/logger.js";
import { writeHeartbeat } from "../ops/heartbeat.js";
import type { StateStore } from "../state/store.js";

/**
 * Keeps an eye on the daemon's own state file between passes: writes the heartbeat (a missed beat is harmless,
 * so it waits only briefly for a lock and never throws), and checks that the file it writes to is still the one
 * at stateDir. A state file deleted or replaced under the daemon would take every later write with it, so that
 * is the one condition that stops the daemon (with an error).
 */
export class StateGuard {
  /** Why the last heartbeat write failed (locked, disk full), until one succeeds again. */
  lastWriteError: string | undefined;
  private readonly identity: { dev: number; ino: number } | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly logger: Logger,
    private readonly briefWaitMs = 250,
  ) {
    this.identity = fileIdentity(store.file);
  }

  /** Write the heartbeat; a failure is remembered and logged (once per streak), never thrown. */
  beat(): boolean {
    try {
      withBusyTimeout(this.store, this.briefWaitMs, () => writeHeartbeat(this.store));
      if (this.lastWriteError) this.logger.info("state store writable again", { file: this.store.file });
      this.lastWriteError = undefined;
      return true;
    } catch (err) {
      const reason = `cannot write the state store ${this.store.file}: ${(err as Error).message}`;
      if (!this.lastWriteError) this.logger.warn("heartbeat not written; pushes wait for the state store", { file: this.store.file, error: (err as Error).message });
      this.lastWriteError = reason;
      return false;
    }
  }

  /** Why the state file at stateDir is no longer the one this process writes to; undefined while it is. */
  replacedOrRemoved(): string | undefined {
    if (!this.identity) return undefined;
    const now = fileIdentity(this.store.file);
    if (!now) return `state file ${this.store.file} was removed while beamsync was running; what it held since is lost with it`;
    if (now.dev !== this.identity.dev || now.ino !== this.identity.ino) return `state file ${this.store.file} was replaced by another file while beamsync was running`;
    return undefined;
  }
}

function fileIdentity(file: string): { dev: number; ino: number } | undefined {
  try {
    const st = fs.statSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** Run `fn` with the connection's lock wait shortened (better-sqlite3 is synchronous, so nothing else interleaves). */
function withBusyTimeout<T>(store: StateStore, ms: number, fn: () => T): T {
  const previous = store.db.pragma("busy_timeout", { simple: true }) as number;
  store.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
  try {
    return fn();
  } finally {
    store.db.pragma(`busy_timeout = ${previous}`);
  }
}
