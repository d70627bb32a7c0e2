/**
 * Does the catalog already hold what we would send? SciCat adds fields of its own (createdAt, `valueSI` next to
 * `{value, unit}`, `_id` in each DataFile) and answers dates in its own ISO form, so a desired value counts as
 * present when every key we send is present with an equal value; extra remote keys are ignored.
 */
export function holds(remote: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (desired === null) return remote === null || remote === undefined;
  if (typeof desired === "string") {
    if (typeof remote !== "string") return false;
    if (remote === desired) return true;
    return isIsoDate(desired) && isIsoDate(remote) && Date.parse(remote) === Date.parse(desired);
  }
  if (typeof desired === "number") return typeof remote === "number" && (remote === desired || (Number.isNaN(remote) && Number.isNaN(desired)));
  if (typeof desired !== "object") return remote === desired;
  if (Array.isArray(desired)) {
    return Array.isArray(remote) && remote.length === desired.length && desired.every((d, i) => holds(remote[i], d));
  }
  if (remote === null || typeof remote !== "object" || Array.isArray(remote)) return false;
  const r = remote as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(([k, v]) => holds(r[k], v));
}

/** The remote values of the fields we would set, for `sync --dry-run` diffs. */
export function remoteFields(remote: Record<string, unknown>, desired: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(desired)) out[key] = remote[key];
  return out;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function isIsoDate(text: string): boolean {
  return ISO.test(text) && !Number.isNaN(Date.parse(text));
}
