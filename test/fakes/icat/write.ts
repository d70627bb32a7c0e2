import { DatabaseRefusal, type Database } from "./database.js";
import { parseIcatDate } from "./dates.js";
import { IcatFakeError, badParameter, validation } from "./errors.js";
import { BASE_FIELDS, PARAMETER_VALUE_TYPES, type AttributeDef, type EntityDef } from "./schema.js";
import { uniqueKey, type IdSequence, type Row, type Tx } from "./store.js";

/**
 * `POST /icat/entityManager` and `DELETE /icat/entityManager` (icat-api.md §3, §5.2), following
 * EntityBeanManager.write/writeOne/parseEntity/parseSubEntity: parse (400/404; a JSON value of the wrong type is
 * a 500 INTERNAL), parameter checks and not-null/length (412 VALIDATION), uniqueness (412 OBJECT_ALREADY_EXISTS),
 * what the database itself refuses (see database.ts: explained as writeOne does, often by a false
 * OBJECT_ALREADY_EXISTS naming a parent), and last the CREATE/UPDATE authorisation (GateKeeper, after the flush).
 * The caller owns the Tx and commits only when this returns.
 */

export interface WriteContext {
  tx: Tx;
  ids: IdSequence;
  userName: string;
  now: number;
  /** false → INSUFFICIENT_PRIVILEGES for any create, update or delete. */
  mayWrite: boolean;
  database: Database;
  /** Rows an update loaded besides the ones it changed (EntityBaseBean.preparePersist walks), summed per request. */
  load: { rows: number };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Op {
  kind: "create" | "update";
  def: EntityDef;
  row: Row;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new IcatFakeError("BAD_PARAMETER", `${(err as Error).message} in json ${text}`, 0);
  }
}

/** Items of a write or delete body: one object or an array of them. */
function topLevelItems(text: string): Json[] {
  const top = parseJson(text);
  if (Array.isArray(top)) return top;
  if (isObject(top)) return [top];
  throw new IcatFakeError("BAD_PARAMETER", `Expected a JSON object or array in json ${text}`, 0);
}

/** Returns the ids of the top-level objects created, in input order. */
export function writeEntities(json: string, ctx: WriteContext): number[] {
  const items = topLevelItems(json);
  const created: number[] = [];
  items.forEach((item, offset) => {
    try {
      const id = new OneWrite(ctx).run(item);
      if (id !== undefined) created.push(id);
    } catch (err) {
      if (err instanceof IcatFakeError) err.offset = offset;
      throw err;
    }
  });
  return created;
}

class OneWrite {
  private readonly ops: Op[] = [];
  /** Rows updated in this item, so a second mention sees the first change. */
  private readonly pending = new Map<number, Row>();
  /** Existing entities the item named by id, in order: writeOne's localUpdates, which isUnique finds again. */
  private readonly referenced: { def: EntityDef; id: number }[] = [];

  constructor(private readonly ctx: WriteContext) {}

  run(item: Json): number | undefined {
    if (!isObject(item) || Object.keys(item).length !== 1) {
      throw badParameter(`Entity must have one keyword followed by its values in json ${JSON.stringify(item)}`);
    }
    const [beanName, value] = Object.entries(item)[0] as [string, Json];
    const def = this.entity(beanName);
    if (!isObject(value)) throw badParameter(`Unexpected array found in JSON ${JSON.stringify(value)}`);

    let row: Row;
    const create = !("id" in value);
    if (create) {
      row = this.newRow();
      this.ops.push({ kind: "create", def, row });
    } else {
      const id = value.id;
      if (typeof id !== "number" || !Number.isSafeInteger(id)) throw badParameter(`Badly formatted id: ${JSON.stringify(id)}`);
      row = { ...this.find(def, id) };
      this.ops.push({ kind: "update", def, row });
      this.pending.set(id, row);
      this.referenced.push({ def, id });
    }
    this.parseEntity(def, value, row);

    for (const op of this.ops) this.stamp(op);
    for (const op of this.ops) validateRow(this.ctx.tx, op);
    let refusal: DatabaseRefusal | undefined;
    for (const op of this.ops) {
      try {
        op.row = this.ctx.database.store(op.def, op.row);
      } catch (err) {
        if (!(err instanceof DatabaseRefusal)) throw err;
        refusal ??= err;
      }
    }
    for (const op of this.ops) this.apply(op);
    if (refusal) throw this.explain(refusal);
    if (!create) this.walkChildren(def, row.id);
    // GateKeeper.performAuthorisation runs after the flush: a request that is wrong and not allowed is told it is wrong.
    if (!this.ctx.mayWrite) {
      const first = this.ops[0];
      throw new IcatFakeError(
        "INSUFFICIENT_PRIVILEGES",
        `${first?.kind === "update" ? "UPDATE" : "CREATE"} access to this ${first?.def.name ?? beanName} is not allowed.`,
      );
    }
    return create ? row.id : undefined;
  }

