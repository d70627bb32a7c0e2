import { formatIcatDate, parseTimestampLiteral } from "./dates.js";
import { IcatFakeError, badParameter } from "./errors.js";
import { BASE_FIELDS, PARAMETER_VALUE_TYPES, type AttributeType, type EntityDef } from "./schema.js";
import type { Row, Tx } from "./store.js";

/**
 * The JPQL subset an ingest client needs (icat-api.md §10.6) and nothing more, so that an unplanned query
 * fails loudly in tests:
 *   SELECT x | x.f[, x.g.h] | COUNT(x)  FROM Entity x
 *   [WHERE cond [AND cond]...]   cond: path (=|<>|>|>=|<|<=) literal | path IS [NOT] NULL | path IN (literal, ...)
 *   [ORDER BY path [ASC|DESC]] [LIMIT offset, count] [INCLUDE 1 | INCLUDE x.rel[.rel][, ...]]
 * and the get-by-id form `Entity [x] [INCLUDE ...]`. Output follows ICATRest.jsonise (§5.1).
 */

export interface QueryContext {
  tx: Tx;
  userName: string;
  zoneOffsetMinutes: number;
  maxEntities: number;
  /** READ rules (GateKeeper.getReadable / EntityBaseBean.pruned): unreadable rows are not returned or included. */
  mayRead: (entity: string, row: Row) => boolean;
}

type TokenType = "word" | "number" | "string" | "ts" | "param" | "punct";
interface Token {
  type: TokenType;
  value: string;
  pos: number;
}

const KEYWORDS = new Set(["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "ORDER", "BY", "ASC", "DESC", "LIMIT", "INCLUDE", "IS", "NULL", "IN", "COUNT", "DISTINCT", "JOIN", "LEFT", "GROUP", "HAVING", "LIKE", "BETWEEN", "TRUE", "FALSE"]);

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  const patterns: [TokenType, RegExp][] = [
    ["string", /^'(?:[^']|'')*'/],
    ["ts", /^\{ts\s+[^}]*\}/],
    ["param", /^:[A-Za-z_]\w*/],
    ["number", /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/],
    ["word", /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*/],
    ["punct", /^(?:<>|!=|>=|<=|=|<|>|\(|\)|,)/],
  ];
  let pos = 0;
  while (pos < query.length) {
    const rest = query.slice(pos);
    const space = /^\s+/.exec(rest);
    if (space) {
      pos += space[0].length;
      continue;
    }
    let matched = false;
    for (const [type, re] of patterns) {
      const m = re.exec(rest);
      if (m) {
        tokens.push({ type, value: m[0], pos });
        pos += m[0].length;
        matched = true;
        break;
      }
    }
    if (!matched) throw badParameter(`Unexpected character '${query[pos] ?? ""}' at position ${pos} in query ${query}`);
  }
  return tokens;
}

class Cursor {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly query: string,
  ) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  next(): Token {
    const t = this.tokens[this.i++];
    if (!t) throw this.error("unexpected end of query");
    return t;
  }

  isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.type === "word" && t.value.toUpperCase() === word;
  }

  acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.i++;
    return true;
  }

  expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) throw this.error(`expected ${word}`);
  }

  acceptPunct(p: string): boolean {
    const t = this.peek();
    if (t?.type === "punct" && t.value === p) {
      this.i++;
      return true;
    }
    return false;
  }

  expectPunct(p: string): void {
    if (!this.acceptPunct(p)) throw this.error(`expected '${p}'`);
  }

  word(what: string): string {
    const t = this.next();
    if (t.type !== "word" || KEYWORDS.has(t.value.toUpperCase())) throw this.error(`expected ${what}`, t);
    return t.value;
  }

  integer(what: string): number {
    const t = this.next();
    if (t.type !== "number" || !/^\d+$/.test(t.value)) throw this.error(`expected ${what}`, t);
    return Number(t.value);
  }

  done(): boolean {
    return this.i >= this.tokens.length;
  }

  error(message: string, token = this.peek()): IcatFakeError {
    const where = token ? `at '${token.value}' (position ${token.pos})` : "at the end";
    return badParameter(`Query not supported by the fake ICAT: ${message} ${where} in ${this.query}`);
  }
}

/** A dotted path below the query's alias, resolved against the schema. */
interface ResolvedPath {
  text: string;
  /** Many-to-one hops before the last field. */
  hops: { field: string; target: string }[];
  field: string;
  /** Attribute type of the last field, or "relation" when it names a many-to-one. */
  type: AttributeType | "relation";
}

