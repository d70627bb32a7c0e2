import type { Run } from "../model/types.js";

/**
 * Searchable quantities of a run (issue 17): scalar metadata that states its unit, and per stream field the
 * range its events covered. A unit is only ever one the source states — a number without one stays a plain
 * number, and a unit SciCat does not know is passed through as written.
 */

export interface Quantity {
  /** Flat, so SciCat can index it (`scientificMetadata.<name>`) and ICAT can name a ParameterType after it. */
  name: string;
  value: number | string;
  unit?: string | undefined;
}

/** Stream fields that name a range are `<field>_min` / `<field>_max`; a field that never changed is one value. */
export function runQuantities(run: Run): Quantity[] {
  const out = new Map<string, Quantity>();
  const add = (q: Quantity) => {
    if (!out.has(q.name)) out.set(q.name, q);
  };
  for (const q of metadataQuantities(run.metadata)) add(q);
  for (const stream of run.streams) {
    const prefix = stream.name === "primary" ? "" : `${stream.name}_`;
    for (const [field, range] of Object.entries(stream.ranges ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const unit = unitOf(stream.dataKeys[field]?.units);
      const name = `${prefix}${field}`;
      if (range.min === range.max) add({ name, value: range.min, unit });
      else {
        add({ name: `${name}_min`, value: range.min, unit });
        add({ name: `${name}_max`, value: range.max, unit });
      }
    }
  }
  return [...out.values()];
}

/**
 * Top-level metadata entries that carry a unit: `{value, unit}` / `{value, units}` objects, and a key with a
 * sibling `<key>_units` / `<key>_unit` string (a convention of start documents).
 */
export function metadataQuantities(metadata: Record<string, unknown>): Quantity[] {
  const out: Quantity[] = [];
  for (const [key, entry] of Object.entries(metadata)) {
    if (entry !== null && typeof entry === "object" && !Array.isArray(entry)) {
      const e = entry as Record<string, unknown>;
      const unit = unitOf(e.unit) ?? unitOf(e.units);
      if (unit && isScalar(e.value)) out.push({ name: key, value: e.value, unit });
      continue;
    }
    const unit = unitOf(metadata[`${key}_units`]) ?? unitOf(metadata[`${key}_unit`]);
    if (unit && isScalar(entry)) out.push({ name: key, value: entry, unit });
  }
  return out;
}

function unitOf(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function isScalar(value: unknown): value is number | string {
  return (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value !== "");
}
