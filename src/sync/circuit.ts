import type { DestinationName } from "../mapping/record.js";

/**
 * Per-destination circuit breaker. After `threshold` transient failures in a row the destination is "down":
 * the worker stops leasing its records and only probes its health, with growing intervals, until it answers.
 */
export interface CircuitOptions {
  threshold: number;
  probeBaseMs: number;
  probeMaxMs: number;
}

interface CircuitState {
  consecutiveFailures: number;
  open: boolean;
  openedAt: number;
  nextProbeAt: number;
  probes: number;
  /** The failure that opened it, for /readyz and logs. */
  reason: string | undefined;
}

export class CircuitBreaker {
  private readonly states = new Map<DestinationName, CircuitState>();

  constructor(private readonly options: CircuitOptions) {}

  private state(name: DestinationName): CircuitState {
    let s = this.states.get(name);
    if (!s) {
      s = { consecutiveFailures: 0, open: false, openedAt: 0, nextProbeAt: 0, probes: 0, reason: undefined };
      this.states.set(name, s);
    }
    return s;
  }

  isOpen(name: DestinationName): boolean {
    return this.state(name).open;
  }

  /** A push succeeded (or failed for a reason that proves the catalog is answering). */
  success(name: DestinationName): void {
    const s = this.state(name);
    s.consecutiveFailures = 0;
    s.open = false;
    s.probes = 0;
    s.reason = undefined;
  }

  /** A transient failure; returns true when this one opened the circuit. */
  failure(name: DestinationName, nowMs: number, reason?: string): boolean {
    const s = this.state(name);
    s.consecutiveFailures++;
    if (!s.open && s.consecutiveFailures >= this.options.threshold) {
      this.open(s, nowMs, reason);
      return true;
    }
    return false;
  }

  /** A failure of the whole catalog (its login refused): open at once; returns true when this one opened it. */
  trip(name: DestinationName, nowMs: number, reason: string): boolean {
    const s = this.state(name);
    s.consecutiveFailures++;
    if (s.open) return false;
    this.open(s, nowMs, reason);
    return true;
  }

  private open(s: CircuitState, nowMs: number, reason: string | undefined): void {
    s.open = true;
    s.openedAt = nowMs;
    s.probes = 0;
    s.nextProbeAt = nowMs + this.options.probeBaseMs;
    s.reason = reason;
  }

  /** Why the destination counts as down (undefined while it is up). */
  reason(name: DestinationName): string | undefined {
    const s = this.state(name);
    return s.open ? s.reason : undefined;
  }

  probeDue(name: DestinationName, nowMs: number): boolean {
    const s = this.state(name);
    return s.open && nowMs >= s.nextProbeAt;
  }

  /** A health probe failed: wait longer before the next one. */
  probeFailed(name: DestinationName, nowMs: number, reason?: string): void {
    const s = this.state(name);
    s.probes++;
    if (reason) s.reason = reason;
    s.nextProbeAt = nowMs + Math.min(this.options.probeMaxMs, this.options.probeBaseMs * 2 ** s.probes);
  }

  probes(name: DestinationName): number {
    return this.state(name).probes;
  }

  nextProbeAt(name: DestinationName): number | undefined {
    const s = this.state(name);
    return s.open ? s.nextProbeAt : undefined;
  }

  openSince(name: DestinationName): number | undefined {
    const s = this.state(name);
    return s.open ? s.openedAt : undefined;
  }
}