function resolvePath(ctx: QueryContext, root: EntityDef, alias: string, text: string, allowRelationEnd: boolean, cursor: Cursor): ResolvedPath {
  const parts = text.split(".");
  if (parts[0] !== alias || parts.length < 2) throw cursor.error(`path ${text} must start with the alias ${alias}.`);
  let def = root;
  const hops: ResolvedPath["hops"] = [];
  const fields = parts.slice(1);
  for (const [i, field] of fields.entries()) {
    const last = i === fields.length - 1;
    const relation = def.manyToOne[field];
    if (!last) {
      if (!relation) throw cursor.error(`${field} is not a many-to-one relation of ${def.name}`);
      hops.push({ field, target: relation.target });
      def = ctx.tx.schema.get(relation.target) as EntityDef;
      continue;
    }
    const base = BASE_FIELDS[field];
    if (base) return { text, hops, field, type: base };
    const attribute = def.attributes[field];
    if (attribute) return { text, hops, field, type: attribute.type };
    if (relation && allowRelationEnd) return { text, hops, field, type: "relation" };
    throw cursor.error(`${field} is not an attribute of ${def.name}`);
  }
  throw cursor.error(`bad path ${text}`);
}

type Literal = { kind: "value"; value: string | number | boolean };

interface Condition {
  path: ResolvedPath;
  op: "=" | "<>" | ">" | ">=" | "<" | "<=" | "isNull" | "notNull" | "in";
  values: Literal[];
}

type IncludeTree = Map<string, IncludeTree>;
type Include = { one: true } | { tree: IncludeTree };

interface SearchQuery {
  entity: EntityDef;
  alias: string;
  projection: { kind: "entity" } | { kind: "count" } | { kind: "fields"; paths: ResolvedPath[] };
  where: Condition[];
  order?: { path: ResolvedPath; desc: boolean };
  limit?: { offset: number; count: number };
  include?: Include;
}

function readLiteral(ctx: QueryContext, path: ResolvedPath, cursor: Cursor): Literal {
  const t = cursor.next();
  const mismatch = () => cursor.error(`literal ${t.value} does not fit ${path.text} (${path.type})`, t);
  switch (path.type) {
    case "String":
      if (t.type === "string") return { kind: "value", value: t.value.slice(1, -1).replace(/''/g, "'") };
      if (t.type === "param" && t.value === ":user") return { kind: "value", value: ctx.userName };
      throw mismatch();
    case "Long":
    case "Integer":
    case "Double":
      if (t.type === "number") return { kind: "value", value: Number(t.value) };
      throw mismatch();
    case "boolean":
      if (t.type === "word" && /^(TRUE|FALSE)$/i.test(t.value)) return { kind: "value", value: t.value.toUpperCase() === "TRUE" };
      throw mismatch();
    case "Date": {
      const ms = t.type === "ts" ? parseTimestampLiteral(t.value.slice(3, -1), ctx.zoneOffsetMinutes) : undefined;
      if (ms === undefined) throw mismatch();
      return { kind: "value", value: ms };
    }
    case "ParameterValueType": {
      const m = t.type === "word" ? /^org\.icatproject\.ParameterValueType\.(\w+)$/.exec(t.value) : null;
      if (!m || !(PARAMETER_VALUE_TYPES as readonly string[]).includes(m[1] ?? "")) throw mismatch();
      return { kind: "value", value: m[1] as string };
    }
    case "relation":
      throw cursor.error(`a relation (${path.text}) can only be tested with IS NULL`, t);
  }
}

