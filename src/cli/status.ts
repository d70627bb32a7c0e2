import { Command } from "commander";
import type { StateStore } from "../state/contract.js";
import { globalOptions, withStore } from "./context.js";
import { createOutput, formatAge, printJson, table } from "./output.js";
import { daemonStatus, workerState } from "../ops/heartbeat.js";
import type { FieldConflict } from "../destinations/contract.js";
import { conflictLine } from "./dry-run.js";
import { loadRunsGone } from "../sync/gone.js";

export type StateCounts = Record<string, { pending: number; waiting: number; synced: number; failed: number; dead: number }>;

export function summarizeCounts(rows: { destination: string; state: string; n: number }[], waiting: { destination: string; n: number }[] = []): StateCounts {
  const out: StateCounts = {};
  for (const row of rows) {
    const c = (out[row.destination] ??= { pending: 0, waiting: 0, synced: 0, failed: 0, dead: 0 });
    if (row.state === "pending" || row.state === "synced" || row.state === "failed" || row.state === "dead") c[row.state] = row.n;
  }
  for (const w of waiting) {
    const c = (out[w.destination] ??= { pending: 0, waiting: 0, synced: 0, failed: 0, dead: 0 });
    c.waiting = w.n;
  }
  return out;
}

function describeRunning(daemon: { pid?: number; ageMs?: number; workers?: number }): string {
  if (daemon.workers !== undefined) return `${daemon.workers} worker(s) running, last seen ${formatAge(daemon.ageMs ?? 0)} ago`;
  return `running (pid ${daemon.pid}, seen ${formatAge(daemon.ageMs ?? 0)} ago)`;
}

export async function collectStatus(store: StateStore, nowMs = Date.now()) {
  const records = summarizeCounts(await store.countsByState(), await store.waitingCounts());
  const oldest = await store.oldestPending();
  const lastReconcile = await store.getMeta("last_reconcile");
  return {
    records,
    oldestPending: oldest
      ? {
          record: oldest.id,
          destination: oldest.destination,
          since: new Date(oldest.changed_at_ms ?? Date.parse(oldest.created_at)).toISOString(),
          ageSeconds: Math.round((nowMs - (oldest.changed_at_ms ?? Date.parse(oldest.created_at))) / 1000),
          lastError: oldest.last_error,
        }
      : null,
    lastScan: (await store.getMeta("last_scan")) ?? null,
    lastReconcile: lastReconcile ? (JSON.parse(lastReconcile) as unknown) : null,
    sources: await store.sourceSummary(),
    sourceProblems: await store.sourceProblems(),
    recentFailures: (await store.recentFailures(10)).map((r) => ({
      record: r.id,
      destination: r.destination,
      state: r.state,
      attempts: r.attempts,
      at: r.updated_at,
      reason: r.last_error,
    })),
    conflicts: {
      records: await store.countConflicted(),
      recent: (await store.conflicted(10)).map((r) => ({ record: r.id, at: r.updated_at, fields: JSON.parse(r.conflicts ?? "[]") as FieldConflict[] })),
    },
    daemon: await daemonStatus(store, nowMs),
    /**
     * Daemons (`beamsync run`) that worked on this state lately: host, pid, last heartbeat (several with a shared
     * PostgreSQL state). One-shot commands (`sync`, a `resync` without a daemon) do not register, so they are not listed.
     */
    workers: (await store.workers()).map((w) => ({
      id: w.id,
      host: w.host,
      pid: w.pid,
      startedAt: w.started_at,
      lastSeen: w.heartbeat_at,
      state: workerState(w, nowMs),
    })),
    /** Runs in the catalogs whose beamtime DB no longer lists them (the catalogs keep them). */
    runsGone: await loadRunsGone(store),
  };
}

export function statusCommand(): Command {
  return new Command("status")
    .description("records per destination and state, oldest pending, last scan, unreadable sources, runs gone from their beamtime DB, recent failures, the workers on this state; exits 2 when there is no state store yet")
    .addHelpText("after", "\nExamples:\n  beamsync status\n  beamsync status --json | jq .records")
    .action(async (_opts, command: Command) => {
      const options = globalOptions(command);
      const out = createOutput(options.json ?? false);
      await withStore(options, async (store) => {
        const status = await collectStatus(store);
        if (out.json) return printJson(out, status);
        const dests = Object.entries(status.records);
        out.write(
          dests.length === 0
            ? "no records yet: run `beamsync sync` or start the daemon"
            : table(
                ["destination", "synced", "pending", "waiting", "failed", "dead"],
                dests.map(([d, c]) => [d, c.synced, c.pending - c.waiting, c.waiting, c.failed, c.dead]),
              ),
        );
        out.write("");
        out.write(`daemon: ${status.daemon.running ? describeRunning(status.daemon) : "not running"}`);
        const recent = status.workers.filter((w) => w.state !== "stopped");
        if (recent.length > 0 && (status.workers.length > 1 || status.daemon.workers !== undefined)) {
          out.write(table(["worker", "host", "pid", "state", "started", "last seen"], recent.map((w) => [w.id, w.host, w.pid, w.state, w.startedAt, w.lastSeen])));
        }
        out.write(`last scan: ${status.lastScan ?? "never"}`);
        if (status.oldestPending) {
          out.write(`oldest pending: ${status.oldestPending.record} (${formatAge(status.oldestPending.ageSeconds * 1000)})${status.oldestPending.lastError ? ` — ${status.oldestPending.lastError}` : ""}`);
        }
        if (status.sources.length) {
          out.write("");
          out.write(table(["source", "files", "problems", "last scanned"], status.sources.map((s) => [s.source, s.files, s.problems, s.last_scanned])));
        }
        if (status.sourceProblems.length) {
          out.write("\nsources that could not be read:");
          out.write(table(["source", "path", "reason"], status.sourceProblems.map((p) => [p.source, p.path, `${p.problem}${p.retry ? " (will retry)" : ""}`]), 100));
        }
        if (status.runsGone.length) {
          out.write("\nruns in the catalogs that their beamtime DB no longer lists (kept there; remove them by hand if they should go):");
          out.write(table(["beamtime", "run", "records"], status.runsGone.map((g) => [g.path ?? g.beamtime, g.runUid, g.records.join(", ")]), 100));
        }
        if (status.recentFailures.length) {
          out.write("\nrecent failures:");
          out.write(table(["record", "state", "attempts", "at", "reason"], status.recentFailures.map((f) => [f.record, f.state, f.attempts, f.at, f.reason]), 100));
        }
        if (status.conflicts.records > 0) {
          out.write(`\n${status.conflicts.records} record(s) keep a curator's edit that the source has changed too:`);
          for (const r of status.conflicts.recent) for (const f of r.fields) out.write(conflictLine(r.record, f, "kept"));
        }
      });
    });
}
