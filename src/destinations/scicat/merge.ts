import { stableStringify } from "../../mapping/record.js";
import type { FieldConflict } from "../contract.js";
import { holds } from "./compare.js";

/**
 * What to send when a record that is already in the catalog is updated, so that a curator's edits survive.
 *
 * Three versions of each field meet: the catalog's now, what beamsync last wrote, and what the source maps to now.
 * - the source's value did not change since beamsync wrote it → the catalog's value stays, whatever it is;
 * - it changed, and the catalog still holds what beamsync wrote → the new value is sent;
 * - it changed, and so did the catalog → the catalog's value stays and the field is reported as a conflict,
 *   unless the field is listed as one where the source wins (config `sourceWins`, or `resync --force`).
 * Object fields such as `scientificMetadata` follow the same rule key by key, and list fields such as `keywords`
 * as sets: a key or keyword beamsync never wrote is never removed.
 *
 * Without a memory of what was last written (a record pushed before this was kept, a rebuilt state store, or
 * `resync --force`), the source wins for every field it maps, and object keys and keywords of the catalog's
 * own are still kept.
 */

export type Doc = Record<string, unknown>;

export interface UpdatePlan {
  /** Top-level fields to PATCH (empty: nothing to send). */
  changes: Doc;
  /** What beamsync has written once this update is applied: the memory for the next update. */
  written: Doc;
  conflicts: FieldConflict[];
}

export interface MergeRules {
  /** Fields that identify the record and are never sent in an update. */
  immutable: readonly string[];
  /** Object fields merged key by key. */
  objectFields: readonly string[];
  /** String-list fields merged as sets. */
  setFields: readonly string[];
  /** Fields (or `field.key` inside an object field) where the source's value always wins. */
  sourceWins: (field: string) => boolean;
}

export const NO_SOURCE_WINS = () => false;

const same = (a: unknown, b: unknown) => stableStringify(a) === stableStringify(b);

/** Three-way outcome for one value; `undefined` written means "beamsync never wrote it". */
function decide(
  field: string,
  catalog: unknown,
  source: unknown,
  written: unknown,
  remembered: boolean,
  rules: MergeRules,
): { send: boolean; written: unknown; conflict?: FieldConflict } {
  if (holds(catalog, source)) return { send: false, written: source };
  if (!remembered || rules.sourceWins(field)) return { send: true, written: source };
  if (written !== undefined && same(written, source)) return { send: false, written }; // a curator's edit: kept
  // Never written: only the server's own empty default (null, or [] as for a proposal's MeasurementPeriodList) is untouched.
  const untouched = written === undefined ? catalog === undefined || catalog === null || (Array.isArray(catalog) && catalog.length === 0) : holds(catalog, written);
  if (untouched) return { send: true, written: source };
  return { send: false, written, conflict: { field, catalog, source, lastWritten: written } };
}

export function planUpdate(catalog: Doc, source: Doc, lastWritten: Doc | undefined, rules: MergeRules): UpdatePlan {
  const changes: Doc = {};
  const written: Doc = {};
  const conflicts: FieldConflict[] = [];
  const remembered = lastWritten !== undefined;
  for (const [field, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (rules.immutable.includes(field)) {
      written[field] = value;
      continue;
    }
    const current = catalog[field];
    const before = lastWritten?.[field];
    if (rules.objectFields.includes(field) && isPlainObject(value)) {
      const merged = mergeObject(field, asObject(current), value, isPlainObject(before) ? before : remembered ? {} : undefined, rules);
      written[field] = merged.written;
      conflicts.push(...merged.conflicts);
      if (!same(merged.result, current)) changes[field] = merged.result;
      continue;
    }
    if (rules.setFields.includes(field) && Array.isArray(value)) {
      const result = mergeSet(Array.isArray(current) ? current : [], value, Array.isArray(before) ? before : []);
      written[field] = value;
      if (!same(result, current)) changes[field] = result;
      continue;
    }
    const outcome = decide(field, current, value, before, remembered, rules);
    written[field] = outcome.written;
    if (outcome.send) changes[field] = value;
    if (outcome.conflict) conflicts.push(outcome.conflict);
  }
  return { changes, written, conflicts };
}

/** Key by key; keys only the catalog has stay; keys beamsync wrote and no longer maps go unless a curator changed them. */
function mergeObject(field: string, catalog: Doc, source: Doc, before: Doc | undefined, rules: MergeRules): { result: Doc; written: Doc; conflicts: FieldConflict[] } {
  const result: Doc = { ...catalog };
  const written: Doc = {};
  const conflicts: FieldConflict[] = [];
  for (const [key, value] of Object.entries(source)) {
    const path = `${field}.${key}`;
    const outcome = decide(path, catalog[key], value, before?.[key], before !== undefined, { ...rules, sourceWins: (f) => rules.sourceWins(f) || rules.sourceWins(field) });
    written[key] = outcome.written;
    if (outcome.send) result[key] = value;
    if (outcome.conflict) conflicts.push(outcome.conflict);
  }
  for (const [key, old] of Object.entries(before ?? {})) {
    if (key in source) continue;
    if (holds(catalog[key], old)) delete result[key];
    // else: a curator changed a key beamsync has stopped mapping; it is theirs now.
  }
  return { result, written, conflicts };
}

/** The catalog's list with what the source dropped since it was written taken out and what it added put in. */
function mergeSet(catalog: unknown[], source: unknown[], before: unknown[]): unknown[] {
  const key = (v: unknown) => stableStringify(v);
  const sourceKeys = new Set(source.map(key));
  const dropped = new Set(before.map(key).filter((k) => !sourceKeys.has(k)));
  const result = catalog.filter((v) => !dropped.has(key(v)));
  const present = new Set(result.map(key));
  for (const v of source) if (!present.has(key(v))) result.push(v);
  return result;
}

function isPlainObject(value: unknown): value is Doc {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function asObject(value: unknown): Doc {
  return isPlainObject(value) ? value : {};
}
