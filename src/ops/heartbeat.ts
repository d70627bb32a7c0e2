import type { StateStore, WorkerRow } from "../state/contract.js";

/**
 * A running daemon (`beamsync run`) writes a heartbeat into the state store, so CLI commands know whether it will
 * pick work up (src/app/state-guard.ts): on SQLite the meta row daemon_heartbeat (and its worker's row in the
 * workers table, which `status` lists), on a shared PostgreSQL state its worker's row in the workers table alone.
 * One-shot commands (`sync`, and `resync`/`register` pushing without a daemon) write neither, so they never count
 * as a daemon: a `resync` or `retry` while one runs does the work itself rather than queue a request that nobody
 * would handle.
 */
const KEY = "daemon_heartbeat";
export const HEARTBEAT_INTERVAL_MS = 2000;
const STALE_AFTER_MS = 15_000;

export async function writeHeartbeat(store: StateStore, options: { waitMs?: number } = {}, nowMs = Date.now()): Promise<void> {
  await store.setMeta(KEY, JSON.stringify({ pid: process.pid, at: nowMs }), options);
}

export async function clearHeartbeat(store: StateStore): Promise<void> {
  await store.setMeta(KEY, JSON.stringify({ pid: null, at: 0 }));
}

export async function daemonStatus(store: StateStore, nowMs = Date.now()): Promise<{ running: boolean; pid?: number; ageMs?: number; workers?: number }> {
  // Workers on other hosts share a PostgreSQL state: their pids mean nothing here, their heartbeats do (and a
  // single meta row could name only one of them, so they do not write daemon_heartbeat there).
  if (store.shared) return sharedStatus(store, nowMs);
  const raw = await store.getMeta(KEY);
  if (!raw) return { running: false };
  const beat = JSON.parse(raw) as { pid: number | null; at: number };
  if (!beat.pid) return { running: false };
  const ageMs = nowMs - beat.at;
  return { running: ageMs < STALE_AFTER_MS && pidAlive(beat.pid), pid: beat.pid, ageMs };
}

/**
 * A daemon's worker (the only kind in the workers table) that stopped, one whose heartbeat is recent, or one silent
 * past STALE_AFTER_MS (killed, frozen, cut off).
 */
export function workerState(worker: WorkerRow, nowMs: number): "stopped" | "running" | "silent" {
  if (worker.stopped_at) return "stopped";
  return nowMs - Date.parse(worker.heartbeat_at) < STALE_AFTER_MS ? "running" : "silent";
}

/** The daemons on a shared state: the workers table's rows heartbeating now (one-shot commands write none). */
async function sharedStatus(store: StateStore, nowMs: number): Promise<{ running: boolean; ageMs?: number; workers: number }> {
  const live = (await store.workers()).filter((w) => workerState(w, nowMs) === "running");
  if (live.length === 0) return { running: false, workers: 0 };
  return { running: true, ageMs: Math.min(...live.map((w) => nowMs - Date.parse(w.heartbeat_at))), workers: live.length };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
