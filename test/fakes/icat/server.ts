import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Database, type DatabaseFlavour } from "./database.js";
import { IcatFakeError, STATUS_BY_CODE, type IcatErrorCode } from "./errors.js";
import { loadFixtures, type FixtureIds } from "./fixtures.js";
import { getById, search, type QueryContext } from "./query.js";
import { schemaFor, versionAtLeast, type Schema } from "./schema.js";
import { SessionManager, type PluginConfig } from "./sessions.js";
import { IdSequence, Store, type Row } from "./store.js";
import { deleteEntities, writeEntities, type WriteContext } from "./write.js";

/** A faithful in-process ICAT REST server for tests (icat-api.md §10). node:http only. */

export type FakeRoute =
  | "login"
  | "sessionInfo"
  | "refresh"
  | "logout"
  | "search"
  | "get"
  | "write"
  | "delete"
  | "version"
  | "properties"
  | "unknown";

export type FaultKind =
  /** Answer an error without processing: an ICAT code as JSON with its status, or a bare status as non-JSON. */
  | "fail"
  /** Never answer (the client's timeout fires). */
  | "hang"
  /** Destroy the connection before processing. */
  | "reset"
  /** Process and commit, then destroy the connection instead of answering. */
  | "dropAfterCommit"
  /** Answer as a proxy whose backend is down: non-JSON 502. */
  | "badGateway"
  /** Expire every session, then process (the request meets an expired session). */
  | "expireSessions"
  /** Run `run(fake)` first, then process normally (e.g. a concurrent writer). */
  | "hook";

/** Which requests a fault hits; every given condition must hold. */
export interface FaultMatch {
  /** Default "*" (any route). */
  route?: FakeRoute | "*";
  method?: string;
  when?: (request: LoggedRequest) => boolean;
}

export interface FaultSpec extends FaultMatch {
  kind: FaultKind;
  /** How many matching requests it hits (default 1; Infinity for all). */
  times?: number;
  /** "fail": the ICAT error code (default INTERNAL) ... */
  code?: IcatErrorCode;
  /** ... or, without a code, a bare HTTP status answered as non-JSON (a proxy or servlet container speaking). */
  status?: number;
  /** Text of the error ("fail" with a code). */
  message?: string;
  run?: (fake: FakeIcat) => void | Promise<void>;
}

export interface LoggedRequest {
  seq: number;
  method: string;
  route: FakeRoute;
  path: string;
  query: Record<string, string>;
  form: Record<string, string>;
  contentType: string | undefined;
  status?: number;
  code?: string;
  fault?: FaultKind;
}

export interface FakeIcatOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Answer of GET /icat/version; also gates schema fields and /icat/properties (4.9+). Default "6.2.0". */
  version?: string;
  plugins?: Record<string, PluginConfig>;
  /** Users whose writes fail with INSUFFICIENT_PRIVILEGES (full names, e.g. "simple/reader"). */
  readOnlyUsers?: string[];
  /**
   * READ rules (GateKeeper): may `userName` read this row? Searches return only readable rows of the entity
   * they select, and INCLUDEd relations the user may not read are silently left out. Default: everyone reads
   * everything. The root user always reads.
   */
  mayRead?: (userName: string, entity: string, row: Row) => boolean;
  /** The database under the server (database.ts): date precision, string and number limits. Default "mysql". */
  database?: DatabaseFlavour;
  /** Database column lengths that differ from the annotations, e.g. `{"Datafile.location": 255}` (6.2 not migrated). */
  columns?: Record<string, number>;
  /** Each row an update loads (see write.ts walkChildren) delays the answer by this much. Default 0. */
  loadDelayMs?: number;
  /** Session lifetime; `lifetimeSeconds` wins when both are set. Default 120 minutes. */
  lifetimeMinutes?: number;
  lifetimeSeconds?: number;
  /** Refresh/logout of an expired session that was not purged yet succeed, as on the real server. Default true. */
  allowExpiredRefresh?: boolean;
  purgeIntervalMs?: number;
  maxEntities?: number;
  /** Longer request URIs get a non-JSON 414, as a servlet container would answer. */
  maxUriLength?: number;
  /** The server's time zone offset for output dates and {ts} literals. Default +60 (CET). */
  zoneOffsetMinutes?: number;
  /** First id of the global sequence and the largest random gap between ids (0 = contiguous). */
  firstId?: number;
  maxIdGap?: number;
  seed?: number;
  /** Clock; `advanceClock` adds to it. Default Date.now. */
  now?: () => number;
  /** Load the reference fixtures at start. */
  fixtures?: boolean;
  containerType?: string;
}