  /**
   * writeOne after a refused flush: isValid and isUnique on what it created (nothing to find: they were checked
   * above) and then on every entity the item named by id, whose look-up by unique key finds that entity itself:
   * a false OBJECT_ALREADY_EXISTS naming a parent. With no such entity, "Unexpected DB response …" (500).
   */
  private explain(refusal: DatabaseRefusal): IcatFakeError {
    for (const { def, id } of this.referenced) {
      const row = this.pending.get(id) ?? this.ctx.tx.get(def.name, id);
      if (row && def.unique.length > 0) return new IcatFakeError("OBJECT_ALREADY_EXISTS", duplicateMessage(def, row, false));
    }
    return new IcatFakeError("INTERNAL", `Unexpected DB response ${refusal.message}`);
  }

  /**
   * The cost of an update grows with the children: writeOne calls preparePersist(…, REST) on the top-level bean
   * for updates too, and EntityBaseBean.preparePersist recurses through every to-many relationship, so an update
   * of a Dataset loads every Datafile and re-checks every parameter (Parameter.check), and an update of an
   * Investigation loads its whole tree.
   */
  private walkChildren(def: EntityDef, id: number): void {
    const { tx, load } = this.ctx;
    for (const relation of Object.values(def.oneToMany)) {
      const childDef = tx.schema.get(relation.target);
      if (!childDef) continue;
      for (const child of tx.children(relation.target, relation.backRef, id)) {
        load.rows++;
        if (childDef.parameterOf) {
          const type = tx.get("ParameterType", child.type as number);
          if (type?.enforced === true) checkEnforced(tx, type, child);
        }
        this.walkChildren(childDef, child.id);
      }
    }
  }

  private entity(name: string): EntityDef {
    const def = this.ctx.tx.schema.get(name);
    if (!def) throw badParameter(`${name} is not an ICAT entity`);
    return def;
  }

  private newRow(): Row {
    const { userName, now } = this.ctx;
    return { id: this.ctx.ids.take(), createId: userName, createTime: now, modId: userName, modTime: now };
  }

  private find(def: EntityDef, id: number): Row {
    const row = this.pending.get(id) ?? this.ctx.tx.get(def.name, id);
    if (!row) throw new IcatFakeError("NO_SUCH_OBJECT_FOUND", `${def.name}[id:${id}] not found.`);
    return row;
  }

  private parseEntity(def: EntityDef, contents: JsonObject, row: Row, backRef?: string): void {
    for (const [field, value] of Object.entries(contents)) {
      if (field === "id") continue;
      if (field in BASE_FIELDS) throw badParameter(`Field ${field} of ${def.name} is set by the server`);
      const attribute = def.attributes[field];
      if (attribute) {
        row[field] = parseAttribute(def, field, attribute, value);
        continue;
      }
      const manyToOne = def.manyToOne[field];
      if (manyToOne) {
        if (field === backRef) throw badParameter(`Field ${field} of ${def.name} is set from its parent: do not send it`);
        row[field] = value === null ? null : this.reference(this.entity(manyToOne.target), value);
        continue;
      }
      const oneToMany = def.oneToMany[field];
      if (oneToMany) {
        if (!Array.isArray(value)) throw badParameter(`Field ${field} of ${def.name} must be an array in json ${JSON.stringify(value)}`);
        const childDef = this.entity(oneToMany.target);
        for (const child of value) {
          if (!isObject(child)) throw badParameter(`Badly formatted relationship object ${JSON.stringify(child)}`);
          // The server's two texts are swapped (icat-api.md §3); kept verbatim.
          if ("id" in child) throw badParameter(`Many to one related objects should have the id value set: ${JSON.stringify(child)}`);
          const childRow = this.newRow();
          childRow[oneToMany.backRef] = row.id;
          this.ops.push({ kind: "create", def: childDef, row: childRow });
          this.parseEntity(childDef, child, childRow, oneToMany.backRef);
        }
        continue;
      }
      throw badParameter(`Field ${field} not found in ${def.name}`);
    }
  }

