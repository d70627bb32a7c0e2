import client from "prom-client";
import type { StateStore } from "../state/store.js";
import type { AttemptEvent } from "../sync/worker.js";

/**
 * Prometheus metrics. Gauges that describe the state store are collected on scrape (no bookkeeping to drift);
 * counters and histograms are fed by the worker's attempt events.
 */
export interface Metrics {
  registry: client.Registry;
  recordAttempt(event: AttemptEvent, nowMs: number): void;
  recordScan(durationMs: number, nowMs: number): void;
}

export function createMetrics(store: StateStore, options: { destinationsDown: () => string[] }): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "beamsync_process_" });

  new client.Gauge({
    name: "beamsync_records",
    help: "Records in the state store by destination and state (waiting = pending on a dependency)",
    labelNames: ["destination", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const row of store.countsByState()) this.set({ destination: row.destination, state: row.state }, row.n);
      for (const row of store.waitingCounts()) this.set({ destination: row.destination, state: "waiting" }, row.n);
    },
  });
  new client.Gauge({
    name: "beamsync_oldest_pending_age_seconds",
    help: "Age of the oldest pending record (0 when none)",
    registers: [registry],
    collect() {
      const oldest = store.oldestPending();
      this.set(oldest ? Math.max(0, (Date.now() - (oldest.changed_at_ms ?? Date.parse(oldest.created_at))) / 1000) : 0);
    },
  });
  new client.Gauge({
    name: "beamsync_source_problems",
    help: "Source files that could not be read fully",
    registers: [registry],
    collect() {
      this.set(store.sourceProblems().length);
    },
  });
  new client.Gauge({
    name: "beamsync_source_root_unreadable",
    help: "1 while a source cannot read the DATA root at all (a lost mount): nothing it holds is seen",
    labelNames: ["source"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of store.sourceProblems()) if (p.path === ".") this.set({ source: p.source }, 1);
    },
  });
  new client.Gauge({
    name: "beamsync_destination_down",
    help: "1 while a catalog is considered down (pushes paused, health probed)",
    labelNames: ["destination"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const name of options.destinationsDown()) this.set({ destination: name }, 1);
    },
  });
  const lastScan = new client.Gauge({
    name: "beamsync_last_scan_timestamp_seconds",
    help: "Unix time of the last completed scan",
    registers: [registry],
  });
  const scanDuration = new client.Histogram({
    name: "beamsync_scan_duration_seconds",
    help: "Duration of scan + reconcile passes",
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  });
  const attempts = new client.Counter({
    name: "beamsync_attempts_total",
    help: "Upload attempts by destination, kind and outcome",
    labelNames: ["destination", "kind", "outcome"] as const,
    registers: [registry],
  });
  const pushDuration = new client.Histogram({
    name: "beamsync_push_duration_seconds",
    help: "Duration of one push of one record",
    labelNames: ["destination"] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const changeToCatalog = new client.Histogram({
    name: "beamsync_change_to_catalog_seconds",
    help: "Time from reconciling a source change to the record being in the catalog",
    labelNames: ["destination", "kind"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });

  return {
    registry,
    recordAttempt(event, nowMs) {
      attempts.inc({ destination: event.destination, kind: event.kind, outcome: event.outcome });
      pushDuration.observe({ destination: event.destination }, event.durationMs / 1000);
      if (event.outcome === "success" && event.changedAtMs !== null) {
        changeToCatalog.observe({ destination: event.destination, kind: event.kind }, Math.max(0, nowMs - event.changedAtMs) / 1000);
      }
    },
    recordScan(durationMs, nowMs) {
      lastScan.set(nowMs / 1000);
      scanDuration.observe(durationMs / 1000);
    },
  };
}
