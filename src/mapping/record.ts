import { createHash } from "node:crypto";

export type DestinationName = "scicat" | "icat";

/**
 * A record as a destination should hold it: what mapping produces and reconcile compares.
 * `kind` + `key` identify it within its destination; `dependsOn` lists record ids that must be
 * synced first (a Dataset after its Proposal, Sample and Instrument).
 */
export interface DesiredRecord {
  destination: DestinationName;
  kind: string;
  key: string;
  /** Run uid this record belongs to, for `resync --run` and `log --run`. */
  runUid?: string | undefined;
  /** Beamtime key this record belongs to, for `resync --beamtime`. */
  beamtimeKey?: string | undefined;
  /** What upload_log calls `session_identifier`: run uid, beamtime key or sample key. Defaults to runUid ?? key. */
  sessionIdentifier?: string | undefined;
  payload: Record<string, unknown>;
  dependsOn: string[];
  hash: string;
}

export function recordId(destination: DestinationName, kind: string, key: string): string {
  return `${destination}/${kind}/${key}`;
}

/**
 * JSON with object keys sorted, so equal content always hashes equally. Loops and one string, not
 * entries/filter/map/join: this runs over every mapped record on every scan (the output is unchanged, and with
 * it every stored hash).
 */
export function stableStringify(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + stableStringify(value[i]);
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, as `a < b` does.
  const keys = Object.keys(object).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = object[key];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${stableStringify(v)}`;
    first = false;
  }
  return `${out}}`;
}

export function contentHash(payload: unknown): string {
  return createHash("sha256").update(stableStringify(payload)).digest("hex").slice(0, 32);
}

/**
 * Build a record and its content hash. `hashBasis` replaces the payload in the hash where some payload values
 * must not count as a change (e.g. the size of a beamtime DB that every run lists and that grows with each run).
 */
export function makeRecord(fields: Omit<DesiredRecord, "hash">, hashBasis?: unknown): DesiredRecord {
  return {
    ...fields,
    hash: contentHash({ kind: fields.kind, payload: hashBasis ?? fields.payload, dependsOn: fields.dependsOn }),
  };
}
