import type { DataKeyInfo, ExitStatus } from "../../model/types.js";

/** resonance status words → event-model words (resonance-data.md §4); unknown words are kept and flagged. */
const EXIT_WORDS: Record<string, ExitStatus> = {
  success: "success",
  aborted: "abort",
  abort: "abort",
  failed: "fail",
  fail: "fail",
};

export function normalizeExitStatus(word: string | null | undefined): { status?: ExitStatus; unknown?: string } {
  if (word === null || word === undefined) return {};
  const known = EXIT_WORDS[word.trim().toLowerCase()];
  return known ? { status: known } : { status: word, unknown: word };
}

const EVENT_MODEL_DTYPES = new Set(["string", "number", "array", "boolean", "integer"]);

/**
 * resonance's data keys are descriptor-like but not event-model compliant (numpy dtype names such as "int32",
 * boolean `external`). Map them onto event-model's DataKey: dtype from the numpy kind (or "array" when the
 * shape has dimensions), `external: true` → "FILESTORE:", scalars get shape [].
 */
export function normalizeDataKey(raw: unknown): DataKeyInfo {
  const key = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const shape = Array.isArray(key.shape) ? key.shape.map((n) => (typeof n === "number" && Number.isFinite(n) ? n : null)) : [];
  const out: DataKeyInfo = { dtype: normalizeDtype(key.dtype, shape), shape };
  if (typeof key.units === "string" || key.units === null) out.units = key.units;
  if (typeof key.source === "string") out.source = key.source;
  if (key.external === true) out.external = "FILESTORE:";
  else if (typeof key.external === "string" && key.external !== "") out.external = key.external;
  return out;
}

export function normalizeDataKeys(raw: Record<string, unknown>): Record<string, DataKeyInfo> {
  const out: Record<string, DataKeyInfo> = {};
  for (const [field, value] of Object.entries(raw)) out[field] = normalizeDataKey(value);
  return out;
}

const TYPESTR_KIND: Record<string, string> = { b: "boolean", i: "integer", u: "integer", f: "number", c: "number", S: "string", U: "string", O: "string" };

function normalizeDtype(dtype: unknown, shape: (number | null)[]): string | undefined {
  if (shape.length > 0) return "array";
  if (typeof dtype !== "string" || dtype.trim() === "") return undefined;
  const raw = dtype.trim();
  const lower = raw.toLowerCase();
  if (EVENT_MODEL_DTYPES.has(lower)) return lower;
  if (/^(u?int(8|16|32|64)?|u?intc|u?intp|u?longlong|u?long|u?short|u?byte)$/.test(lower)) return "integer";
  if (/^(float(16|32|64|128)?|double|half|single|longdouble|complex(64|128|256)?)$/.test(lower)) return "number";
  if (/^bool_?$/.test(lower)) return "boolean";
  if (/^(str_?|unicode_?|bytes_?|object_?)$/.test(lower)) return "string";
  // numpy array-protocol type strings: "<u2", "<f8", "|b1", "<U10" (the kind letter is case-sensitive)
  const typestr = /^[<>|=]?([biufcSUO])\d*$/.exec(raw);
  const kind = typestr ? TYPESTR_KIND[typestr[1] as string] : undefined;
  return kind ?? raw;
}
