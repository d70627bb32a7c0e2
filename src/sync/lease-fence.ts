import { AsyncLocalStorage } from "node:async_hooks";
import { SyncError } from "./errors.js";

/**
 * Another worker may have taken a record over while this one pushed it: its lease ran out (the process was
 * frozen, or cut off from the shared state) or was taken. The push stops before its next write to the catalog,
 * and no outcome is recorded: the record is the other worker's now.
 */
export class LeaseLostError extends SyncError {
  readonly kind = "transient" as const;
}

/** Leases are given up this long before they run out, so a write never starts on a lease about to lapse. */
const SAFETY_MS = 1000;

/** The lease of one record being pushed, as this process knows it. */
export class LeaseFence {
  private lost = false;

  constructor(
    readonly recordId: string,
    private until: number,
    private readonly now: () => number = Date.now,
  ) {}

  renewed(until: number): void {
    this.until = until;
  }

  /** Renewal found the record leased by another worker. */
  markLost(): void {
    this.lost = true;
  }

  /** Throws when this process may no longer write for the record. */
  check(action: string): void {
    if (this.lost) throw new LeaseLostError(`${this.recordId}: another worker took this record over; ${action} not sent`);
    if (this.now() > this.until - SAFETY_MS) throw new LeaseLostError(`${this.recordId}: the lease ran out while pushing (the process was stopped or cut off from the state); ${action} not sent`);
  }
}

const current = new AsyncLocalStorage<LeaseFence>();

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Whether a request with this method writes to the catalog, and so must hold its record's lease. */
export function isWrite(method: string | undefined): boolean {
  return WRITES.has((method ?? "GET").toUpperCase());
}

/** Run a push under its fence: every catalog write made inside checks it first (see createCatalogClient). */
export function withLeaseFence<T>(fence: LeaseFence, fn: () => Promise<T>): Promise<T> {
  return current.run(fence, fn);
}

/**
 * Run `fn` outside any push's fence: a login or session refresh serves every push, so one push's lost lease
 * must not stop it (nor fail the pushes that share it).
 */
export function outsideLeaseFence<T>(fn: () => T): T {
  return current.exit(fn);
}

/** The fence of the push this code runs for, if any (the transports check it again as a write leaves). */
export function currentLeaseFence(): LeaseFence | undefined {
  return current.getStore();
}

/** Called before each write to a catalog; outside a fenced push (CLI checks, dry-run) it does nothing. */
export function checkLeaseFence(action: string): void {
  current.getStore()?.check(action);
}
