/**
 * The two query dialects (scicat-api.md §7): LoopBack-style v3 `where` (inq, nin, and, or, like, gt…) with the
 * v3 date-coercion bug, and Mongo-style v4 `where` ($in, $eq, $and, $or, $regex, …).
 */

export class FilterError extends Error {}

type Doc = Record<string, unknown>;

function get(doc: Doc, dotted: string): unknown {
  let value: unknown = doc;
  for (const part of dotted.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Doc)[part];
  }
  return value;
}

/** Does a stored value equal a query value? Arrays match when they contain it (Mongo semantics). */
function equals(stored: unknown, wanted: unknown): boolean {
  if (Array.isArray(stored) && !Array.isArray(wanted)) return stored.some((s) => equals(s, wanted));
  if (wanted instanceof Date) return false; // stored dates are strings: a coerced Date never matches (the bug)
  return JSON.stringify(stored) === JSON.stringify(wanted);
}

function compare(stored: unknown, wanted: unknown): number | undefined {
  if (wanted instanceof Date) wanted = wanted.toISOString();
  if (typeof stored === "number" && typeof wanted === "number") return stored - wanted;
  if (typeof stored === "string" && typeof wanted === "string") return stored < wanted ? -1 : stored > wanted ? 1 : 0;
  return undefined;
}

/** The v3 WherePipe: any string value `new Date()` can parse becomes a Date (array elements are left alone). */
export function coerceDates(where: unknown): unknown {
  if (typeof where === "string") return Number.isNaN(new Date(where).getTime()) ? where : new Date(where);
  if (Array.isArray(where)) return where;
  if (where !== null && typeof where === "object") return Object.fromEntries(Object.entries(where as Doc).map(([k, v]) => [k, coerceDates(v)]));
  return where;
}

export function matchV3(doc: Doc, where: unknown): boolean {
  if (where === undefined || where === null) return true;
  if (typeof where !== "object") throw new FilterError("where must be an object");
  for (const [key, condition] of Object.entries(where as Doc)) {
    if (key === "and") {
      if (!(condition as unknown[]).every((w) => matchV3(doc, w))) return false;
      continue;
    }
    if (key === "or") {
      if (!(condition as unknown[]).some((w) => matchV3(doc, w))) return false;
      continue;
    }
    const stored = get(doc, key);
    if (condition !== null && typeof condition === "object" && !Array.isArray(condition) && !(condition instanceof Date)) {
      for (const [op, arg] of Object.entries(condition as Doc)) {
        if (!opMatches(stored, op, arg)) return false;
      }
    } else if (!equals(stored, condition)) return false;
  }
  return true;
}

function opMatches(stored: unknown, op: string, arg: unknown): boolean {
  const name = op.replace(/^\$/, "");
  switch (name) {
    case "inq":
    case "in":
      return Array.isArray(arg) && arg.some((a) => equals(stored, a));
    case "nin":
      return Array.isArray(arg) && !arg.some((a) => equals(stored, a));
    case "eq":
      return equals(stored, arg);
    case "ne":
    case "neq":
      return !equals(stored, arg);
    case "gt":
      return (compare(stored, arg) ?? NaN) > 0;
    case "gte":
      return (compare(stored, arg) ?? NaN) >= 0;
    case "lt":
      return (compare(stored, arg) ?? NaN) < 0;
    case "lte":
      return (compare(stored, arg) ?? NaN) <= 0;
    case "exists":
      return (stored !== undefined) === Boolean(arg);
    case "like":
    case "regex":
      return typeof stored === "string" && new RegExp(String(arg)).test(stored);
    case "ilike":
      return typeof stored === "string" && new RegExp(String(arg), "i").test(stored);
    default:
      throw new FilterError(`unknown operator ${op}`);
  }
}

const V4_OPERATORS = new Set(["$in", "$or", "$and", "$nor", "$eq", "$gt", "$gte", "$lt", "$lte", "$ne", "$nin", "$not", "$exists", "$regex", "$options"]);

/**
 * Mongo semantics as the v3 proposals service passes `filters.where` through untranslated (proposals/06): `$`
 * operators work, and an object without them is an equality match on an embedded document, so a LoopBack
 * `{inq: [...]}` matches nothing (the recording's 500 there is a stand-in artefact).
 */
export function matchMongo(doc: Doc, where: unknown): boolean {
  if (where === undefined || where === null) return true;
  if (typeof where !== "object") throw new FilterError("where must be an object");
  for (const [key, condition] of Object.entries(where as Doc)) {
    if (condition !== null && typeof condition === "object" && !Array.isArray(condition) && !Object.keys(condition).some((k) => k.startsWith("$"))) {
      if (!equals(get(doc, key), condition)) return false;
    } else if (!matchV4(doc, { [key]: condition })) return false;
  }
  return true;
}