function readCondition(ctx: QueryContext, q: SearchQuery, cursor: Cursor): Condition {
  const path = resolvePath(ctx, q.entity, q.alias, cursor.word("a path"), true, cursor);
  if (cursor.acceptKeyword("IS")) {
    const not = cursor.acceptKeyword("NOT");
    cursor.expectKeyword("NULL");
    return { path, op: not ? "notNull" : "isNull", values: [] };
  }
  if (path.type === "relation") throw cursor.error(`a relation (${path.text}) can only be tested with IS NULL`);
  if (cursor.acceptKeyword("IN")) {
    cursor.expectPunct("(");
    const values = [readLiteral(ctx, path, cursor)];
    while (cursor.acceptPunct(",")) values.push(readLiteral(ctx, path, cursor));
    cursor.expectPunct(")");
    return { path, op: "in", values };
  }
  const t = cursor.next();
  const ops: Record<string, Condition["op"]> = { "=": "=", "<>": "<>", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<=" };
  const op = t.type === "punct" ? ops[t.value] : undefined;
  if (!op) throw cursor.error("expected a comparison, IS NULL or IN", t);
  if (op !== "=" && op !== "<>" && !["Long", "Integer", "Double", "Date", "String"].includes(path.type)) {
    throw cursor.error(`cannot order-compare ${path.text}`, t);
  }
  return { path, op, values: [readLiteral(ctx, path, cursor)] };
}

function readInclude(ctx: QueryContext, entity: EntityDef, alias: string | undefined, cursor: Cursor): Include {
  if (cursor.peek()?.type === "number") {
    const t = cursor.next();
    if (t.value !== "1") throw cursor.error("INCLUDE takes 1 or relation paths", t);
    return { one: true };
  }
  const tree: IncludeTree = new Map();
  do {
    const text = cursor.word("an INCLUDE path");
    const parts = text.split(".");
    if (!alias || parts[0] !== alias || parts.length < 2) throw cursor.error(`INCLUDE path ${text} must start with the alias`);
    let def = entity;
    let node = tree;
    for (const field of parts.slice(1)) {
      const target = def.manyToOne[field]?.target ?? def.oneToMany[field]?.target;
      if (!target) throw cursor.error(`${field} is not a relation of ${def.name}`);
      let child = node.get(field);
      if (!child) node.set(field, (child = new Map()));
      node = child;
      def = ctx.tx.schema.get(target) as EntityDef;
    }
  } while (cursor.acceptPunct(","));
  return { tree };
}

function entityNamed(ctx: QueryContext, name: string, cursor: Cursor): EntityDef {
  const def = ctx.tx.schema.get(name);
  if (!def) throw cursor.error(`${name} is not an ICAT entity`);
  return def;
}

function parseSearch(ctx: QueryContext, query: string): SearchQuery {
  const cursor = new Cursor(tokenize(query), query);
  cursor.expectKeyword("SELECT");
  let projectionKind: "entity" | "count" | "fields";
  let projected: string[] = [];
  if (cursor.acceptKeyword("COUNT")) {
    cursor.expectPunct("(");
    projected = [cursor.word("an alias")];
    cursor.expectPunct(")");
    projectionKind = "count";
  } else {
    projected = [cursor.word("an alias or path")];
    while (cursor.acceptPunct(",")) projected.push(cursor.word("a path"));
    projectionKind = projected.length === 1 && !projected[0]?.includes(".") ? "entity" : "fields";
  }
  cursor.expectKeyword("FROM");
  const entity = entityNamed(ctx, cursor.word("an entity name"), cursor);
  const alias = cursor.word("an alias");
  const q: SearchQuery = { entity, alias, projection: { kind: "entity" }, where: [] };
  if (projectionKind === "fields") {
    q.projection = { kind: "fields", paths: projected.map((p) => resolvePath(ctx, entity, alias, p, false, cursor)) };
  } else {
    if (projected[0] !== alias) throw cursor.error(`${projected[0] ?? ""} is not the alias ${alias}`);
    q.projection = { kind: projectionKind };
  }
  if (cursor.acceptKeyword("WHERE")) {
    q.where.push(readCondition(ctx, q, cursor));
    while (cursor.acceptKeyword("AND")) q.where.push(readCondition(ctx, q, cursor));
  }
  if (cursor.acceptKeyword("ORDER")) {
    cursor.expectKeyword("BY");
    const path = resolvePath(ctx, entity, alias, cursor.word("a path"), false, cursor);
    const desc = cursor.acceptKeyword("DESC");
    if (!desc) cursor.acceptKeyword("ASC");
    q.order = { path, desc };
  }
  if (cursor.acceptKeyword("LIMIT")) {
    const offset = cursor.integer("an offset");
    cursor.expectPunct(",");
    q.limit = { offset, count: cursor.integer("a count") };
  }
  if (cursor.acceptKeyword("INCLUDE")) {
    if (q.projection.kind !== "entity") throw cursor.error("INCLUDE needs an entity result");
    q.include = readInclude(ctx, entity, alias, cursor);
  }
  if (!cursor.done()) throw cursor.error("unexpected text");
  return q;
}

function valueAt(tx: Tx, row: Row, path: ResolvedPath): { found: boolean; value: unknown } {
  let current: Row | undefined = row;
  for (const hop of path.hops) {
    const id = current[hop.field];
    if (id === null || id === undefined) return { found: false, value: null };
    current = tx.get(hop.target, id as number);
    if (!current) return { found: false, value: null };
  }
  return { found: true, value: current[path.field] ?? null };
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

function test(tx: Tx, row: Row, c: Condition): boolean {
  const { found, value } = valueAt(tx, row, c.path);
  if (!found) return false; // implicit inner join
  switch (c.op) {
    case "isNull":
      return value === null;
    case "notNull":
      return value !== null;
    case "in":
      return value !== null && c.values.some((l) => l.value === value);
  }
  const literal = c.values[0]?.value;
  if (value === null) return false;
  const order = compare(value, literal);
  switch (c.op) {
    case "=":
      return order === 0;
    case "<>":
      return order !== 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
  }
}

function outputValue(ctx: QueryContext, type: AttributeType | "relation", value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === "Date") return formatIcatDate(value as number, ctx.zoneOffsetMinutes);
  return value;
}

/** An entity as ICATRest writes it: base fields, non-null attributes, then included relations (no wrapper). */
function jsonise(ctx: QueryContext, def: EntityDef, row: Row, include: Include | undefined, counter: { n: number }): Record<string, unknown> {
  counter.n++;
  const out: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(BASE_FIELDS)) out[field] = outputValue(ctx, type, row[field]);
  for (const [field, attribute] of Object.entries(def.attributes)) {
    const value = row[field];
    if (value !== null && value !== undefined) out[field] = outputValue(ctx, attribute.type, value);
  }
  if (!include) return out;
  const relations: [string, IncludeTree | undefined][] =
    "one" in include ? Object.keys(def.manyToOne).map((f) => [f, undefined]) : [...include.tree.entries()];
  for (const [field, subtree] of relations) {
    const sub = subtree && subtree.size > 0 ? { tree: subtree } : undefined;
    const manyToOne = def.manyToOne[field];
    if (manyToOne) {
      const id = row[field];
      const target = id === null || id === undefined ? undefined : ctx.tx.get(manyToOne.target, id as number);
      // An INCLUDEd object the user may not read is left out without a word.
      if (target && ctx.mayRead(manyToOne.target, target)) out[field] = jsonise(ctx, ctx.tx.schema.get(manyToOne.target) as EntityDef, target, sub, counter);
      continue;
    }
    const oneToMany = def.oneToMany[field];
    if (oneToMany) {
      const childDef = ctx.tx.schema.get(oneToMany.target) as EntityDef;
      out[field] = ctx.tx
        .children(oneToMany.target, oneToMany.backRef, row.id)
        .filter((child) => ctx.mayRead(oneToMany.target, child))
        .map((child) => jsonise(ctx, childDef, child, sub, counter));
    }
  }
  return out;
}

