import type { StateStore } from "../state/store.js";

/** A running daemon writes a heartbeat into the state store, so CLI commands know whether it will pick work up. */
const KEY = "daemon_heartbeat";
export const HEARTBEAT_INTERVAL_MS = 2000;
const STALE_AFTER_MS = 15_000;

export function writeHeartbeat(store: StateStore, nowMs = Date.now()): void {
  store.setMeta(KEY, JSON.stringify({ pid: process.pid, at: nowMs }));
}

export function clearHeartbeat(store: StateStore): void {
  store.setMeta(KEY, JSON.stringify({ pid: null, at: 0 }));
}

export function daemonStatus(store: StateStore, nowMs = Date.now()): { running: boolean; pid?: number; ageMs?: number } {
  const raw = store.getMeta(KEY);
  if (!raw) return { running: false };
  const beat = JSON.parse(raw) as { pid: number | null; at: number };
  if (!beat.pid) return { running: false };
  const ageMs = nowMs - beat.at;
  return { running: ageMs < STALE_AFTER_MS && pidAlive(beat.pid), pid: beat.pid, ageMs };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
