import type { EntityDef } from "./schema.js";
import type { Row } from "./store.js";

/**
 * What the database under icat.server keeps and refuses, beyond what the entity annotations say (issue 20).
 * icat.server's EntityBeanManager.writeOne persists and flushes first; only when the database refuses does it
 * run isValid/isUnique to explain. So a value the annotations allow but the column cannot hold fails at the
 * database, and the explanation the server then finds is not about that value (see `DatabaseRefusal`).
 *
 * - "mysql" (MySQL/MariaDB, the usual deployment): `DATETIME` without fractional seconds, so dates lose their
 *   milliseconds (icat.server's own REST tests, TestRS, read back `…:47.000Z`); the `utf8` (3-byte) charset refuses
 *   characters outside the Basic Multilingual Plane; `DOUBLE` keeps a Double as it is.
 * - "oracle": `TIMESTAMP` keeps milliseconds; `VARCHAR2(n)` counts bytes, not characters; Double columns are
 *   `NUMBER(38,19)`: 19 decimal places kept, 19 integer digits at most.
 */
export type DatabaseFlavour = "mysql" | "oracle";

/** A write the database itself refuses: the JDBC text the server wraps in "Unexpected DB response …". */
export class DatabaseRefusal extends Error {}

/** Largest magnitude NUMBER(38,19) holds: 38 digits of which 19 after the point. */
const ORACLE_NUMBER_LIMIT = 1e19;

const ECLIPSELINK = "class jakarta.persistence.PersistenceException Exception [EclipseLink-4002] (Eclipse Persistence Services): org.eclipse.persistence.exceptions.DatabaseException Internal Exception:";

export class Database {
  constructor(
    readonly flavour: DatabaseFlavour,
    /** Column lengths that differ from the annotations, e.g. `{"Datafile.location": 255}` on a 6.2 server not migrated. */
    private readonly columns: Record<string, number> = {},
  ) {}

  get keepsMilliseconds(): boolean {
    return this.flavour === "oracle";
  }

  /** A date as the column stores it (MariaDB truncates the fraction; MySQL 8 would round). */
  storeDate(ms: number): number {
    return this.keepsMilliseconds ? ms : Math.floor(ms / 1000) * 1000;
  }

  /** A Double as the column stores it. */
  storeDouble(value: number): number {
    return this.flavour === "oracle" ? Number(value.toFixed(19)) : value;
  }

  /**
   * The row as the database would store it, or a DatabaseRefusal. Called after the annotation checks
   * (not-null, character lengths) passed, as the real flush happens before them.
   */
  store(def: EntityDef, row: Row): Row {
    const out: Row = { ...row, createTime: this.storeDate(row.createTime), modTime: this.storeDate(row.modTime) };
    for (const [field, attribute] of Object.entries(def.attributes)) {
      const value = row[field];
      if (value === null || value === undefined) continue;
      const column = `${def.name.toUpperCase()}.${field.toUpperCase()}`;
      if (attribute.type === "Date") out[field] = this.storeDate(value as number);
      if (attribute.type === "Double") {
        const number = value as number;
        if (this.flavour === "oracle" && Math.abs(number) >= ORACLE_NUMBER_LIMIT) {
          throw new DatabaseRefusal(`${ECLIPSELINK} java.sql.SQLException: ORA-01438: value larger than specified precision allowed for this column`);
        }
        out[field] = this.storeDouble(number);
      }
      if (attribute.type === "String") this.checkString(def, field, column, value as string, attribute.length);
    }
    return out;
  }

  private checkString(def: EntityDef, field: string, column: string, value: string, annotated: number | undefined): void {
    const length = this.columns[`${def.name}.${field}`] ?? annotated;
    if (this.flavour === "mysql") {
      const astral = /[\u{10000}-\u{10FFFF}]/u.exec(value);
      if (astral) {
        const bytes = [...Buffer.from(astral[0], "utf8")].map((b) => `\\x${b.toString(16).toUpperCase()}`).join("");
        throw new DatabaseRefusal(`${ECLIPSELINK} java.sql.SQLException: Incorrect string value: '${bytes}' for column '${field.toUpperCase()}' at row 1`);
      }
      if (length !== undefined && [...value].length > length) {
        throw new DatabaseRefusal(`${ECLIPSELINK} com.mysql.cj.jdbc.exceptions.MysqlDataTruncation: Data truncation: Data too long for column '${field.toUpperCase()}' at row 1`);
      }
      return;
    }
    const bytes = Buffer.byteLength(value, "utf8");
    if (length !== undefined && bytes > length) {
      throw new DatabaseRefusal(`${ECLIPSELINK} java.sql.SQLException: ORA-12899: value too large for column "ICAT"."${column.replace(".", '"."')}" (actual: ${bytes}, maximum: ${length})`);
    }
  }
}