/** `GET /icat/entityManager?query=SELECT ...` → the JSON array to answer. */
export function search(ctx: QueryContext, query: string): unknown[] {
  if (!query.trim().toUpperCase().startsWith("SELECT")) {
    throw badParameter(`The fake ICAT accepts JPQL (SELECT ...) only, not the concise syntax: ${query}`);
  }
  const q = parseSearch(ctx, query);
  const { tx } = ctx;
  // READ rules filter the rows of the selected entity only; WHERE may go through rows the user cannot read.
  let rows = tx.scan(q.entity.name).filter((row) => q.where.every((c) => test(tx, row, c)) && ctx.mayRead(q.entity.name, row));
  if (q.projection.kind === "count") return [rows.length];
  if (q.projection.kind === "fields") {
    const paths = q.projection.paths;
    rows = rows.filter((row) => paths.every((p) => valueAt(tx, row, p).found));
  }
  if (q.order) {
    const order = q.order;
    rows.sort((a, b) => compare(valueAt(tx, a, order.path).value, valueAt(tx, b, order.path).value) * (order.desc ? -1 : 1) || a.id - b.id);
  }
  if (q.limit) rows = rows.slice(q.limit.offset, q.limit.offset + q.limit.count);
  if (rows.length > ctx.maxEntities) throw new IcatFakeError("VALIDATION", `attempt to process more than ${ctx.maxEntities} entities`);

  if (q.projection.kind === "fields") {
    const paths = q.projection.paths;
    return rows.map((row) => {
      const values = paths.map((p) => outputValue(ctx, p.type, valueAt(tx, row, p).value));
      return values.length === 1 ? values[0] : values;
    });
  }
  const counter = { n: 0 };
  return rows.map((row) => {
    const entity = jsonise(ctx, q.entity, row, q.include, counter);
    if (counter.n > ctx.maxEntities) throw new IcatFakeError("VALIDATION", `attempt to return more than ${ctx.maxEntities} entities`);
    return { [q.entity.name]: entity };
  });
}

/** `GET /icat/entityManager?query=Entity [x] [INCLUDE ...]&id=N` → one wrapped object. */
export function getById(ctx: QueryContext, query: string, id: number): Record<string, unknown> {
  const cursor = new Cursor(tokenize(query), query);
  const entity = entityNamed(ctx, cursor.word("an entity name"), cursor);
  let alias: string | undefined;
  if (!cursor.done() && !cursor.isKeyword("INCLUDE")) alias = cursor.word("an alias");
  let include: Include | undefined;
  if (cursor.acceptKeyword("INCLUDE")) include = readInclude(ctx, entity, alias, cursor);
  if (!cursor.done()) throw cursor.error("unexpected text");
  const row = ctx.tx.get(entity.name, id);
  if (!row) throw new IcatFakeError("NO_SUCH_OBJECT_FOUND", `${entity.name}[id:${id}] not found.`);
  if (!ctx.mayRead(entity.name, row)) throw new IcatFakeError("INSUFFICIENT_PRIVILEGES", `READ access to this ${entity.name} is not allowed.`);
  return { [entity.name]: jsonise(ctx, entity, row, include, { n: 0 }) };
}
