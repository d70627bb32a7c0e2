import fs from "node:fs";
import path from "node:path";

/** A demo run other than the first: its scan id (which makes its uids and file names) and start-document fields. */
export interface DemoRunOptions {
  scanId: number;
  start: Record<string, unknown>;
}

/**
 * One small bluesky run as line-delimited `[name, doc]` JSON, the way a document writer leaves it: a start, a
 * descriptor, three events, a resource whose file sits beside it, and a stop.
 */
export function writeDemoBlueskyRun(dir: string, options?: DemoRunOptions): string {
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.parse("2026-03-06T10:00:00Z") / 1000 + (options ? options.scanId * 60 : 0);
  // The first run keeps the uids it always had; another one's carry its scan id.
  const n = options ? String(options.scanId).padStart(4, "0") : undefined;
  const start = n ? `5f1d${n}-7f32-4c3e-9d0c-2a6b8f1e9a01` : "5f1d0e46-7f32-4c3e-9d0c-2a6b8f1e9a01";
  const descriptor = n ? `a7c2${n}-3b4e-4f5a-8c6d-1e2f3a4b5c6d` : "a7c2f9d1-3b4e-4f5a-8c6d-1e2f3a4b5c6d";
  const resource = n ? `c0ff${n}-1111-4222-8333-444455556666` : "c0ffee00-1111-4222-8333-444455556666";
  const scanId = options?.scanId ?? 42;
  fs.writeFileSync(path.join(dir, `scan_${scanId}_image.h5`), Buffer.alloc(4096));
  const startDoc = options ? { uid: start, time: t0, scan_id: scanId, plan_name: "count", beamline_id: "demo-beamline", detectors: ["det"], ...options.start } : { uid: start, time: t0, scan_id: 42, plan_name: "count", proposal_id: "DEMO-002", sample_name: "LaB6", beamline_id: "demo-beamline", owner: "Katherine Johnson", detectors: ["det"] };
  const docs: [string, Record<string, unknown>][] = [
    ["start", startDoc],
    ["descriptor", { uid: descriptor, run_start: start, time: t0 + 1, name: "primary", data_keys: { det: { dtype: "number", shape: [], source: "SIM:det", units: "counts" }, image: { dtype: "array", shape: [8, 8], source: "SIM:cam", external: "FILESTORE:" } }, configuration: {}, object_keys: { det: ["det"] } }],
    ["resource", { uid: resource, run_start: start, spec: "AD_HDF5", root: dir, resource_path: `scan_${scanId}_image.h5`, resource_kwargs: {}, path_semantics: "posix" }],
    ...[1, 2, 3].map((seq): [string, Record<string, unknown>] => ["event", { uid: `e000${n ?? "0000"}-0000-4000-8000-00000000000${seq}`, descriptor, time: t0 + 1 + seq, seq_num: seq, data: { det: seq * 10 }, timestamps: { det: t0 + 1 + seq }, filled: {} }]),
    ["stop", { uid: `d0d0${n ?? "d0d0"}-0000-4000-8000-000000000000`, run_start: start, time: t0 + 10, exit_status: "success", reason: "", num_events: { primary: 3 } }],
  ];
  const file = path.join(dir, `scan_${scanId}.jsonl`);
  fs.writeFileSync(file, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
  return file;
}