const V4_FILTER_KEYS = new Set(["where", "fields", "limits", "include"]);

/**
 * The v4 filter is validated before it is used (datasets/05): unknown top-level keys, operators without `$`
 * (LoopBack `inq`) and `limits.order` are 400s naming the property.
 */
export function checkV4Filter(filter: Doc): void {
  for (const key of Object.keys(filter)) if (!V4_FILTER_KEYS.has(key)) throw new FilterError(`Property ${key} should not exist in the filter object`);
  const where = filter.where;
  if (where !== null && typeof where === "object" && !Array.isArray(where)) {
    for (const [field, condition] of Object.entries(where as Doc)) {
      if (field.startsWith("$") || condition === null || typeof condition !== "object" || Array.isArray(condition)) continue;
      for (const op of Object.keys(condition as Doc)) if (!op.startsWith("$")) throw new FilterError(`Property where.${field}.${op} should not exist in the filter object`);
    }
  }
  v4Limits(filter.limits);
}

export function matchV4(doc: Doc, where: unknown): boolean {
  if (where === undefined || where === null) return true;
  for (const [key, condition] of Object.entries(where as Doc)) {
    if (key === "$and") {
      if (!(condition as unknown[]).every((w) => matchV4(doc, w))) return false;
      continue;
    }
    if (key === "$or") {
      if (!(condition as unknown[]).some((w) => matchV4(doc, w))) return false;
      continue;
    }
    if (key === "$nor") {
      if ((condition as unknown[]).some((w) => matchV4(doc, w))) return false;
      continue;
    }
    const stored = get(doc, key);
    if (condition !== null && typeof condition === "object" && !Array.isArray(condition)) {
      for (const [op, arg] of Object.entries(condition as Doc)) {
        if (!V4_OPERATORS.has(op)) throw new FilterError(`Operator ${op} is not allowed`);
        if (op === "$options") continue;
        if (op === "$not") {
          if (matchV4(doc, { [key]: arg })) return false;
          continue;
        }
        if (!opMatches(stored, op, arg)) return false;
      }
    } else if (!equals(stored, condition)) return false;
  }
  return true;
}

export interface Limits {
  limit: number;
  skip: number;
  sort?: [string, 1 | -1];
}

/** v4 `limits: {limit, skip, sort: {field: "asc"|"desc"}}`; `order` is rejected (scicat-api.md §7). */
export function v4Limits(limits: unknown): Limits {
  const l = (limits ?? {}) as Doc;
  for (const key of Object.keys(l)) if (!["limit", "skip", "sort"].includes(key)) throw new FilterError(`Property limits.${key} should not exist in the filter object`);
  const sortEntry = l.sort && typeof l.sort === "object" ? Object.entries(l.sort as Doc)[0] : undefined;
  return {
    limit: typeof l.limit === "number" ? l.limit : 10,
    skip: typeof l.skip === "number" ? l.skip : 0,
    ...(sortEntry ? { sort: [sortEntry[0], sortEntry[1] === "desc" ? -1 : 1] as [string, 1 | -1] } : { sort: ["createdAt", -1] as [string, 1 | -1] }),
  };
}

/** v3 `limits: {limit, skip, order: "field:desc"}`, default limit 100. */
export function v3Limits(limits: unknown): Limits {
  const l = (limits ?? {}) as Doc;
  const order = typeof l.order === "string" ? l.order.split(":") : undefined;
  return {
    limit: typeof l.limit === "number" ? l.limit : 100,
    skip: typeof l.skip === "number" ? l.skip : 0,
    ...(order?.[0] ? { sort: [order[0], order[1] === "desc" ? -1 : 1] as [string, 1 | -1] } : {}),
  };
}

export function page<T extends Doc>(docs: T[], limits: Limits): T[] {
  let out = docs;
  if (limits.sort) {
    const [field, dir] = limits.sort;
    out = [...docs].sort((a, b) => (compare(get(a, field), get(b, field)) ?? 0) * dir);
  }
  return out.slice(limits.skip, limits.skip + limits.limit);
}

export function parseFilter(raw: string | null): Doc {
  if (raw === null || raw === "") return {};
  try {
    const value = JSON.parse(raw) as unknown;
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new FilterError("filter must be a JSON object");
    return value as Doc;
  } catch (error) {
    if (error instanceof FilterError) throw error;
    // datasets/05 "filter not JSON"
    throw new FilterError(`Invalid JSON in filter: ${(error as Error).message}`);
  }
}
