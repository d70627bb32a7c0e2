/** Read a dotted path ("proposal.pi_name") out of a nested object. */
export function getPath(source: Record<string, unknown> | undefined, dotted: string): unknown {
  let node: unknown = source;
  for (const part of dotted.split(".")) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** First of the keys whose value is a non-empty string or a number, as a string. */
export function firstString(source: Record<string, unknown> | undefined, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = getPath(source, key);
    if (typeof value === "string" && value.trim().length > 0) return value.trim();
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
  }
  return undefined;
}
