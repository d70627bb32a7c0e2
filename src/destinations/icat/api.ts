import { PermanentError } from "../../sync/errors.js";
import { cleanMessage, isIcatCode } from "./errors.js";
import type { IcatHttp } from "./http.js";
import { checkWrite, createdEntities, type EntitySchema } from "./schema.js";
import type { IcatSession } from "./session.js";

/**
 * ICAT entity-manager calls with a session: search, write, keyset paging (icat-api.md §3, §5, §9.7).
 * Errors are the raw IcatServerError/IcatTransportError; callers classify them with the operation in view.
 */

/** A JPQL string literal: single quotes, a quote doubled. */
export function jpqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function jpqlId(id: number): string {
  if (!Number.isSafeInteger(id)) throw new Error(`not an ICAT id: ${id}`);
  return String(id);
}

export type EntityRow = Record<string, unknown> & { id: number };

/** Keep GET URIs short: the Java client refuses more than 2048 characters (icat-api.md §1). */
const MAX_QUERY_LENGTH = 1500;

export class IcatApi {
  constructor(
    private readonly http: IcatHttp,
    readonly session: IcatSession,
    private readonly schemas: Record<string, EntitySchema>,
  ) {}

  /** Rows per keyset page: well below maxEntities, which also counts INCLUDEd objects. */
  get pageSize(): number {
    return Math.max(1, Math.min(500, Math.floor(this.session.maxEntities / 4)));
  }

  async search(query: string): Promise<unknown[]> {
    // Retrying cannot shorten it: a permanent failure naming the start of the query.
    if (query.length > MAX_QUERY_LENGTH) throw new PermanentError(`ICAT query too long (${query.length} characters): ${query.slice(0, 120)}…`);
    const answer = await this.session.run((sessionId) => this.http.get("/entityManager", { sessionId, query }));
    if (!Array.isArray(answer)) throw new Error("ICAT search answer is not an array");
    return answer;
  }

  /** `SELECT x FROM Entity x ...` → the unwrapped entity objects. */
  async searchEntities(entity: string, query: string): Promise<EntityRow[]> {
    const rows = await this.search(query);
    return rows.map((row) => {
      const inner = (row as Record<string, unknown> | null)?.[entity] as EntityRow | undefined;
      if (!inner || typeof inner.id !== "number") throw new Error(`ICAT search answer is not a list of ${entity}`);
      return inner;
    });
  }

  /**
   * Create or update; answers the ids of the created top-level objects in input order. The body is checked
   * against the entity schema first (nothing is sent that the server cannot store), and an
   * OBJECT_ALREADY_EXISTS naming an entity the request did not create is reported as the false alarm it is.
   */
  async write(entities: unknown[], options: { timeoutMs?: number } = {}): Promise<number[]> {
    checkWrite(entities, this.schemas);
    const json = JSON.stringify(entities);
    let answer: unknown;
    try {
      answer = await this.session.run((sessionId) => this.http.postForm("/entityManager", { sessionId, entities: json }, options));
    } catch (err) {
      throw this.falseAlarm(err, entities) ?? err;
    }
    if (!Array.isArray(answer) || !answer.every((id) => typeof id === "number")) throw new Error("ICAT write answer is not a list of ids");
    return answer as number[];
  }

  /** Delete entities by id (`[{"InvestigationGroup":{"id":5}}]`; icat-api.md §5.2, ICAT 4.7+), in one transaction. */
  async delete(entities: { [entity: string]: { id: number } }[]): Promise<void> {
    if (entities.length === 0) return;
    await this.session.run((sessionId) => this.http.delete("/entityManager", { sessionId, entities: JSON.stringify(entities) }));
  }

  /**
   * EntityBeanManager.writeOne explains a write the database refused by looking up, by unique key, what the
   * request created and then every entity it named by id, which finds that entity itself: "Dataset exists
   * with …" for a request that only created Datafiles under it. Such an answer is no concurrent writer: the
   * database could not store a value (a column limit), and sending the request again cannot help.
   */
  private falseAlarm(err: unknown, entities: unknown[]): PermanentError | undefined {
    if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS")) return undefined;
    const named = /^(\w+) exists with /.exec(err.serverMessage)?.[1];
    const created = createdEntities(entities, this.schemas);
    if (named === undefined || created.has(named)) return undefined;
    return new PermanentError(
      cleanMessage(
        `ICAT could not store the request (creating ${[...created].join(", ") || "nothing"}, updating by id): its OBJECT_ALREADY_EXISTS names ${named}, ` +
          `which the request only referenced — a false alarm the server raises when its database refuses a value its validation allows ` +
          `(a string too long in bytes, a 4-byte character, a number beyond NUMBER(38,19), a location column not migrated to 511). Server: ${err.serverMessage}`,
      ),
      { httpStatus: err.status },
    );
  }

  /**
   * Every row of a keyset-paged query. `page(afterId, limit)` must select rows with `x.id > afterId`,
   * `ORDER BY x.id` and `LIMIT 0, limit`; never an offset over a set that may change (§9.7).
   */
  private async all<T>(page: (afterId: number, limit: number) => string, idOf: (row: T) => number, read: (query: string) => Promise<T[]>): Promise<T[]> {
    const out: T[] = [];
    let after = 0;
    const limit = this.pageSize;
    for (;;) {
      const rows = await read(page(after, limit));
      out.push(...rows);
      const last = rows.at(-1);
      if (rows.length < limit || last === undefined) return out;
      const next = idOf(last);
      if (!(next > after)) throw new Error("ICAT keyset paging did not advance");
      after = next;
    }
  }

  /** Keyset-paged entities: `page` must filter `x.id > afterId ORDER BY x.id LIMIT 0, limit`. */
  allEntities(entity: string, page: (afterId: number, limit: number) => string): Promise<EntityRow[]> {
    return this.all(page, (row: EntityRow) => row.id, (query) => this.searchEntities(entity, query));
  }

  /** Keyset-paged projections whose first column is the id (`SELECT x.id, x.f ...`). */
  allTuples(page: (afterId: number, limit: number) => string): Promise<unknown[][]> {
    return this.all(
      page,
      (row: unknown[]) => Number(row[0]),
      async (query) => {
        const rows = await this.search(query);
        if (!rows.every(Array.isArray)) throw new Error("ICAT projection answer is not a list of rows");
        return rows as unknown[][];
      },
    );
  }

  async version(): Promise<string> {
    const answer = (await this.http.get("/version", {})) as { version?: unknown } | undefined;
    return typeof answer?.version === "string" ? answer.version : "unknown";
  }

  /** `GET /icat/session/{id}`: who we are and how long the session lasts. */
  async sessionInfo(): Promise<{ userName: string; remainingMinutes: number }> {
    const answer = await this.session.run((sessionId) => this.http.get(`/session/${encodeURIComponent(sessionId)}`, {}));
    const info = answer as { userName?: unknown; remainingMinutes?: unknown } | undefined;
    return { userName: String(info?.userName ?? ""), remainingMinutes: Number(info?.remainingMinutes ?? 0) };
  }
}
