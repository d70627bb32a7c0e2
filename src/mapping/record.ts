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
 * JSON with object keys sorted, so equal content always hashes equally. This runs over every mapped record on
 * every scan, so it allocates little: small key lists are sorted in place (Array.prototype.sort copies its
 * array first), quoted keys are reused, and numbers and booleans skip JSON.stringify. The output is unchanged,
 * and with it every stored hash.
 */
export function stableStringify(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      // String() and JSON.stringify agree on every finite number (-0 included); JSON has no NaN or Infinity.
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      // undefined, and what JSON cannot hold (functions, symbols), as JSON.stringify does inside an array.
      return typeof value === "bigint" ? JSON.stringify(value) : "null";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += stableStringify(value[i]);
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = sortedInPlace(Object.keys(object));
  let out = "{";
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = object[key];
    if (v === undefined) continue;
    if (!first) out += ",";
    out += quotedKey(key);
    out += ":";
    out += stableStringify(v);
    first = false;
  }
  return `${out}}`;
}

/** Sorted by UTF-16 code units, as the default sort and `a < b` compare; insertion sort for short lists. */
function sortedInPlace(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** Object keys repeat across records ("description", "units"): quote each once. Bounded: metadata keys are free text. */
const QUOTED_KEYS_MAX = 4096;
const quotedKeys = new Map<string, string>();

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size >= QUOTED_KEYS_MAX) quotedKeys.clear();
    quotedKeys.set(key, quoted);
  }
  return quoted;
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
