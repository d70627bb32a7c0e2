/** Field comparison between what ICAT holds and what a record wants (dates compared as instants, offsets aside). */

export function sameInstant(remote: unknown, desired: string): boolean {
  return typeof remote === "string" && Date.parse(remote) === Date.parse(desired);
}

/** The desired fields whose remote value differs; undefined desired values are left alone. */
export function changedFields(remote: Record<string, unknown>, desired: Record<string, unknown>, dateFields: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(desired)) {
    if (value === undefined) continue;
    const same = dateFields.includes(field) && typeof value === "string" ? sameInstant(remote[field], value) : remote[field] === value;
    if (!same) out[field] = value;
  }
  return out;
}