  /** A many-to-one value `{"id":N,...}`: must exist; extra fields update the referenced object. */
  private reference(target: EntityDef, value: Json): number {
    if (!isObject(value)) throw badParameter(`Badly formatted relationship object ${JSON.stringify(value)}`);
    if (!("id" in value)) throw badParameter(`One to many related objects should not have the id value set: ${JSON.stringify(value)}`);
    const id = value.id;
    if (typeof id !== "number" || !Number.isSafeInteger(id)) throw badParameter(`Badly formatted relationship object ${JSON.stringify(value)}`);
    const existing = this.find(target, id);
    this.referenced.push({ def: target, id });
    if (Object.keys(value).length > 1) {
      const row = this.pending.get(id) ?? { ...existing };
      if (!this.pending.has(id)) {
        this.pending.set(id, row);
        this.ops.push({ kind: "update", def: target, row });
      }
      this.parseEntity(target, value, row);
    }
    return id;
  }

  private stamp(op: Op): void {
    if (op.kind === "create") {
      for (const [field, attribute] of Object.entries(op.def.attributes)) {
        if ((op.row[field] === undefined || op.row[field] === null) && attribute.defaultValue !== undefined) op.row[field] = attribute.defaultValue;
      }
    } else {
      op.row.modId = this.ctx.userName;
      op.row.modTime = this.ctx.now;
    }
  }

  private apply(op: Op): void {
    const { tx } = this.ctx;
    const key = uniqueKey(op.def, op.row);
    if (key !== undefined) {
      const other = tx.findUnique(op.def.name, key);
      if (other !== undefined && other !== op.row.id) {
        throw new IcatFakeError("OBJECT_ALREADY_EXISTS", duplicateMessage(op.def, op.row, tx.createdIds.has(other)));
      }
    }
    if (op.kind === "create") tx.insert(op.def, op.row);
    else tx.replace(op.def, op.row);
  }
}

function parseAttribute(def: EntityDef, field: string, attribute: AttributeDef, value: Json): unknown {
  if (value === null) return null;
  // EntityBeanManager.parseEntity casts the JSON value to what the setter takes (JsonString, JsonNumber,
  // longValueExact …) without checking first: a wrong type escapes as a Java exception, which
  // ThrowableExceptionMapper answers as 500 INTERNAL "<class> <message>". Nothing says which field.
  const wrongType = () => new IcatFakeError("INTERNAL", javaCastFailure(attribute.type, value));
  switch (attribute.type) {
    case "String":
      if (typeof value !== "string") throw wrongType();
      return value;
    case "Integer":
      if (typeof value !== "number" || !Number.isInteger(value) || Math.abs(value) > 2 ** 31) throw wrongType();
      return value;
    case "Long":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw wrongType();
      return value;
    case "Double":
      if (typeof value !== "number") throw wrongType();
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw badParameter(`Field ${field} must be true or false in ${def.name}`);
      return value;
    case "Date": {
      const ms = typeof value === "string" ? parseIcatDate(value) : undefined;
      if (ms === undefined) throw badParameter(`Badly formatted date ${JSON.stringify(value)}`);
      return ms;
    }
    case "ParameterValueType": {
      const upper = typeof value === "string" ? value.toUpperCase() : "";
      if (!(PARAMETER_VALUE_TYPES as readonly string[]).includes(upper)) {
        throw badParameter(`Field ${field} must be in [${PARAMETER_VALUE_TYPES.join(", ")}] for ${def.name}`);
      }
      return upper;
    }
  }
}

/** The exception a mistyped JSON value raises in parseEntity (jakarta.json + BigDecimal). */
function javaCastFailure(type: AttributeDef["type"], value: Json): string {
  if (typeof value === "number" && (type === "Long" || type === "Integer")) return `class java.lang.ArithmeticException ${Number.isInteger(value) ? "Overflow" : "Rounding necessary"}`;
  const jsonClass = typeof value === "string" ? "JsonStringImpl" : typeof value === "number" ? "JsonNumberImpl" : typeof value === "boolean" ? "JsonValueImpl" : Array.isArray(value) ? "JsonArrayImpl" : "JsonObjectImpl";
  const target = type === "String" ? "jakarta.json.JsonString" : "jakarta.json.JsonNumber";
  return `class java.lang.ClassCastException class org.eclipse.parsson.${jsonClass} cannot be cast to class ${target}`;
}

/** Java's Double.toString for the common cases ("5.0", "295.3"). */
function javaDouble(value: number): string {
  return Number.isInteger(value) && Math.abs(value) < 1e7 ? value.toFixed(1) : String(value);
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? "an" : "a";
}

/**
 * Parameter.check (enforced limits, on create and update), XParameter.preparePersist (applicability, on create
 * only), then EntityBeanManager.isValid (not-null, lengths). The server does not check that the value field
 * matches the type's valueType unless the type is enforced.
 */
