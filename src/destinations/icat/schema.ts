import { PermanentError } from "../../sync/errors.js";

/**
 * The part of ICAT's entity model beamsync writes (icat-api.md §7), checked before every write. The server
 * casts JSON values without looking (a fractional fileSize is a 500 INTERNAL naming no field), and some
 * limits only its database enforces (answered with a misleading OBJECT_ALREADY_EXISTS): a payload that
 * cannot be stored is refused here, as a permanent failure naming the field.
 *
 * Strings are held to what every database under ICAT stores: at most `length` UTF-8 bytes (Oracle's
 * VARCHAR2 counts bytes) and no character outside the Basic Multilingual Plane (MySQL's utf8 refuses them).
 * Doubles stay below 1e19 (Oracle's NUMBER(38,19)).
 */

type FieldType = { kind: "string"; length: number } | { kind: "long" } | { kind: "double" } | { kind: "boolean" } | { kind: "date" } | { kind: "ref" } | { kind: "children"; entity: string };

export interface EntitySchema {
  fields: Record<string, FieldType>;
}

const str = (length = 255): FieldType => ({ kind: "string", length });
const long: FieldType = { kind: "long" };
const double: FieldType = { kind: "double" };
const date: FieldType = { kind: "date" };
const ref: FieldType = { kind: "ref" };
const children = (entity: string): FieldType => ({ kind: "children", entity });

/** Largest magnitude Oracle's NUMBER(38,19) holds. */
export const DOUBLE_LIMIT = 1e19;

/** The date pattern the server parses (icat-api.md §4), with exactly three fraction digits. */
const ICAT_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(?:Z|[+-]\d{2}:\d{2})$/;

/** Characters MySQL's utf8 (3-byte) charset refuses. */
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;

export function entitySchemas(locationLength: number): Record<string, EntitySchema> {
  const parameter: Record<string, FieldType> = { type: ref, stringValue: str(4000), numericValue: double, rangeTop: double, rangeBottom: double, error: double };
  return {
    Investigation: {
      fields: {
        facility: ref,
        type: ref,
        name: str(),
        visitId: str(),
        title: str(),
        summary: str(4000),
        startDate: date,
        endDate: date,
        investigationInstruments: children("InvestigationInstrument"),
      },
    },
    InvestigationInstrument: { fields: { investigation: ref, instrument: ref } },
    Grouping: { fields: { name: str() } },
    InvestigationGroup: { fields: { investigation: ref, grouping: ref, role: str() } },
    InvestigationUser: { fields: { investigation: ref, user: ref, role: str() } },
    Sample: { fields: { investigation: ref, name: str(), parameters: children("SampleParameter") } },
    SampleParameter: { fields: { sample: ref, ...parameter } },
    Dataset: {
      fields: {
        investigation: ref,
        type: ref,
        sample: ref,
        name: str(),
        description: str(),
        location: str(locationLength),
        complete: { kind: "boolean" },
        startDate: date,
        endDate: date,
        parameters: children("DatasetParameter"),
        datafiles: children("Datafile"),
        datasetTechniques: children("DatasetTechnique"),
      },
    },
    DatasetTechnique: { fields: { dataset: ref, technique: ref } },
    DatasetParameter: { fields: { dataset: ref, ...parameter } },
    Datafile: { fields: { dataset: ref, name: str(), location: str(locationLength), fileSize: long, datafileModTime: date } },
  };
}

/** Why a value cannot be stored in a field of this type, or undefined when it can. */
function problem(type: FieldType, value: unknown, schemas: Record<string, EntitySchema>, path: string): string | undefined {
  if (value === null) return undefined;
  switch (type.kind) {
    case "string":
      if (typeof value !== "string") return "must be a string";
      if (ASTRAL.test(value)) return "holds a character outside the Basic Multilingual Plane (MySQL's utf8 refuses it)";
      if (Buffer.byteLength(value, "utf8") > type.length) return `is longer than ${type.length} bytes`;
      return undefined;
    case "long":
      return typeof value === "number" && Number.isSafeInteger(value) ? undefined : `must be a whole number (got ${JSON.stringify(value)})`;
    case "double":
      if (typeof value !== "number" || !Number.isFinite(value)) return `must be a finite number (got ${JSON.stringify(value)})`;
      return Math.abs(value) < DOUBLE_LIMIT ? undefined : `is beyond ±1e19, more than Oracle's NUMBER(38,19) holds (got ${value})`;
    case "boolean":
      return typeof value === "boolean" ? undefined : "must be true or false";
    case "date":
      return typeof value === "string" && ICAT_DATE.test(value) ? undefined : `must be a date like 2026-03-05T08:00:00.000Z (got ${JSON.stringify(value)})`;
    case "ref": {
      const id = (value as { id?: unknown } | undefined)?.id;
      return typeof value === "object" && Number.isSafeInteger(id) && Object.keys(value).length === 1 ? undefined : "must be {id: N}";
    }
    case "children":
      if (!Array.isArray(value)) return "must be a list";
      for (const [i, child] of value.entries()) {
        const inner = checkEntity(type.entity, child, schemas, `${path}[${i}]`);
        if (inner) return inner;
      }
      return undefined;
  }
}

function checkEntity(entity: string, body: unknown, schemas: Record<string, EntitySchema>, path: string): string | undefined {
  const schema = schemas[entity];
  if (!schema) return `${path}: beamsync does not write ${entity}`;
  if (body === null || typeof body !== "object" || Array.isArray(body)) return `${path} must be an object`;
  for (const [field, value] of Object.entries(body)) {
    if (value === undefined) continue; // JSON.stringify leaves it out
    if (field === "id") {
      if (!Number.isSafeInteger(value)) return `${path}.id must be an ICAT id`;
      continue;
    }
    const type = schema.fields[field];
    if (!type) return `${path}.${field} is not a field beamsync writes`;
    const why = problem(type, value, schemas, `${path}.${field}`);
    if (why) return type.kind === "children" ? why : `${path}.${field} ${why}`;
  }
  return undefined;
}

/** The entity names a write body creates: top-level items without id and every nested child. */
export function createdEntities(items: unknown[], schemas: Record<string, EntitySchema>): Set<string> {
  const out = new Set<string>();
  const visit = (entity: string, body: Record<string, unknown>, nested: boolean) => {
    if (nested || body.id === undefined) out.add(entity);
    for (const [field, value] of Object.entries(body)) {
      const type = schemas[entity]?.fields[field];
      if (type?.kind === "children" && Array.isArray(value)) for (const child of value) visit(type.entity, child as Record<string, unknown>, true);
    }
  };
  for (const item of items) {
    const [entity, body] = Object.entries(item as Record<string, Record<string, unknown>>)[0] ?? [];
    if (entity && body) visit(entity, body, false);
  }
  return out;
}

/** Throws a PermanentError naming the first value the server could not store. */
export function checkWrite(items: unknown[], schemas: Record<string, EntitySchema>): void {
  for (const [i, item] of items.entries()) {
    const entries = item && typeof item === "object" ? Object.entries(item) : [];
    const [entity, body] = entries[0] ?? [];
    const why = entries.length !== 1 || !entity ? `item ${i} must be {Entity: {...}}` : checkEntity(entity, body, schemas, entity);
    if (why) throw new PermanentError(`ICAT payload does not fit the entity schema, not sent: ${why}`);
  }
}
