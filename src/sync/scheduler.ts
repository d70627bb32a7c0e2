import cron from "node-cron";
import type { Logger } from "../ops/logger.js";

export interface ReconcileRequest {
  changedPaths?: Set<string> | undefined;
  /** A full pass (schedule, start-up): every source is examined, watermarks still apply. */
  full?: boolean;
  /** Handle operator requests (resync, retry) written by the CLI. */
  requests?: boolean;
}

/**
 * Serialises reconcile passes: the watcher, the schedule and operator requests may all ask at once; one pass
 * runs at a time and requests arriving meanwhile are merged into the next pass.
 */
export class ReconcileQueue {
  private running: Promise<void> | undefined;
  private next: ReconcileRequest | undefined;
  private closed = false;

  constructor(
    private readonly run: (request: ReconcileRequest) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  request(request: ReconcileRequest): void {
    if (this.closed) return;
    this.next = merge(this.next, request);
    if (!this.running) this.running = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.next && !this.closed) {
      const current = this.next;
      this.next = undefined;
      try {
        await this.run(current);
      } catch (err) {
        this.logger.error("reconcile failed", { error: (err as Error).message });
      }
    }
    this.running = undefined;
  }

  /** Wait for the pass in progress; accept no more. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}

function merge(a: ReconcileRequest | undefined, b: ReconcileRequest): ReconcileRequest {
  if (!a) return { ...b, changedPaths: b.changedPaths ? new Set(b.changedPaths) : undefined };
  const full = (a.full ?? false) || (b.full ?? false);
  const requests = (a.requests ?? false) || (b.requests ?? false);
  const changedPaths = new Set([...(a.changedPaths ?? []), ...(b.changedPaths ?? [])]);
  return { full, requests, changedPaths: changedPaths.size > 0 ? changedPaths : undefined };
}

/** Safety net for missed file events: a full reconcile on the configured cron schedule. */
export function scheduleReconcile(expression: string, queue: ReconcileQueue): { stop(): void } {
  const task = cron.schedule(expression, () => queue.request({ full: true }), { noOverlap: true, name: "reconcile" });
  return {
    stop: () => {
      void task.stop();
      void task.destroy();
    },
  };
}

export function isValidCron(expression: string): boolean {
  return cron.validate(expression);
}