export interface FakeIcat {
  /** Server root, e.g. http://127.0.0.1:4321 (paths under /icat). */
  readonly url: string;
  readonly port: number;
  readonly version: string;
  readonly schema: Schema;
  /** Ids of the loaded fixtures, if any. */
  fixtures: FixtureIds | undefined;
  loadFixtures(): FixtureIds;
  close(): Promise<void>;
  /** Stop listening and drop every connection, keeping all state. */
  goDown(): Promise<void>;
  /** Listen again on the same port. */
  comeBack(): Promise<void>;
  /** Aliases of goDown/comeBack. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Rows of one entity type, by id (many-to-one fields hold the target id). */
  entities(name: string): Row[];
  entity(name: string, id: number): Row | undefined;
  /** Write as a root user, bypassing HTTP (same validation); returns created ids. */
  create(entities: unknown): number[];
  /** Search as a root user, bypassing HTTP. */
  query(jpql: string): unknown[];
  /** The general form of the fault helpers below. */
  inject(fault: FaultSpec): void;
  /**
   * The next `count` matching requests fail unprocessed. An ICAT code answers as the server does (JSON
   * `{code, message}` with the code's status, e.g. "INTERNAL" → 500, "VALIDATION" → 412); a number answers as a
   * proxy in front would (non-JSON body with that status, e.g. 502/503).
   */
  failNext(count: number, failure: IcatErrorCode | number, options?: { match?: FaultMatch; message?: string }): void;
  /** The next `count` matching requests have their connection destroyed before they are processed. */
  resetNext(count: number, match?: FaultMatch): void;
  /** The next `count` matching requests are never answered. */
  hangNext(count: number, match?: FaultMatch): void;
  /** The next `count` matching requests are processed and committed, then their connection is destroyed unanswered. */
  loseResponseNext(count: number, match?: FaultMatch): void;
  clearFaults(): void;
  readonly requests: readonly LoggedRequest[];
  clearRequests(): void;
  /** Requests of a route (answered, dropped or hung). */
  count(route: FakeRoute): number;
  /** Write requests received (POST/DELETE entityManager), whatever their outcome. */
  writeCount(): number;
  /** Write requests that committed. */
  committedWrites(): number;
  /** Rows loaded by updates so far (a Dataset update loads its parameters and datafiles). */
  updateLoad(): number;
  readonly database: DatabaseFlavour;
  now(): number;
  advanceClock(ms: number): void;
  /** Every session issued so far is expired (not purged: refresh/logout still find it). */
  expireSessions(): void;
  /** Alias of expireSessions. */
  expireAllSessions(): void;
  purgeExpiredSessions(): void;
  liveSessions(): number;
}

export const DEFAULT_PLUGINS: Record<string, PluginConfig> = {
  simple: { mechanism: "simple", users: { ingestor: "ingestor-secret-pw", root: "root-secret-pw", reader: "reader-secret-pw" } },
};

const ROOT_USER = "simple/root";

interface Reply {
  status: number;
  body?: unknown;
  text?: string;
  contentType?: string;
}

class FakeIcatServer implements FakeIcat {
  readonly version: string;
  readonly schema: Schema;
  fixtures: FixtureIds | undefined;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly store: Store;
  private readonly ids: IdSequence;
  private readonly sessions: SessionManager;
  private readonly log: LoggedRequest[] = [];
  private faults: (FaultSpec & { remaining: number })[] = [];
  private clockOffset = 0;
  private committed = 0;
  private boundPort = 0;
  private readonly host: string;
  private readonly maxEntities: number;
  private readonly zoneOffsetMinutes: number;
  private readonly db: Database;
  private loaded = 0;

