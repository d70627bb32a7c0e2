import fs from "node:fs";
import type { Logger } from "../ops/logger.js";
import { writeHeartbeat } from "../ops/heartbeat.js";
import type { StateStore } from "../state/contract.js";

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
    this.identity = store.file === undefined ? undefined : fileIdentity(store.file);
  }

  /** Write the heartbeat; a failure is remembered and logged (once per streak), never thrown. */
  async beat(): Promise<boolean> {
    try {
      await writeHeartbeat(this.store, { waitMs: this.briefWaitMs });
      if (this.lastWriteError) this.logger.info("state store writable again", { state: this.store.location });
      this.lastWriteError = undefined;
      return true;
    } catch (err) {
      const reason = `cannot write the state store ${this.store.location}: ${(err as Error).message}`;
      if (!this.lastWriteError) this.logger.warn("heartbeat not written; pushes wait for the state store", { state: this.store.location, error: (err as Error).message });
      this.lastWriteError = reason;
      return false;
    }
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
