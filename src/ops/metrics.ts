import client from "prom-client";
import type { StateStore } from "../state/contract.js";
import type { AttemptEvent } from "../sync/worker.js";
import { VERSION } from "../version.js";

/**
 * Prometheus metrics. Gauges that describe the state store are collected on scrape (no bookkeeping to drift);
 * counters and histograms are fed by the worker's attempt events. Process and runtime metrics keep the Prometheus
 * client's own names (`process_*`, `nodejs_*`), so stock Node.js dashboards work unchanged.
 */
export interface Metrics {
  registry: client.Registry;
  recordAttempt(event: AttemptEvent, nowMs: number): void;
  recordScan(durationMs: number, nowMs: number): void;
}

/** Every state a record is counted in; each record is in exactly one, so a sum() over states is the total. */
export const RECORD_STATES = ["synced", "pending", "waiting", "failed", "dead"] as const;

export interface MetricsOptions {
  /** The configured catalogs: each gets every series from the start, at 0 until something happens. */
  destinations: () => readonly string[];
  destinationsDown: () => readonly string[];
}

export function createMetrics(store: StateStore, options: MetricsOptions): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  // Configured catalogs plus any that still have records from an earlier configuration.
  const knownDestinations = (extra: readonly string[] = []) => [...new Set([...options.destinations(), ...extra])].sort();

  new client.Gauge({
    name: "beamsync_build_info",
    help: "Always 1; the labels say which beamsync and which Node.js are running",
    labelNames: ["version", "node"] as const,
    registers: [registry],
  }).set({ version: VERSION, node: process.versions.node }, 1);

  new client.Gauge({
    name: "beamsync_records",
    help: "Records in the state store by destination and state; waiting = pending on a dependency not yet in the catalog, and not counted in pending",
    labelNames: ["destination", "state"] as const,
    registers: [registry],
    async collect() {
      const counts = await store.countsByState();
      const waiting = await store.waitingCounts();
      this.reset();
      for (const destination of knownDestinations(counts.map((r) => r.destination))) {
        for (const state of RECORD_STATES) this.set({ destination, state }, 0);
      }
      for (const row of counts) this.inc({ destination: row.destination, state: row.state }, row.n);
      for (const row of waiting) {
        this.inc({ destination: row.destination, state: "waiting" }, row.n);
        this.dec({ destination: row.destination, state: "pending" }, row.n);
      }
    },
  });
  new client.Gauge({
    name: "beamsync_oldest_pending_age_seconds",
    help: "Age of the oldest pending record (0 when none)",
    registers: [registry],
    async collect() {
      const oldest = await store.oldestPending();
      this.set(oldest ? Math.max(0, (Date.now() - (oldest.changed_at_ms ?? Date.parse(oldest.created_at))) / 1000) : 0);
    },
  });
  new client.Gauge({
    name: "beamsync_source_problems",
    help: "Source files that could not be read fully",
    registers: [registry],
    async collect() {
      this.set((await store.sourceProblems()).length);
    },
  });
  new client.Gauge({
    name: "beamsync_source_root_unreadable",
    help: "1 while a source cannot read the DATA root at all (a lost mount): nothing it holds is seen",
    labelNames: ["source"] as const,
    registers: [registry],
    async collect() {
      const problems = await store.sourceProblems();
      this.reset();
      for (const p of problems) if (p.path === ".") this.set({ source: p.source }, 1);
    },
  });
  new client.Gauge({
    name: "beamsync_destination_down",
    help: "1 while a catalog is considered down (pushes paused, health probed), else 0",
    labelNames: ["destination"] as const,
    registers: [registry],
    collect() {
      const down = new Set(options.destinationsDown());
      this.reset();
      for (const destination of knownDestinations()) this.set({ destination }, down.has(destination) ? 1 : 0);
    },
  });
  new client.Gauge({
    name: "beamsync_last_scan_timestamp_seconds",
    help: "Unix time of the last completed scan (full or of changed files), by this daemon or `beamsync sync`; 0 before the first",
    registers: [registry],
    async collect() {
      const lastScan = await store.getMeta("last_scan");
      this.set(lastScan ? Date.parse(lastScan) / 1000 : 0);
    },
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
    recordScan(durationMs) {
      scanDuration.observe(durationMs / 1000);
    },
  };
}
