/**
 * Python's `json.dumps` emits bare `NaN`, `Infinity` and `-Infinity` (resonance JSON columns, bluesky documents
 * written with `allow_nan=True`). JSON.parse rejects them; here they become `null`.
 */

export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // Only pay for the rewrite when a Python-only token can be the reason.
    if (!/NaN|Infinity/.test(text)) throw error;
    return JSON.parse(replaceNonFiniteTokens(text));
  }
}

/** Replace NaN / Infinity / -Infinity outside string literals with null. */
export function replaceNonFiniteTokens(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      out += ch;
      if (ch === "\\") {
        out += text[i + 1] ?? "";
        i++;
      } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
    } else if (text.startsWith("NaN", i)) {
      out += "null";
      i += 2;
    } else if (text.startsWith("Infinity", i)) {
      out += "null";
      i += 7;
    } else if (text.startsWith("-Infinity", i)) {
      out += "null";
      i += 8;
    } else out += ch;
  }
  return out;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A JSON object column; NULL or empty text is an empty object. */
export function parseJsonObject(text: string | null | undefined): Parsed<Record<string, unknown>> {
  if (text === null || text === undefined || text.trim() === "") return { ok: true, value: {} };
  let value: unknown;
  try {
    value = parsePythonJson(text);
  } catch (error) {
    return { ok: false, error: `not valid JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (value === null) return { ok: true, value: {} };
  if (typeof value !== "object" || Array.isArray(value)) return { ok: false, error: `expected a JSON object, found ${Array.isArray(value) ? "an array" : typeof value}` };
  return { ok: true, value: value as Record<string, unknown> };
}

/** A JSON array of strings (samples.tags); other items are turned into strings. */
export function parseStringList(text: string | null | undefined): Parsed<string[]> {
  if (text === null || text === undefined || text.trim() === "") return { ok: true, value: [] };
  let value: unknown;
  try {
    value = parsePythonJson(text);
  } catch (error) {
    return { ok: false, error: `not valid JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (value === null) return { ok: true, value: [] };
  if (!Array.isArray(value)) return { ok: false, error: "expected a JSON array" };
  return { ok: true, value: value.filter((v) => v !== null && v !== undefined).map((v) => (typeof v === "string" ? v : JSON.stringify(v))) };
}
