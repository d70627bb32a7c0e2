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

/** JSON with object keys sorted, so equal content always hashes equally. */
export function stableStringify(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(",")}}`;
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
