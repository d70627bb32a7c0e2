import type { Run } from "../../model/types.js";
import { exitStatusFor } from "../common.js";
import { getPath } from "../lookup.js";
import { runQuantities } from "../quantities.js";
import { ICAT_LIMITS, type IcatParameterPayload } from "./payloads.js";
import { fitText } from "./text.js";

/**
 * The value of a configured run field. Known names read the model; `num_events.<stream>` reads a stream's
 * event count; anything else is a dotted path into the run's metadata (start document / runs.metadata).
 */
export function runFieldValue(run: Run, field: string): unknown {
  switch (field) {
    case "plan_name":
      return run.planName;
    case "exit_status":
      return exitStatusFor(run);
    case "num_events":
      return run.numEvents;
    case "scan_id":
      return run.scanId;
    case "operator":
      return run.operator;
    case "uid":
      return run.uid;
    case "reason":
      return run.reason;
    case "data_format":
      return run.dataFormat;
    default:
      break;
  }
  if (field.startsWith("num_events.")) {
    const stream = run.streams.find((s) => s.name === field.slice("num_events.".length));
    if (stream?.eventCount !== undefined) return stream.eventCount;
  }
  if (Object.prototype.hasOwnProperty.call(run.metadata, field)) return run.metadata[field];
  return getPath(run.metadata, field);
}

/**
 * DatasetParameters for the configured fields, sorted by (type, units), one per ParameterType — a duplicate
 * inside one request would roll back the whole request (icat-api.md §9.8). Values that are neither strings,
 * finite numbers nor booleans are left out.
 */
export function datasetParameters(run: Run, configured: Record<string, { type: string; units: string }>, quantities = false): IcatParameterPayload[] {
  const byType = new Map<string, IcatParameterPayload>();
  for (const field of Object.keys(configured).sort()) {
    const target = configured[field];
    if (!target) continue;
    const value = runFieldValue(run, field);
    let parameter: IcatParameterPayload | undefined;
    if (typeof value === "number" && Number.isFinite(value)) parameter = { field, type: target.type, units: target.units, numericValue: value };
    else if (typeof value === "string" && value.length > 0) parameter = { field, type: target.type, units: target.units, stringValue: fitText(value, ICAT_LIMITS.stringValue) };
    else if (typeof value === "boolean") parameter = { field, type: target.type, units: target.units, stringValue: String(value) };
    const typeKey = `${target.type}\u0000${target.units}`;
    if (parameter && !byType.has(typeKey)) byType.set(typeKey, parameter);
  }
  if (quantities) {
    for (const q of runQuantities(run)) {
      const units = q.unit ?? "N/A";
      const typeKey = `${q.name}\u0000${units}`;
      if (byType.has(typeKey)) continue;
      const value = typeof q.value === "number" ? { numericValue: q.value } : { stringValue: fitText(q.value, ICAT_LIMITS.stringValue) };
      byType.set(typeKey, { field: `quantity ${q.name}`, type: q.name, units, ...value, optional: true });
    }
  }
  return [...byType.values()].sort((a, b) => (a.type === b.type ? cmp(a.units, b.units) : cmp(a.type, b.type)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