  constructor(private readonly options: FakeIcatOptions) {
    this.db = new Database(options.database ?? "mysql", options.columns);
    this.version = options.version ?? "6.2.0";
    this.schema = schemaFor(this.version);
    this.store = new Store(this.schema);
    this.ids = new IdSequence(options.firstId ?? 1, options.maxIdGap ?? 0, options.seed ?? 42);
    this.host = options.host ?? "127.0.0.1";
    this.maxEntities = options.maxEntities ?? 10_000;
    this.zoneOffsetMinutes = options.zoneOffsetMinutes ?? 60;
    const lifetimeMs = options.lifetimeSeconds !== undefined ? options.lifetimeSeconds * 1000 : (options.lifetimeMinutes ?? 120) * 60_000;
    this.sessions = new SessionManager({
      plugins: options.plugins ?? DEFAULT_PLUGINS,
      lifetimeMs,
      allowExpiredRefresh: options.allowExpiredRefresh ?? true,
      purgeIntervalMs: options.purgeIntervalMs ?? 3_600_000,
      now: () => this.now(),
    });
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => req.socket.destroy());
    });
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    if (options.fixtures) this.fixtures = this.loadFixtures();
  }

  get url(): string {
    return `http://${this.host}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get requests(): readonly LoggedRequest[] {
    return this.log;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, this.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
  }

  loadFixtures(): FixtureIds {
    this.fixtures = loadFixtures((entities) => this.create(entities));
    return this.fixtures;
  }

  async close(): Promise<void> {
    await this.down();
  }

  async down(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async up(): Promise<void> {
    if (!this.server.listening) await this.listen(this.boundPort);
  }

  goDown(): Promise<void> {
    return this.down();
  }

  comeBack(): Promise<void> {
    return this.up();
  }

  entities(name: string): Row[] {
    return this.store.begin().scan(name).map((row) => ({ ...row }));
  }

  entity(name: string, id: number): Row | undefined {
    const row = this.store.begin().get(name, id);
    return row ? { ...row } : undefined;
  }

  create(entities: unknown): number[] {
    const tx = this.store.begin();
    const ids = writeEntities(JSON.stringify(entities), this.writeContext(tx, ROOT_USER));
    tx.commit();
    return ids;
  }

  query(jpql: string): unknown[] {
    return search(this.queryContext(ROOT_USER), jpql);
  }

  inject(fault: FaultSpec): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  failNext(count: number, failure: IcatErrorCode | number, options: { match?: FaultMatch; message?: string } = {}): void {
    const how = typeof failure === "number" ? { status: failure } : { code: failure };
    this.inject({ ...options.match, kind: "fail", times: count, ...how, ...(options.message !== undefined ? { message: options.message } : {}) });
  }

  resetNext(count: number, match: FaultMatch = {}): void {
    this.inject({ ...match, kind: "reset", times: count });
  }

  hangNext(count: number, match: FaultMatch = {}): void {
    this.inject({ ...match, kind: "hang", times: count });
  }

  loseResponseNext(count: number, match: FaultMatch = {}): void {
    this.inject({ ...match, kind: "dropAfterCommit", times: count });
  }

  clearFaults(): void {
    this.faults = [];
  }

  clearRequests(): void {
    this.log.length = 0;
  }

  count(route: FakeRoute): number {
    return this.log.filter((r) => r.route === route).length;
  }

  writeCount(): number {
    return this.log.filter((r) => r.route === "write" || r.route === "delete").length;
  }

  committedWrites(): number {
    return this.committed;
  }

  updateLoad(): number {
    return this.loaded;
  }

  get database(): DatabaseFlavour {
    return this.db.flavour;
  }

  now(): number {
    return (this.options.now ?? Date.now)() + this.clockOffset;
  }

  advanceClock(ms: number): void {
    this.clockOffset += ms;
  }

  expireSessions(): void {
    this.sessions.expireAll();
  }

  expireAllSessions(): void {
    this.expireSessions();
  }

  purgeExpiredSessions(): void {
    this.sessions.purge();
  }

  liveSessions(): number {
    return this.sessions.liveCount();
  }

  private writeContext(tx: ReturnType<Store["begin"]>, userName: string): WriteContext {
    const readOnly = this.options.readOnlyUsers ?? ["simple/reader"];
    return { tx, ids: this.ids, userName, now: this.now(), mayWrite: !readOnly.includes(userName), database: this.db, load: { rows: 0 } };
  }

  private queryContext(userName: string): QueryContext {
    const rule = this.options.mayRead;
    const mayRead = rule && userName !== ROOT_USER ? (entity: string, row: Row) => rule(userName, entity, row) : () => true;
    return { tx: this.store.begin(), userName, zoneOffsetMinutes: this.zoneOffsetMinutes, maxEntities: this.maxEntities, mayRead };
  }

  private takeFault(entry: LoggedRequest): FaultSpec | undefined {
    const matches = (f: FaultSpec) =>
      (f.route === undefined || f.route === "*" || f.route === entry.route) &&
      (f.method === undefined || f.method.toUpperCase() === entry.method) &&
      (!f.when || f.when(entry));
    const fault = this.faults.find((f) => f.remaining > 0 && matches(f));
    if (!fault) return undefined;
    fault.remaining--;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? "/", "http://fake-icat");
    const method = req.method ?? "GET";
    const contentType = req.headers["content-type"];
    const form = contentType?.startsWith("application/x-www-form-urlencoded") ? new URLSearchParams(body) : new URLSearchParams();
    const route = routeOf(method, url.pathname, url.searchParams);
    const entry: LoggedRequest = {
      seq: this.log.length + 1,
      method,
      route: route.name,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: Object.fromEntries(form),
      contentType,
    };
    this.log.push(entry);

    if (this.options.maxUriLength !== undefined && (req.url ?? "").length > this.options.maxUriLength) {
      return this.send(res, entry, { status: 414, text: "<html><body>414 Request-URI Too Long</body></html>", contentType: "text/html" });
    }

    const fault = this.takeFault(entry);
    if (fault) entry.fault = fault.kind;
    switch (fault?.kind) {
      case "reset":
        req.socket.destroy();
        return;
      case "hang":
        return; // the socket stays open until the client gives up or the fake closes
      case "badGateway":
        return this.send(res, entry, { status: 502, text: "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>", contentType: "text/html" });
      case "fail":
        return this.send(res, entry, failureReply(fault));
      case "expireSessions":
        this.sessions.expireAll();
        break;
      case "hook":
        await fault.run?.(this);
        break;
      default:
        break;
    }

    let reply: Reply;
    const loadedBefore = this.loaded;
    try {
      reply = this.dispatch(route, url.searchParams, form);
    } catch (err) {
      reply =
        err instanceof IcatFakeError
          ? { status: err.status, body: err.body() }
          : { status: 500, body: { code: "INTERNAL", message: `${(err as Error).name} ${(err as Error).message}` } };
    }
    const delay = (this.loaded - loadedBefore) * (this.options.loadDelayMs ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (fault?.kind === "dropAfterCommit") {
      entry.status = reply.status;
      req.socket.destroy();
      return;
    }
    this.send(res, entry, reply);
  }

  private send(res: http.ServerResponse, entry: LoggedRequest, reply: Reply): void {
    entry.status = reply.status;
    if (reply.body && typeof reply.body === "object" && "code" in reply.body) entry.code = String((reply.body as { code: unknown }).code);
    if (reply.status === 204) {
      res.writeHead(204).end();
      return;
    }
    const text = reply.text ?? JSON.stringify(reply.body);
    res.writeHead(reply.status, { "content-type": reply.contentType ?? "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  private dispatch(route: { name: FakeRoute; sessionId?: string }, query: URLSearchParams, form: URLSearchParams): Reply {
    switch (route.name) {
      case "version":
        return { status: 200, body: { version: this.version } };
      case "properties":
        if (!versionAtLeast(this.version, "4.9")) return notImplemented();
        return {
          status: 200,
          body: {
            maxEntities: this.maxEntities,
            lifetimeMinutes: this.sessions.lifetimeMs / 60_000,
            authenticators: Object.keys(this.options.plugins ?? DEFAULT_PLUGINS).map((mnemonic) => ({
              mnemonic,
              keys: [{ name: "username" }, { name: "password", hide: true }],
            })),
            containerType: this.options.containerType ?? "Payara",
          },
        };
      case "login":
        return { status: 200, body: { sessionId: this.sessions.login(form.get("json")) } };
      case "sessionInfo":
        return { status: 200, body: this.sessions.info(route.sessionId ?? "") };
      case "refresh":
        this.sessions.refresh(route.sessionId ?? "");
        return { status: 204 };
      case "logout":
        this.sessions.logout(route.sessionId ?? "");
        return { status: 204 };
      case "search":
      case "get": {
        const userName = this.sessions.userName(query.get("sessionId"));
        const jpql = query.get("query");
        if (jpql === null) throw new IcatFakeError("BAD_PARAMETER", "query is not set");
        const ctx = this.queryContext(userName);
        if (route.name === "get") {
          const id = Number(query.get("id"));
          if (!Number.isSafeInteger(id)) throw new IcatFakeError("BAD_PARAMETER", `Badly formatted id ${query.get("id") ?? ""}`);
          return { status: 200, body: getById(ctx, jpql, id) };
        }
        return { status: 200, body: search(ctx, jpql) };
      }
      case "write": {
        const userName = this.sessions.userName(form.get("sessionId"));
        const entities = form.get("entities");
        if (entities === null) throw new IcatFakeError("BAD_PARAMETER", "entities is not set");
        const tx = this.store.begin();
        const ctx = this.writeContext(tx, userName);
        try {
          const ids = writeEntities(entities, ctx);
          tx.commit();
          this.committed++;
          return { status: 200, body: ids };
        } finally {
          this.loaded += ctx.load.rows;
        }
      }
      case "delete": {
        if (!versionAtLeast(this.version, "4.7")) return notImplemented();
        const userName = this.sessions.userName(query.get("sessionId"));
        const entities = query.get("entities");
        if (entities === null) throw new IcatFakeError("BAD_PARAMETER", "entities is not set");
        const tx = this.store.begin();
        deleteEntities(entities, this.writeContext(tx, userName));
        tx.commit();
        this.committed++;
        return { status: 204 };
      }
      case "unknown":
        return notImplemented();
    }
  }
}

/** An injected failure: ICAT's JSON error for a code, or a bare non-JSON status as a proxy/container sends it. */
function failureReply(fault: FaultSpec): Reply {
  if (fault.code === undefined && fault.status !== undefined) {
    const text = `<html><head><title>${fault.status}</title></head><body>${fault.message ?? "Service Unavailable"}</body></html>`;
    return { status: fault.status, text, contentType: "text/html" };
  }
  const code = fault.code ?? "INTERNAL";
  const message = fault.message ?? (code === "INTERNAL" ? "Unexpected DB response class java.sql.SQLTransientConnectionException Connection is not available" : `${code} injected by the fake`);
  return { status: fault.status ?? STATUS_BY_CODE[code], body: { code, message } };
}

function notImplemented(): Reply {
  return { status: 501, body: { code: "NOT_IMPLEMENTED", message: "Operation not implemented by this ICAT server." } };
}

function routeOf(method: string, pathname: string, query: URLSearchParams): { name: FakeRoute; sessionId?: string } {
  if (pathname === "/icat/session" && method === "POST") return { name: "login" };
  const session = /^\/icat\/session\/([^/]*)$/.exec(pathname);
  if (session) {
    const sessionId = decodeURIComponent(session[1] ?? "");
    if (method === "GET") return { name: "sessionInfo", sessionId };
    if (method === "PUT") return { name: "refresh", sessionId };
    if (method === "DELETE") return { name: "logout", sessionId };
  }
  if (pathname === "/icat/entityManager") {
    if (method === "GET") return { name: query.has("id") ? "get" : "search" };
    if (method === "POST") return { name: "write" };
    if (method === "DELETE") return { name: "delete" };
  }
  if (pathname === "/icat/version" && method === "GET") return { name: "version" };
  if (pathname === "/icat/properties" && method === "GET") return { name: "properties" };
  return { name: "unknown" };
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Start a fake ICAT on 127.0.0.1 (port 0 unless told otherwise). */
export async function startFakeIcat(options: FakeIcatOptions = {}): Promise<FakeIcat> {
  const fake = new FakeIcatServer(options);
  await fake.listen(options.port ?? 0);
  return fake;
}