function validateRow(tx: Tx, op: Op): void {
  const { def, row } = op;
  if (def.parameterOf) {
    if (row.type === undefined || row.type === null) throw validation("Type of parameter is not set");
    const type = tx.get("ParameterType", row.type as number);
    if (type) {
      if (type.enforced === true) checkEnforced(tx, type, row);
      if (op.kind === "create" && type[`applicableTo${def.parameterOf}`] !== true) {
        throw validation(`Parameter of type ${String(type.name)} is not applicable to ${article(def.parameterOf)} ${def.parameterOf}`);
      }
    }
  }
  const notNull = [
    ...Object.entries(def.attributes).filter(([, a]) => a.notNull).map(([f]) => f),
    ...Object.entries(def.manyToOne).filter(([, r]) => r.notNull).map(([f]) => f),
  ].sort();
  for (const field of notNull) {
    if (row[field] === undefined || row[field] === null) throw validation(`${def.name}: ${field} cannot be null.`);
  }
  for (const [field, attribute] of Object.entries(def.attributes)) {
    const value = row[field];
    if (attribute.type === "String" && typeof value === "string" && attribute.length !== undefined && value.length > attribute.length) {
      throw validation(`${def.name}: ${field} cannot have length > ${attribute.length}`);
    }
  }
}

function checkEnforced(tx: Tx, type: Row, row: Row): void {
  const name = String(type.name);
  if (type.valueType === "NUMERIC") {
    const value = row.numericValue;
    // The real server compares a null Double here and fails with a NullPointerException (500 INTERNAL);
    // the fake says what is wrong instead.
    if (typeof value !== "number") throw validation(`Parameter of type ${name} has no numeric value`);
    const min = type.minimumNumericValue;
    const max = type.maximumNumericValue;
    if (typeof min === "number" && value < min) throw validation(`Parameter of type ${name} has value ${javaDouble(value)} < ${javaDouble(min)}`);
    if (typeof max === "number" && value > max) throw validation(`Parameter of type ${name} has value ${javaDouble(value)} > ${javaDouble(max)}`);
  } else if (type.valueType === "STRING") {
    const allowed = tx.children("PermissibleStringValue", "type", type.id).map((p) => String(p.value));
    if (allowed.length > 0 && !allowed.includes(String(row.stringValue))) {
      throw validation(`Parameter of type ${name} has value ${String(row.stringValue)} not in allowed set [${allowed.join(", ")}]`);
    }
  }
}

/** The two texts of icat-api.md §6: "id:N" for relations inside one request, "Entity:N" against the DB. */
function duplicateMessage(def: EntityDef, row: Row, inRequest: boolean): string {
  const parts = def.unique.map((field) => {
    const relation = def.manyToOne[field];
    const value = row[field];
    const shown = relation ? (inRequest ? `id:${String(value)}` : `${relation.target}:${String(value)}`) : String(value);
    return `${field} = '${shown}'`;
  });
  return `${def.name} exists with ${parts.join(", ")}`;
}

/** `DELETE /icat/entityManager`: ids only, cascading over every one-to-many relation. */
export function deleteEntities(json: string, ctx: WriteContext): void {
  const items = topLevelItems(json);
  const { tx } = ctx;
  items.forEach((item, offset) => {
    try {
      if (!isObject(item) || Object.keys(item).length !== 1) {
        throw badParameter(`Entity must have one keyword followed by its values in json ${JSON.stringify(item)}`);
      }
      const [name, value] = Object.entries(item)[0] as [string, Json];
      const def = tx.schema.get(name);
      if (!def) throw badParameter(`${name} is not an ICAT entity`);
      if (!isObject(value) || Object.keys(value).length !== 1 || typeof value.id !== "number") {
        throw badParameter(`entity must have only the id value specified in json ${JSON.stringify(item)}`);
      }
      const row = tx.get(name, value.id);
      if (!row) throw new IcatFakeError("NO_SUCH_OBJECT_FOUND", `${name}[id:${value.id}] not found.`);
      if (!ctx.mayWrite) throw new IcatFakeError("INSUFFICIENT_PRIVILEGES", `DELETE access to this ${name} is not allowed.`);
      cascadeDelete(tx, def, row);
    } catch (err) {
      if (err instanceof IcatFakeError) err.offset = offset;
      throw err;
    }
  });
}

function cascadeDelete(tx: Tx, def: EntityDef, row: Row): void {
  if (!tx.get(def.name, row.id)) return; // already removed through another path
  for (const relation of Object.values(def.oneToMany)) {
    const childDef = tx.schema.get(relation.target);
    if (!childDef) continue;
    for (const child of tx.children(relation.target, relation.backRef, row.id)) cascadeDelete(tx, childDef, child);
  }
  tx.remove(def, row.id);
}
