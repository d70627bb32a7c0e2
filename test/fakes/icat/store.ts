import type { EntityDef, Schema } from "./schema.js";

/**
 * Rows of the fake's database. Attributes hold JSON-ish values (dates as epoch ms), many-to-one fields hold
 * the target id. One-to-many relations are not stored: they are the rows whose back-reference points here.
 */
export interface Row {
  id: number;
  createId: string;
  createTime: number;
  modId: string;
  modTime: number;
  [field: string]: unknown;
}

/** Ids come from one sequence shared by all entity types (icat-api.md §7), optionally with gaps. */
export class IdSequence {
  private next: number;
  private random: () => number;

  constructor(
    first: number,
    private readonly maxGap: number,
    seed: number,
  ) {
    this.next = first;
    this.random = mulberry32(seed);
  }

  take(): number {
    const id = this.next;
    const gap = this.maxGap > 0 ? Math.floor(this.random() * (this.maxGap + 1)) : 0;
    this.next = id + 1 + gap;
    return id;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniqueKey(def: EntityDef, row: Row): string | undefined {
  if (def.unique.length === 0) return undefined;
  return JSON.stringify(def.unique.map((f) => row[f] ?? null));
}

export class Store {
  readonly tables = new Map<string, Map<number, Row>>();
  /** Per entity: unique key → id. */
  readonly uniqueIndex = new Map<string, Map<string, number>>();

  constructor(readonly schema: Schema) {
    for (const name of schema.keys()) {
      this.tables.set(name, new Map());
      this.uniqueIndex.set(name, new Map());
    }
  }

  table(entity: string): Map<number, Row> {
    const table = this.tables.get(entity);
    if (!table) throw new Error(`no table ${entity}`);
    return table;
  }

  begin(): Tx {
    return new Tx(this);
  }
}

/**
 * Copy-on-write view of the store for one request: reads see the store plus this request's changes;
 * commit applies the changes, dropping the Tx discards them.
 */
export class Tx {
  private readonly rows = new Map<string, Map<number, Row | null>>();
  private readonly keys = new Map<string, Map<string, number | null>>();
  /** Ids of the rows created in this transaction (for the in-request duplicate message). */
  readonly createdIds = new Set<number>();
  changed = false;

  constructor(private readonly store: Store) {}

  get schema(): Schema {
    return this.store.schema;
  }

  get(entity: string, id: number): Row | undefined {
    const overlay = this.rows.get(entity);
    if (overlay?.has(id)) return overlay.get(id) ?? undefined;
    return this.store.table(entity).get(id);
  }

  /** All rows of an entity, by id. */
  scan(entity: string): Row[] {
    const overlay = this.rows.get(entity);
    const out: Row[] = [];
    for (const [id, row] of this.store.table(entity)) if (!overlay?.has(id)) out.push(row);
    if (overlay) for (const row of overlay.values()) if (row) out.push(row);
    return out.sort((a, b) => a.id - b.id);
  }

  /** Children of a parent through a back-reference field. */
  children(entity: string, backRef: string, parentId: number): Row[] {
    return this.scan(entity).filter((row) => row[backRef] === parentId);
  }

  findUnique(entity: string, key: string): number | undefined {
    const overlay = this.keys.get(entity);
    if (overlay?.has(key)) return overlay.get(key) ?? undefined;
    return this.store.uniqueIndex.get(entity)?.get(key);
  }

  insert(def: EntityDef, row: Row): void {
    this.overlay(def.name).set(row.id, row);
    this.createdIds.add(row.id);
    const key = uniqueKey(def, row);
    if (key !== undefined) this.keyOverlay(def.name).set(key, row.id);
    this.changed = true;
  }

  replace(def: EntityDef, row: Row): void {
    const old = this.get(def.name, row.id);
    if (old) this.dropKey(def, old);
    this.overlay(def.name).set(row.id, row);
    const key = uniqueKey(def, row);
    if (key !== undefined) this.keyOverlay(def.name).set(key, row.id);
    this.changed = true;
  }

  remove(def: EntityDef, id: number): void {
    const old = this.get(def.name, id);
    if (!old) return;
    this.dropKey(def, old);
    this.overlay(def.name).set(id, null);
    this.changed = true;
  }

  commit(): void {
    for (const [entity, overlay] of this.rows) {
      const table = this.store.table(entity);
      for (const [id, row] of overlay) {
        if (row) table.set(id, row);
        else table.delete(id);
      }
    }
    for (const [entity, overlay] of this.keys) {
      const index = this.store.uniqueIndex.get(entity);
      if (!index) continue;
      for (const [key, id] of overlay) {
        if (id === null) index.delete(key);
        else index.set(key, id);
      }
    }
    this.rows.clear();
    this.keys.clear();
  }

  private dropKey(def: EntityDef, row: Row): void {
    const key = uniqueKey(def, row);
    if (key !== undefined && this.findUnique(def.name, key) === row.id) this.keyOverlay(def.name).set(key, null);
  }

  private overlay(entity: string): Map<number, Row | null> {
    let overlay = this.rows.get(entity);
    if (!overlay) this.rows.set(entity, (overlay = new Map()));
    return overlay;
  }

  private keyOverlay(entity: string): Map<string, number | null> {
    let overlay = this.keys.get(entity);
    if (!overlay) this.keys.set(entity, (overlay = new Map()));
    return overlay;
  }
}
