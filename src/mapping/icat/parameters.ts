import type { Run, Sample } from "../../model/types.js";
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

type ParameterTargets = Record<string, { type: string; units: string }>;

/** A field's value as a parameter of the target type; values that are neither strings, finite numbers nor booleans give none. */
function parameterOf(field: string, target: { type: string; units: string }, value: unknown, optional = false): IcatParameterPayload | undefined {
  const base = { field, type: target.type, units: target.units, ...(optional ? { optional } : {}) };
  if (typeof value === "number" && Number.isFinite(value)) return { ...base, numericValue: value };
  if (typeof value === "string" && value.length > 0) return { ...base, stringValue: fitText(value, ICAT_LIMITS.stringValue) };
  if (typeof value === "boolean") return { ...base, stringValue: String(value) };
  return undefined;
}

/**
 * Parameters of one parent (a Dataset, a Sample), one per ParameterType — a duplicate inside one request would
 * roll back the whole request (icat-api.md §9.8): the configured fields first (by field name), then the extra
 * ones where their type is still free. Sorted by (type, units).
 */
function parametersFor(valueOf: (field: string) => unknown, configured: ParameterTargets, extra: IcatParameterPayload[] = []): IcatParameterPayload[] {
  const byType = new Map<string, IcatParameterPayload>();
  const add = (parameter: IcatParameterPayload | undefined) => {
    const typeKey = parameter ? `${parameter.type}\u0000${parameter.units}` : "";
    if (parameter && !byType.has(typeKey)) byType.set(typeKey, parameter);
  };
  for (const field of Object.keys(configured).sort()) {
    const target = configured[field];
    if (target) add(parameterOf(field, target, valueOf(field)));
  }
  extra.forEach(add);
  return [...byType.values()].sort((a, b) => (a.type === b.type ? cmp(a.units, b.units) : cmp(a.type, b.type)));
}

/** DatasetParameters for the configured run fields and, with `quantities`, the run's quantities (optional ones). */
export function datasetParameters(run: Run, configured: ParameterTargets, quantities = false): IcatParameterPayload[] {
  const extra = quantities
    ? runQuantities(run).map((q) => parameterOf(`quantity ${q.name}`, { type: q.name, units: q.unit ?? "N/A" }, q.value, true)).filter((p): p is IcatParameterPayload => p !== undefined)
    : [];
  return parametersFor((field) => runFieldValue(run, field), configured, extra);
}

/**
 * SampleParameters of a registered specimen: its configured fields (tray, slot, qrLabel, … read from what the
 * registration gave the sample) and, with `metadata`, each scalar of its metadata as an optional parameter of
 * the type named by the key (units N/A). Samples of other sources have none.
 */
export function sampleParameters(sample: Sample, configured: ParameterTargets, metadata = false): IcatParameterPayload[] {
  if (typeof sample.extra.specimenId !== "string") return [];
  const own = sample.extra.metadata;
  const extra =
    metadata && own !== null && typeof own === "object" && !Array.isArray(own)
      ? Object.keys(own)
          .sort()
          .map((key) => parameterOf(`metadata.${key}`, { type: key, units: "N/A" }, (own as Record<string, unknown>)[key], true))
          .filter((p): p is IcatParameterPayload => p !== undefined)
      : [];
  return parametersFor((field) => getPath(sample.extra, field), configured, extra);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
