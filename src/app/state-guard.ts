import fs from "node:fs";
import type { Logger } from "../ops/logger.js";
import { clearHeartbeat, writeHeartbeat } from "../ops/heartbeat.js";
import type { StateStore, WorkerIdentity } from "../state/contract.js";

/**
 * Keeps an eye on the daemon's own state file between passes: writes the heartbeat (a missed beat is harmless,
 * so it waits only briefly for a lock and never throws), and checks that the file it writes to is still the one
 * at stateDir. A state file deleted or replaced under the daemon would take every later write with it, so that
 * is the one condition that stops the daemon (with an error).
 *
 * The heartbeat is what tells `status`, `resync` and `retry` a daemon runs (src/ops/heartbeat.ts); only the daemon
 * writes one (a one-shot `sync` never does). On SQLite it is the meta row daemon_heartbeat, plus the worker's row
 * in the workers table for `status`'s list. On a shared PostgreSQL state it is the worker's row in the workers table
 * alone: one write per beat, where each daemon also overwriting one shared meta row (read by nobody there) made two.
 */
export class StateGuard {
  /** Why the last heartbeat write failed (locked, disk full), until one succeeds again. */
  lastWriteError: string | undefined;
  private readonly identity: { dev: number; ino: number } | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly logger: Logger,
    /** The daemon's worker, registered in the workers table with every beat. */
    private readonly worker: WorkerIdentity,
    private readonly briefWaitMs = 250,
  ) {
    this.identity = store.file === undefined ? undefined : fileIdentity(store.file);
  }

  /** Write the heartbeat; a failure is remembered and logged (once per streak), never thrown. */
  async beat(): Promise<boolean> {
    let ok: boolean;
    try {
      if (this.store.shared) await this.store.heartbeatWorker(this.worker, { waitMs: this.briefWaitMs });
      else await writeHeartbeat(this.store, { waitMs: this.briefWaitMs });
      if (this.lastWriteError) this.logger.info("state store writable again", { state: this.store.location });
      this.lastWriteError = undefined;
      ok = true;
    } catch (err) {
      const reason = `cannot write the state store ${this.store.location}: ${(err as Error).message}`;
      if (!this.lastWriteError) this.logger.warn("heartbeat not written; pushes wait for the state store", { state: this.store.location, error: (err as Error).message });
      this.lastWriteError = reason;
      ok = false;
    }
    // SQLite: the worker's row only feeds `status`'s list of workers; a missed one is not worth a warning.
    if (!this.store.shared) {
      await this.store.heartbeatWorker(this.worker, { waitMs: this.briefWaitMs }).catch((err: unknown) => this.logger.debug("worker heartbeat not written", { error: (err as Error).message }));
    }
    return ok;
  }

  /** The daemon is stopping: mark its worker stopped and (SQLite) clear daemon_heartbeat. Throws when it cannot. */
  async stop(): Promise<void> {
    if (!this.store.shared) await clearHeartbeat(this.store);
    await this.store.stopWorker(this.worker.id);
  }

  /** Why the state file at stateDir is no longer the one this process writes to; undefined while it is. */
  replacedOrRemoved(): string | undefined {
    if (!this.identity || this.store.file === undefined) return undefined;
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
