import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import type { Socket } from "node:net";
import { checkV4Filter, coerceDates, FilterError, matchMongo, matchV3, matchV4, page, parseFilter, v3Limits, v4Limits } from "./filters.js";
import { attachmentRoutes } from "./attachments.js";
import { objectId } from "./ids.js";
import { TokenIssuer } from "./jwt.js";
import {
  blockDefaults,
  blockV4ReadView,
  datasetDefaults,
  datasetV3View,
  datasetV4View,
  instrumentDefaults,
  measurementPeriods,
  pickFields,
  proposalDefaults,
  sampleDefaults,
  storedDataFiles,
  v3ToStored,
} from "./records.js";
import { clone, mergePatch, ScicatStore, type Doc } from "./store.js";
import { unitDropped, withSI } from "./units.js";
import { DATASET_V3_RAW_DTO, DATASET_V4_DTO, INSTRUMENT_DTO, ORIGDATABLOCK_DTO, PROPOSAL_DTO, SAMPLE_DTO, validate, type Dto, type ValidationError } from "./validate.js";

/**
 * An in-repo SciCat backend for tests, the demo and benchmarks. It answers as the recorded real backend does
 * (test/fixtures/scicat-exchanges/, replayed by test/fakes/scicat-replay.test.ts), unkind parts included: an
 * expired token is anonymous (403 on writes, [] on v3 lists), a duplicate sample is a 500, origdatablocks are
 * never deduplicated, file entries come back with `_id`/`id` that a PATCH may not send, a v4 dataset PATCH
 * without size zeroes it, v3 dataset errors are a stringified array, v3 filters coerce date-like strings,
 * proposals are listed with `filters` (plural). Comments name the recording each behaviour comes from, as
 * `folder/NN (label)`. Faults can be injected per request.
 */

export interface ScicatFakeUser {
  password: string;
  groups: string[];
  /** In ADMIN_GROUPS: may create with a pid, write any record, mint tokens. */
  admin?: boolean;
  /** In DELETE_GROUPS: may delete origdatablocks (origdatablocks/07: the ingestor may not, admin may). */
  deleter?: boolean;
  /** A directory account: logs in through POST /auth/ldap only; /auth/login takes local accounts (scicat-api.md §2). */
  ldap?: boolean;
}

export interface ScicatFakeOptions {
  users?: Record<string, ScicatFakeUser>;
  tokenTtlSeconds?: number;
  v4?: boolean;
  dateCoercionBug?: boolean;
  port?: number;
  pidPrefix?: string;
  bodyLimitBytes?: number;
  /** Sees every request that reached a route, with its raw body (the benchmark records the floor's work this way). */
  onRequest?: (request: { method: string; url: string; body: string }) => void;
  /** Milliseconds every request waits before it is served (default 0). */
  latencyMs?: number;
}

export interface FaultMatch {
  method?: string;
  path?: RegExp;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  write: boolean;
  at: number;
}

export interface ScicatFake {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
  datasets(): Doc[];
  proposals(): Doc[];
  samples(): Doc[];
  instruments(): Doc[];
  origdatablocks(datasetPid?: string): Doc[];
  /** v4 attachments (attachments.ts). */
  attachments(): Doc[];
  readonly requests: RequestLogEntry[];
  writeCount(): number;
  resetRequests(): void;
  /**
   * The next `count` matching requests get `status` and do nothing. `body` is sent as JSON; `text` is sent verbatim
   * with `contentType` (none when left out): a maintenance page (`text/html`) or an empty answer (`""`), even with 200.
   */
  failNext(count: number, status: number, options?: FailOptions): void;
  resetNext(count: number, match?: FaultMatch): void;
  hangNext(count: number, match?: FaultMatch): void;
  loseResponseNext(count: number, match?: FaultMatch): void;
  /** The next `count` matching requests get 200 headers, then one byte of body every `intervalMs` (default 200), never ending. */
  trickleNext(count: number, match?: FaultMatch, options?: { intervalMs?: number }): void;
  expireTokens(): void;
  /** From now on, every token issued so far expires after each `writes` successful write requests (0 stops it). */
  expireTokensEvery(writes: number): void;
  goDown(): Promise<void>;
  comeBack(): Promise<void>;
  clearFaults(): void;
}

export interface FailOptions {
  match?: FaultMatch;
  body?: unknown;
  text?: string;
  contentType?: string;
  retryAfterSeconds?: number;
}

interface Fault {
  kind: "fail" | "reset" | "hang" | "lose" | "trickle";
  remaining: number;
  match?: FaultMatch | undefined;
  status?: number;
  fail?: FailOptions;
  intervalMs?: number;
}

interface Answer {
  status: number;
  /** undefined: an empty body without content-type (auth/05, instruments/03 "unknown pid"). */
  body?: unknown;
  headers?: Record<string, string>;
}

interface Caller {
  id: string;
  username: string;
  groups: string[];
  admin: boolean;
  deleter: boolean;
  email: string;
}

// The recordings' two accounts: a functional `ingestor` in ADMIN_GROUPS and an `admin` also in DELETE_GROUPS.
const DEFAULT_USERS: Record<string, ScicatFakeUser> = {
  ingestor: { password: "ingestor-secret", groups: ["ingestor"], admin: true },
  admin: { password: "admin-secret", groups: ["admin"], admin: true, deleter: true },
};

const nest = (status: number, message: string | string[], error?: string): Answer => ({
  status,
  body: { message, ...(error ? { error } : {}), statusCode: status },
});
const INTERNAL: Answer = { status: 500, body: "Internal server error" };
// auth/07: every write and every v4 list with an expired, garbage or missing token.
const FORBIDDEN = nest(403, "Forbidden resource", "Forbidden");
// datasets/02 "without owner", "pid null": an object, unlike the JSON-string 500 elsewhere (surprise 12).
const SOMETHING_WRONG: Answer = { status: 500, body: { message: "Something went wrong. Please try again later.", statusCode: 500 } };
const cannot = (method: string, rawPath: string) => nest(404, `Cannot ${method} ${rawPath}`, "Not Found");

const isWrite = (method: string, path: string) => method !== "GET" && method !== "HEAD" && !/\/auth\/(login|ldap|logout)$/i.test(path);

export async function startScicatFake(options: ScicatFakeOptions = {}): Promise<ScicatFake> {
  const users = options.users ?? DEFAULT_USERS;
  const ttl = options.tokenTtlSeconds ?? 3600;
  const v4 = options.v4 ?? true;
  const coercion = options.dateCoercionBug ?? true;
  const pidPrefix = (options.pidPrefix ?? "20.500.12269").replace(/\/+$/, "");
  const userIds = new Map(Object.keys(users).map((name) => [name, objectId()]));
  const bodyLimit = options.bodyLimitBytes ?? 16 * 1024 * 1024;
  const store = new ScicatStore();
  const tokens = new TokenIssuer();
  const requests: RequestLogEntry[] = [];
  let faults: Fault[] = [];
  const sockets = new Set<Socket>();
  const hung = new Set<http.ServerResponse>();

  const takeFault = (method: string, path: string): Fault | undefined => {
    const fault = faults.find((f) => f.remaining > 0 && (!f.match?.method || f.match.method.toUpperCase() === method) && (!f.match?.path || f.match.path.test(path)));
    if (fault) {
      fault.remaining--;
      faults = faults.filter((f) => f.remaining > 0);
    }
    return fault;
  };

  const callerOf = (req: http.IncomingMessage): Caller | undefined => {
    const header = req.headers.authorization;
    const token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : undefined;
    const claims = token ? tokens.verify(token) : undefined;
    const name = typeof claims?.username === "string" ? claims.username : undefined;
    const user = name ? users[name] : undefined;
    return name && user ? { id: userIds.get(name) ?? name, username: name, groups: user.groups, admin: user.admin ?? false, deleter: user.deleter ?? false, email: emailOf(name) } : undefined;
  };

  const canSee = (doc: Doc, caller: Caller | undefined): boolean => {
    if (doc.isPublished === true) return true;
    if (!caller) return false;
    if (caller.admin) return true;
    const groups = new Set(caller.groups);
    return groups.has(String(doc.ownerGroup)) || (Array.isArray(doc.accessGroups) && doc.accessGroups.some((g) => groups.has(String(g))));
  };

  // ---------------------------------------------------------------- routes

  const route = (req: Request): Answer => {
    const { method, segments } = req;
    // Paths are case-insensitive (other/01 "capitalised v4 path", "capitalised v3 path").
    const lower = segments.map((s) => s.toLowerCase());
    const notFound = cannot(method, req.rawPath);
    // auth/08: the OpenAPI document; clients look for /api/v4/datasets in it.
    if (lower[0] === "explorer-json" && segments.length === 1 && method === "GET") return { status: 200, body: explorer(v4) };
    if (lower[0] !== "api") return notFound;
    const version = lower[1];
    // other/01 "unversioned", auth/08 "unversioned /api/health": a route miss.
    if (version !== "v3" && version !== "v4") return notFound;
    const resource = lower[2];
    const rest = segments.slice(3);
    // other/01 "v4 proposals": only datasets and origdatablocks have v4 routes (and attachments, scicat-api.md §5.8).
    if (version === "v4" && (!v4 || (resource !== "datasets" && resource !== "origdatablocks" && resource !== "attachments"))) return notFound;

    switch (resource) {
      case "auth":
        return rest.length === 1 ? auth(method, lower[3], req.body, req.caller, notFound) : notFound;
      case "users":
        return users_(method, rest, req, notFound);
      case "health":
        // auth/08: the same answer with or without a token.
        return method === "GET" && rest.length === 0 ? { status: 200, body: { status: "ok", info: { mongodb: { status: "up" } }, error: {}, details: { mongodb: { status: "up" } } } } : notFound;
      case "proposals":
        return proposals(method, rest, req, notFound);
      case "samples":
        return keyedV3(method, rest, req, sampleSpec, notFound);
      case "instruments":
        return keyedV3(method, rest, req, instrumentSpec, notFound);
      case "datasets":
        return datasets(version, method, rest, req, notFound);
      case "origdatablocks":
        return origdatablocks(version, method, rest, req, notFound);
      case "attachments":
        return version === "v4" ? attachments.handle(method, rest.map(decode), req.body, req.caller, notFound) : notFound;
      default:
        return notFound;
    }
  };

  const auth = (method: string, action: string | undefined, body: unknown, caller: Caller | undefined, notFound: Answer): Answer => {
    // scicat-api.md §2: /auth/ldap takes the same body and answers the same DTO, checked against the directory.
    if ((action === "login" || action === "ldap") && method === "POST") {
      const { username, password } = (body ?? {}) as { username?: unknown; password?: unknown };
      const user = typeof username === "string" ? users[username] : undefined;
      // auth/02: wrong password, unknown user, no password; no `error` key.
      if (!user || user.password !== password || (user.ldap ?? false) !== (action === "ldap")) return { status: 401, body: { message: "Unauthorized", statusCode: 401 } };
      const name = username as string;
      const id = userIds.get(name) ?? name;
      const profile = { username: name, email: emailOf(name), authStrategy: action === "ldap" ? "ldap" : "local", _id: id, __v: 0, id };
      const { token } = tokens.issue(profile, ttl);
      // auth/01: 201; access_token == id; expires_in == ttl in seconds.
      return { status: 201, body: { access_token: token, id: token, expires_in: ttl, ttl, created: new Date().toISOString(), userId: id, user: profile } };
    }
    if (action === "whoami" && method === "GET") {
      // auth/04; auth/05 and auth/06 "expired": 200 with an empty body and no content-type.
      return caller ? { status: 200, body: { _id: caller.id, username: caller.username, email: caller.email, currentGroups: caller.groups, authStrategy: "local" } } : { status: 200 };
    }
    // scicat-api.md §2 (not recorded): nothing is revoked.
    if (action === "logout" && method === "POST") return { status: 201, body: { logout: "successful" } };
    return notFound;
  };

  const users_ = (method: string, rest: string[], req: Request, notFound: Answer): Answer => {
    const action = rest[rest.length - 1]?.toLowerCase();
    // auth/03 "deprecated LoopBack login": 201 with an empty body.
    if (rest.length === 1 && action === "login" && method === "POST") return { status: 201 };
    if (rest.length !== 2 || action !== "jwt" || method !== "POST") return notFound;
    // auth/06 "garbage token mints": 401, the one place an unknown token is not simply anonymous (surprise 31).
    if (!req.caller) return nest(401, "Unauthenticated", "Unauthorized");
    // scicat-api.md §3: minting is for ADMIN_GROUPS (auth/06 "ingestor (ADMIN_GROUPS role) mints for itself").
    if (!req.caller.admin) return FORBIDDEN;
    const target = [...userIds].find(([, id]) => id === decodeURIComponent(rest[0]!))?.[0];
    if (!target) return nest(404, "User not found", "Not Found");
    // auth/06: expiresIn in seconds, as a number or a numeric string.
    const raw = (req.body as Doc | undefined)?.expiresIn;
    const seconds = raw === undefined ? ttl : Number(raw);
    const id = userIds.get(target) ?? target;
    const { token } = tokens.issue({ username: target, email: emailOf(target), authStrategy: "local", _id: id, __v: 0, id }, Number.isFinite(seconds) ? seconds : ttl);
    return { status: 201, body: { jwt: token } };
  };

  const badRequest = (errors: ValidationError[]): Answer =>
    nest(
      400,
      errors.flatMap((e) => Object.values(e.constraints)),
      "Bad Request",
    );

  const decode = (segment: string | undefined) => (segment === undefined ? undefined : decodeURIComponent(segment));
  const attachments = attachmentRoutes({ datasets: store.datasets, canSee, stamp: (d, u, c) => store.stamp(d, u, c), badRequest, forbidden: FORBIDDEN, internal: INTERNAL, nest });

  // Proposals: GET by id, list with `filters` (plural; `filter` is ignored), create (409 on duplicate), PATCH.
  const proposals = (method: string, rest: string[], req: Request, notFound: Answer): Answer => {
    const { caller, body, query } = req;
    // proposals/03 "id with slash, raw": a raw slash is a route miss.
    if (rest.length > 1) return notFound;
    const id = decode(rest[0]);
    if (method === "POST" && id === undefined) {
      // auth/07 "write (POST proposal) with expired token"; scicat-api.md §3: PROPOSAL_GROUPS (the fake: admins).
      if (!caller || !caller.admin) return FORBIDDEN;
      // proposals/05: class-validator messages; unknown keys (newer servers' `keywords`) are refused.
      const errors = validate(body, PROPOSAL_DTO);
      if (errors.length) return badRequest(errors);
      const proposalId = String((body as Doc).proposalId);
      // proposals/02
      if (store.proposals.has(proposalId)) return nest(409, `Proposal with ${proposalId} already exists`, "Conflict");
      const doc = store.stamp(proposalDefaults(clone(body as Doc)), caller.username);
      store.proposals.set(proposalId, doc);
      return { status: 201, body: clone(doc) };
    }
    if (method === "GET" && id === undefined) {
      // proposals/06: `?filters=` is read (Mongo operators, passed through untranslated); singular `?filter=` is ignored.
      const filter = parseFilter(query.get("filters"));
      const list = [...store.proposals.values()].filter((d) => canSee(d, caller) && matchMongo(d, filter.where));
      return { status: 200, body: page(list, v3Limits(filter.limits)).map(clone) };
    }
    // scicat-api.md §7 (not recorded): /proposals/count takes `filter` at this revision.
    if (id === "count" && method === "GET") {
      const filter = parseFilter(query.get("filter"));
      return { status: 200, body: { count: [...store.proposals.values()].filter((d) => canSee(d, caller) && matchMongo(d, filter.where)).length } };
    }
    if (id === undefined) return notFound;
    const doc = store.proposals.get(id);
    if (method === "GET") {
      // proposals/03 "unknown id", auth/07: 404 whatever the token; other/02: 403 for an existing one without access.
      if (!doc) return nest(404, `Proposal: ${id} not found`, "Not Found");
      return canSee(doc, caller) ? { status: 200, body: clone(doc) } : nest(403, "Unauthorized to this proposal", "Forbidden");
    }
    if (method === "PATCH") {
      // other/02 "stale token"
      if (!caller || !caller.admin) return FORBIDDEN;
      // proposals/04: the natural key and unknown keys are refused before the lookup.
      const errors = validate(body, PROPOSAL_DTO, { partial: true, forbidden: ["proposalId"] });
      if (errors.length) return badRequest(errors);
      if (!doc) return nest(404, `Proposal: ${id} not found`, "Not Found");
      const patch = clone(body as Doc);
      Object.assign(doc, patch);
      // proposals/04: a PATCH without MeasurementPeriodList empties it (a DTO field initializer).
      doc.MeasurementPeriodList = measurementPeriods(patch.MeasurementPeriodList);
      store.stamp(doc, caller.username, false);
      return { status: 200, body: clone(doc) };
    }
    return notFound;
  };

  interface KeyedSpec {
    noun: string;
    dto: Dto;
    map: Map<string, Doc>;
    idField: string;
    naturalKey: string;
    /** Why a create is refused before it is stored, if it is. */
    refuse(body: Doc): Answer | undefined;
    build(body: Doc): Doc;
    write(caller: Caller, doc: Doc): boolean;
    /** The answer to a GET of an id that is not there. */
    missing(id: string): Answer;
    /** The answer to a PATCH of an id that is not there. */
    missingPatch(id: string): Answer;
    /** The answer to a GET of a record the caller may not see. */
    hidden: Answer;
    /** Readable without a token (instruments). */
    public: boolean;
    stored(doc: Doc, patch: Doc): void;
  }

  const sampleSpec: KeyedSpec = {
    noun: "Sample",
    dto: SAMPLE_DTO,
    map: store.samples,
    idField: "sampleId",
    naturalKey: "sampleId",
    // samples/02: E11000 is not mapped to a 409 for samples; the global filter answers a JSON-string 500.
    refuse: (body) => (body.sampleId !== undefined && store.samples.has(String(body.sampleId)) ? INTERNAL : undefined),
    build: sampleDefaults,
    write: (caller, doc) => caller.admin || caller.groups.includes(String(doc.ownerGroup)),
    // samples/03 "unknown id", samples/04 "unknown id"
    missing: (id) => nest(404, `Sample: ${id} not found`, "Not Found"),
    missingPatch: (id) => nest(404, `Sample: ${id} not found`, "Not Found"),
    // other/02 "GET existing non-public sample with garbage token"
    hidden: nest(403, "Unauthorized to this sample", "Forbidden"),
    public: false,
    stored(doc, patch) {
      // samples/01, samples/04 "sampleCharacteristics replace": replaced whole, `{value, unit}` gains SI keys.
      if (patch.sampleCharacteristics !== undefined) doc.sampleCharacteristics = withSI(patch.sampleCharacteristics);
    },
  };

  const instrumentSpec: KeyedSpec = {
    noun: "Instrument",
    dto: INSTRUMENT_DTO,
    map: store.instruments,
    idField: "pid",
    naturalKey: "uniqueName",
    // instruments/02
    refuse: (body) =>
      [...store.instruments.values()].some((existing) => existing.uniqueName === body.uniqueName) ? nest(409, "Instrument with the same unique name already exists", "Conflict") : undefined,
    build: (body) => instrumentDefaults(body, pidPrefix),
    write: (caller) => caller.admin,
    // instruments/03 "unknown pid": 200 with an empty body and no content-type (surprise 23).
    missing: () => ({ status: 200 }),
    // instruments/05 "unknown pid"
    missingPatch: () => nest(404, "Instrument not found", "Not Found"),
    hidden: FORBIDDEN,
    // auth/07 "instrument list with expired token", other/02 "GET instrument with garbage token"
    public: true,
    stored(doc, patch) {
      // instruments/05 "customMetadata with value/unit"
      if (patch.customMetadata !== undefined) doc.customMetadata = withSI(patch.customMetadata);
    },
  };

  const keyedV3 = (method: string, rest: string[], req: Request, spec: KeyedSpec, notFound: Answer): Answer => {
    const { caller, body, query } = req;
    if (rest.length > 1) return notFound;
    const id = decode(rest[0]);
    const visible = (d: Doc) => spec.public || canSee(d, caller);
    if (method === "POST" && id === undefined) {
      // scicat-api.md §2.1: an anonymous write is a 403.
      if (!caller) return FORBIDDEN;
      // samples/05 "unknown property sampleName", "no ownerGroup"
      const errors = validate(body, spec.dto);
      if (errors.length) return badRequest(errors);
      // scicat-api.md §3: instruments are for admins; non-privileged sample creators only in their own ownerGroup.
      if (!spec.write(caller, body as Doc)) return FORBIDDEN;
      const refused = spec.refuse(body as Doc);
      if (refused) return refused;
      const doc = store.stamp(spec.build(clone(body as Doc)), caller.username);
      spec.map.set(String(doc[spec.idField]), doc);
      return { status: 201, body: clone(doc) };
    }
    if (method === "GET" && (id === undefined || id.toLowerCase() === "findone")) {
      const filter = parseFilter(query.get("filter"));
      // instruments/06: the v3 WherePipe turns date-like plain values into Dates (the client's `inq` form is safe).
      const where = coercion ? coerceDates(filter.where) : filter.where;
      const list = [...spec.map.values()].filter((d) => visible(d) && matchV3(d, where));
      const limited = page(list, v3Limits(filter.limits)).map((d) => pickFields(clone(d), filter.fields));
      // instruments/04 "findOne"; none found is not recorded: an empty 200, as for a GET of an unknown instrument.
      if (id !== undefined) return limited[0] ? { status: 200, body: limited[0] } : { status: 200 };
      return { status: 200, body: limited };
    }
    if (id === undefined) return notFound;
    const doc = spec.map.get(id);
    if (method === "GET") {
      if (!doc) return spec.missing(id);
      return visible(doc) ? { status: 200, body: clone(doc) } : spec.hidden;
    }
    if (method === "PATCH") {
      // scicat-api.md §2.1: an anonymous write is a 403.
      if (!caller) return FORBIDDEN;
      // samples/04 "sampleId in body", "unknown property"; instruments/05 "unknown property"
      const errors = validate(body, spec.dto, { partial: true, forbidden: [spec.naturalKey] });
      if (errors.length) return badRequest(errors);
      if (!doc) return spec.missingPatch(id);
      if (!spec.write(caller, doc)) return FORBIDDEN;
      const patch = clone(body as Doc);
      Object.assign(doc, patch);
      spec.stored(doc, patch);
      store.stamp(doc, caller.username, false);
      return { status: 200, body: clone(doc) };
    }
    return notFound;
  };

  // ---------------------------------------------------------------- datasets

  /**
   * datasets/09, datasets/11: v3 dataset 400s are `{status, message: "<stringified class-validator array>"}`;
   * a whitelist error has no `children` key, the others have `children: []` before `constraints`.
   */
  const v3Error = (errors: ValidationError[]): Answer => ({
    status: 400,
    body: {
      status: 400,
      message: JSON.stringify(
        errors.map((e) => ("whitelistValidation" in e.constraints ? { property: e.property, constraints: e.constraints } : { property: e.property, children: [], constraints: e.constraints })),
      ),
    },
  });

  const countDatasetFor = (doc: Doc) => {
    // other/03: each successful create referencing a proposal increments its numberOfDatasets; dangling ids are accepted.
    for (const proposalId of Array.isArray(doc.proposalIds) ? doc.proposalIds : []) {
      const proposal = store.proposals.get(String(proposalId));
      if (proposal) proposal.numberOfDatasets = Number(proposal.numberOfDatasets ?? 0) + 1;
    }
  };

  const createDataset = (version: string, body: unknown, caller: Caller | undefined): Answer => {
    // auth/07 "write (POST v4 dataset) with garbage token"
    if (!caller) return FORBIDDEN;
    const raw = (body ?? {}) as Doc;
    let doc: Doc;
    if (version === "v3") {
      // scicat-api.md §5.2: the fake knows only raw datasets on v3.
      if (raw.type !== "raw") return v3Error([{ property: "type", constraints: { isIn: "Invalid dataset type!" }, children: [] }]);
      // datasets/09 "bad email", "unknown property", "v4 name proposalIds on v3"
      const errors = validate(body, DATASET_V3_RAW_DTO);
      if (errors.length) return v3Error(errors);
      doc = v3ToStored(clone(raw));
      // datasets/09 "without sampleId/instrumentId/datasetName": `[null]`, and a name from sourceFolder.
      if (doc.sampleIds === undefined) doc.sampleIds = [null];
      if (doc.instrumentIds === undefined) doc.instrumentIds = [null];
      if (doc.datasetName === undefined) doc.datasetName = String(doc.sourceFolder).split("/").filter(Boolean).slice(-2).join("/");
      doc.version = "3";
    } else {
      // datasets/02: class-validator first ("unknown property", "v3 name proposalId", "without datasetName", "bad contactEmail").
      const errors = validate(body, DATASET_V4_DTO);
      if (errors.length) return badRequest(errors);
      // datasets/02 "without owner", "pid null": the storage schema refuses them; nothing is stored. "type weird" is accepted.
      if (raw.owner === undefined || raw.pid === null) return SOMETHING_WRONG;
      doc = clone(raw);
      doc.version = "4";
    }
    // scicat-api.md §3: without ADMIN_GROUPS, no pid and only one's own ownerGroup.
    if (doc.pid !== undefined && !caller.admin) return nest(403, "Unauthorized to create this dataset", "Forbidden");
    if (!caller.admin && !caller.groups.includes(String(doc.ownerGroup))) return nest(403, "Unauthorized to create this dataset", "Forbidden");
    // datasets/02 "no pid: server generates one"
    doc.pid ??= `${pidPrefix}/${randomUUID()}`;
    const pid = String(doc.pid);
    // datasets/03, datasets/09 "duplicate pid"
    if (store.datasets.has(pid)) return nest(409, `A dataset with pid ${pid} already exists!`, "Conflict");
    const stored = store.stamp(datasetDefaults({ ...doc, _id: pid }), caller.username);
    store.datasets.set(pid, stored);
    countDatasetFor(stored);
    return { status: 201, body: version === "v3" ? datasetV3View(clone(stored), "write") : datasetV4View(clone(stored), true) };
  };

  const patchDataset = (version: string, pid: string, body: unknown, caller: Caller | undefined, contentType: string, headers: http.IncomingHttpHeaders): Answer => {
    // datasets/07 "expired token"
    if (!caller) return FORBIDDEN;
    if (version === "v3") {
      // datasets/11 "pid", "unknown property", "bad email"
      const errors = validate(body, DATASET_V3_RAW_DTO, { partial: true, forbidden: ["pid"] });
      if (errors.length) return v3Error(errors);
    } else {
      // datasets/07: pid, type (even the same value) and version are not in the v4 update DTO.
      const errors = validate(body, DATASET_V4_DTO, { partial: true, forbidden: ["pid", "type", "version"] });
      if (errors.length) return badRequest(errors);
    }
    const doc = store.datasets.get(pid);
    // datasets/07 "unknown pid"
    if (!doc) return version === "v4" ? nest(404, "Dataset not found", "Not Found") : nest(404, `dataset: ${pid} not found`, "Not Found");
    if (!canSee(doc, caller)) return FORBIDDEN;
    // datasets/08: an older If-Unmodified-Since is a 412; an unparseable one is ignored.
    const since = headers["if-unmodified-since"];
    if (typeof since === "string" && Date.parse(since) < Date.parse(String(doc.updatedAt))) return nest(412, "Resource has been modified on server", "Precondition Failed");
    const patch = clone(body as Doc);
    const dropped = unitDropped(doc.scientificMetadata, patch.scientificMetadata);
    // datasets/06 "scientificMetadata value without unit": a plain-string message (surprise 11).
    if (dropped) return nest(400, `Original dataset ${pid} contains both value and unit in scientificMetadata.${dropped}. Please provide both when updating.`, "Bad Request");
    if (patch.scientificMetadata !== undefined && patch.scientificMetadata !== null) patch.scientificMetadata = withSI(patch.scientificMetadata);
    if (version === "v3") {
      // datasets/12 "v3 PATCH description only": v3 leaves size and numberOfFiles alone.
      Object.assign(doc, v3ToStored(patch));
    } else if (contentType.includes("merge-patch")) {
      // datasets/08 "merge-patch": RFC 7396 merge.
      Object.assign(doc, mergePatch(doc, patch) as Doc);
    } else {
      // datasets/06 "description null": null is stored; "scientificMetadata": objects are replaced whole.
      Object.assign(doc, patch);
      // datasets/12 "v4 PATCH description only", "isPublished only": the v4 update DTO's field initializers
      // (size = 0 …) reset what the body does not carry, even with blocks (surprise 9); a sent size is kept verbatim.
      for (const key of ["size", "numberOfFiles", "packedSize"]) if (!(key in patch)) doc[key] = 0;
    }
    store.stamp(doc, caller.username, false);
    return { status: 200, body: version === "v3" ? datasetV3View(clone(doc), "write") : datasetV4View(clone(doc), true) };
  };

  const datasets = (version: string, method: string, rest: string[], req: Request, notFound: Answer): Answer => {
    const { caller, body, query } = req;
    const first = decode(rest[0]);
    const sub = rest[1]?.toLowerCase();
    if (first === undefined) {
      if (method === "POST") return createDataset(version, body, caller);
      if (method === "GET") return listDatasets(version, query, caller, "list");
      return notFound;
    }
    const lowerFirst = first.toLowerCase();
    if (method === "GET" && (lowerFirst === "findone" || lowerFirst === "count") && sub === undefined) return listDatasets(version, query, caller, lowerFirst);
    const pid = first;
    if (sub === "origdatablocks" && version === "v3" && rest.length <= 3) return datasetBlocks(method, pid, rest[2]?.toLowerCase(), req, notFound);
    // datasets/04 "raw slash": a route miss.
    if (sub !== undefined) return notFound;
    if (method === "GET") {
      const doc = store.datasets.get(pid);
      // datasets/04 "unknown pid": v4 says null, not the pid (surprise 15); datasets/10 "unknown pid" (v3) names it.
      if (!doc) return nest(404, version === "v4" ? "dataset: null not found" : `dataset: ${pid} not found`, "Not Found");
      // datasets/04 "garbage token"
      if (!canSee(doc, caller)) return FORBIDDEN;
      return { status: 200, body: version === "v4" ? datasetV4View(clone(doc), false) : datasetV3View(clone(doc), "one") };
    }
    if (method === "PATCH") return patchDataset(version, pid, body, caller, req.contentType, req.headers);
    if (method === "DELETE") {
      // scicat-api.md §3 (not recorded; the client never deletes datasets).
      if (!caller?.admin) return FORBIDDEN;
      if (!store.datasets.delete(pid)) return nest(404, `dataset: ${pid} not found`, "Not Found");
      return { status: 200, body: {} };
    }
    return notFound;
  };

  /** GET/POST /api/v3/datasets/{pid}/origdatablocks[/count] */
  const datasetBlocks = (method: string, pid: string, action: string | undefined, req: Request, notFound: Answer): Answer => {
    const { caller, body } = req;
    if (method === "POST" && action === undefined) {
      const b = (body ?? {}) as Doc;
      // origdatablocks/02 "dataset-scoped route with datasetId": 400.
      return createBlock({ ...b, datasetId: pid }, caller, ["datasetId", "ownerGroup", "accessGroups", "instrumentGroup"], b);
    }
    if (method !== "GET" || (action !== undefined && action !== "count")) return notFound;
    const dataset = store.datasets.get(pid);
    // origdatablocks/04 "unknown dataset", "garbage token" (403 for an existing dataset, not []).
    if (!dataset) return nest(404, `dataset: ${pid} not found`, "Not Found");
    if (!canSee(dataset, caller)) return nest(403, "Unauthorized access", "Forbidden");
    const blocks = store.blocksOf(pid);
    // origdatablocks/04 "count"
    if (action === "count") return { status: 200, body: { count: blocks.length } };
    return { status: 200, body: blocks.map(clone) };
  };

  const listDatasets = (version: string, query: URLSearchParams, caller: Caller | undefined, mode: string): Answer => {
    // auth/07: an anonymous v4 list is refused outright; v3 answers with public records only.
    if (version === "v4" && !caller) return FORBIDDEN;
    const filter = parseFilter(query.get("filter"));
    // datasets/05: the v4 filter is strict (LoopBack `inq`, `limits.order`, unknown keys are 400s).
    if (version === "v4") checkV4Filter(filter);
    const match = version === "v4" ? (d: Doc) => matchV4(d, filter.where) : (d: Doc) => matchV3(d, coercion ? coerceDates(filter.where) : filter.where);
    const all = [...store.datasets.values()].filter((d) => canSee(d, caller) && match(d));
    if (mode === "count") return { status: 200, body: { count: all.length } };
    const limits = version === "v4" ? v4Limits(filter.limits) : v3Limits(filter.limits);
    const view = (d: Doc) => pickFields(version === "v4" ? datasetV4View(clone(d), false) : datasetV3View(clone(d), "list"), filter.fields);
    const list = page(all, limits).map(view);
    return mode === "findone" ? { status: 200, body: list[0] ?? {} } : { status: 200, body: list };
  };

  // ---------------------------------------------------------------- origdatablocks

  const createBlock = (body: Doc, caller: Caller | undefined, forbidden: string[] = [], original: Doc = body): Answer => {
    // auth/07 "write (POST origdatablock) with garbage token"
    if (!caller) return FORBIDDEN;
    const forbiddenPresent = forbidden.filter((k) => k in original);
    // origdatablocks/03: empty list, missing size, file without time, unknown DataFile key, unknown property.
    const errors = validate(body, ORIGDATABLOCK_DTO);
    for (const k of forbiddenPresent) errors.push({ property: k, constraints: { whitelistValidation: `property ${k} should not exist` }, children: [] });
    if (errors.length) return badRequest(errors);
    const pid = String(body.datasetId);
    const dataset = store.datasets.get(pid);
    // origdatablocks/03 "unknown dataset"
    if (!dataset || !canSee(dataset, caller)) return nest(404, `Dataset: ${pid} not found for attaching an origdatablock`, "Not Found");
    // scicat-api.md §3: only the dataset's ownerGroup (or an admin) adds blocks.
    if (!caller.admin && !caller.groups.includes(String(dataset.ownerGroup))) return FORBIDDEN;
    // origdatablocks/01: ownerGroup/accessGroups from the dataset; each entry gets `_id`/`id`.
    // origdatablocks/06: an identical second block is stored too; the dataset's size becomes the sum of both.
    const block = store.stamp(blockDefaults(clone(body), dataset), caller.username);
    store.addBlock(block, caller.username);
    return { status: 201, body: clone(block) };
  };

  const origdatablocks = (version: string, method: string, rest: string[], req: Request, notFound: Answer): Answer => {
    const { caller, body, query } = req;
    if (rest.length > 1) return notFound;
    const id = decode(rest[0]);
    if (id === undefined) {
      if (method === "POST") return createBlock((body ?? {}) as Doc, caller);
      if (method === "GET") {
        // auth/07 "v4 list with garbage token", "v3 list with garbage token": 403 on v4, [] on v3.
        if (!caller) return version === "v4" ? FORBIDDEN : { status: 200, body: [] };
        const filter = parseFilter(query.get("filter"));
        // origdatablocks/04 "v4 list filtered by datasetId"
        const match = version === "v4" ? (d: Doc) => matchV4(d, filter.where) : (d: Doc) => matchV3(d, coercion ? coerceDates(filter.where) : filter.where);
        const list = [...store.origdatablocks.values()].filter((b) => canSee(b, caller) && match(b));
        const view = version === "v4" ? blockV4ReadView : clone;
        return { status: 200, body: page(list, version === "v4" ? v4Limits(filter.limits) : v3Limits(filter.limits)).map(view) };
      }
      return notFound;
    }
    const block = store.origdatablocks.get(id);
    if (method === "GET") {
      // origdatablocks/04 "v4 GET one block"
      if (!block) return nest(404, `OrigDatablock: ${id} not found`, "Not Found");
      if (!canSee(block, caller)) return FORBIDDEN;
      return { status: 200, body: version === "v4" ? blockV4ReadView(block) : clone(block) };
    }
    if (method === "PATCH") {
      // origdatablocks/05 "expired token"
      if (!caller) return FORBIDDEN;
      // origdatablocks/05 (a), (c), (d): entries as returned (`_id`, `id`) are refused, one message per entry and key;
      // "move to another dataset": datasetId is not in the update DTO.
      const errors = validate(body, ORIGDATABLOCK_DTO, { partial: true, forbidden: ["datasetId"] });
      if (errors.length) return badRequest(errors);
      // origdatablocks/05 "unknown block id"
      if (!block) return nest(404, `OrigDatablock: ${id} not found`, "Not Found");
      const patch = clone(body as Doc);
      // origdatablocks/05 (b): the entries are re-created, every `_id`/`id` is new (surprise 3).
      if (patch.dataFileList !== undefined) patch.dataFileList = storedDataFiles(patch.dataFileList);
      Object.assign(block, patch);
      store.stamp(block, caller.username, false);
      // datasets/12 "size after the block PATCH": the dataset is recounted (surprise 5).
      store.recount(String(block.datasetId), caller.username);
      return { status: 200, body: clone(block) };
    }
    if (method === "DELETE") {
      // origdatablocks/07 "delete again as admin"
      if (!block) return nest(404, `OrigDatablock: ${id} not found`, "Not Found");
      // origdatablocks/07 "delete the duplicate": the ingestor (ADMIN_GROUPS) is not in DELETE_GROUPS.
      if (!caller?.deleter) return FORBIDDEN;
      store.deleteBlock(id, caller.username);
      // origdatablocks/07 "delete as admin": the deleted block is the body.
      return { status: 200, body: clone(block) };
    }
    return notFound;
  };

// ---------------------------------------------------------------- HTTP plumbing

  const send = (res: http.ServerResponse, answer: Answer) => {
    if (answer.body === undefined) {
      // auth/05, instruments/03: an empty body has no content-type at all.
      res.writeHead(answer.status, { "content-length": 0, ...answer.headers });
      res.end();
      return;
    }
    const text = JSON.stringify(answer.body);
    // Every JSON answer carries a weak ETag and no Location (surprise 34).
    res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), etag: weakEtag(text), ...answer.headers });
    res.end(text);
  };

  let expireEvery = 0;
  let writesSinceExpiry = 0;
  const log = (method: string, path: string, status: number) => {
    const write = isWrite(method, path);
    requests.push({ method, path, status, write, at: Date.now() });
    if (write && status < 300 && expireEvery > 0 && ++writesSinceExpiry >= expireEvery) {
      writesSinceExpiry = 0;
      tokens.expireAll();
    }
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    const fault = takeFault(method, path);
    if (fault?.kind === "reset") {
      log(method, path, 0);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "hang") {
      log(method, path, 0);
      hung.add(res);
      res.on("close", () => hung.delete(res));
      req.resume();
      return;
    }
    if (fault?.kind === "trickle") {
      // Headers at once, then a byte at a time: an idle timeout never fires, only a deadline for the whole answer.
      log(method, path, 200);
      hung.add(res);
      req.resume();
      res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
      const timer = setInterval(() => res.write(" "), fault.intervalMs ?? 200);
      res.on("close", () => {
        clearInterval(timer);
        hung.delete(res);
      });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyLimit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (fault?.kind === "fail") {
        const status = fault.status ?? 500;
        const o = fault.fail ?? {};
        const headers: Record<string, string> = o.retryAfterSeconds !== undefined ? { "retry-after": String(o.retryAfterSeconds) } : {};
        log(method, path, status);
        if (o.text !== undefined) {
          res.writeHead(status, { ...(o.contentType ? { "content-type": o.contentType } : {}), "content-length": Buffer.byteLength(o.text), ...headers });
          res.end(o.text);
          return;
        }
        const body = o.body ?? (status === 500 ? "Internal server error" : { message: http.STATUS_CODES[status] ?? "Error", statusCode: status });
        send(res, { status, body, headers });
        return;
      }
      let answer: Answer;
      // scicat-api.md §9: the payload error is swallowed by the global filter: 500, not 413.
      if (tooLarge) answer = INTERNAL;
      else {
        const text = Buffer.concat(chunks).toString("utf8");
        options.onRequest?.({ method, url: req.url ?? "/", body: text });
        const contentType = String(req.headers["content-type"] ?? "");
        const parsed = parseBody(text, contentType);
        // other/01 "malformed JSON body": 400 with JSON.parse's own message.
        if ("error" in parsed) answer = nest(400, parsed.error, "Bad Request");
        else {
          try {
            const segments = path.split("/").filter(Boolean);
            answer = route({ method, rawPath: path, segments, query: url.searchParams, body: parsed.body, caller: callerOf(req), contentType, headers: req.headers });
          } catch (error) {
            answer = error instanceof FilterError ? nest(400, error.message, "Bad Request") : INTERNAL;
          }
        }
      }
      if (fault?.kind === "lose") {
        // The work is done and stored; the client never hears about it.
        log(method, path, 0);
        req.socket.destroy();
        return;
      }
      log(method, path, answer.status);
      send(res, answer);
    });
  };
  // A catalog far away or busy (the benchmark's slow-catalog scenario): every request waits before it is served.
  const latencyMs = options.latencyMs ?? 0;
  const server = http.createServer(latencyMs > 0 ? (req, res) => void setTimeout(handle, latencyMs, req, res) : handle);
  server.keepAliveTimeout = 30_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        const address = server.address();
        resolve(typeof address === "object" && address ? address.port : port);
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      for (const res of hung) res.destroy();
      for (const socket of sockets) socket.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  const port = await listen(options.port ?? 0);
  const origin = `http://127.0.0.1:${port}`;
  const addFault = (fault: Fault) => {
    if (fault.remaining > 0) faults.push(fault);
  };

  return {
    url: `${origin}/api`,
    origin,
    port,
    close: stopListening,
    datasets: () => [...store.datasets.values()].map(clone),
    proposals: () => [...store.proposals.values()].map(clone),
    samples: () => [...store.samples.values()].map(clone),
    instruments: () => [...store.instruments.values()].map(clone),
    origdatablocks: (pid) => (pid === undefined ? [...store.origdatablocks.values()] : store.blocksOf(pid)).map(clone),
    attachments: () => attachments.list(),
    requests,
    writeCount: () => requests.filter((r) => r.write).length,
    resetRequests: () => void requests.splice(0),
    failNext: (count, status, o = {}) => addFault({ kind: "fail", remaining: count, status, match: o.match, fail: o }),
    resetNext: (count, match) => addFault({ kind: "reset", remaining: count, match }),
    hangNext: (count, match) => addFault({ kind: "hang", remaining: count, match }),
    loseResponseNext: (count, match) => addFault({ kind: "lose", remaining: count, match }),
    trickleNext: (count, match, o = {}) => addFault({ kind: "trickle", remaining: count, match, ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}) }),
    expireTokens: () => tokens.expireAll(),
    expireTokensEvery: (writes) => {
      expireEvery = writes;
      writesSinceExpiry = 0;
    },
    goDown: stopListening,
    async comeBack() {
      if (!server.listening) await listen(port);
    },
    clearFaults: () => {
      faults = [];
    },
  };
}

/** A minimal OpenAPI document listing the routes this server serves (clients probe it for v4 datasets). */
function explorer(v4: boolean): Doc {
  const paths: Record<string, unknown> = {};
  for (const p of ["/api/v3/auth/login", "/api/v3/auth/whoami", "/api/v3/health", "/api/v3/proposals", "/api/v3/proposals/{pid}", "/api/v3/samples", "/api/v3/samples/{id}", "/api/v3/instruments", "/api/v3/instruments/{id}", "/api/v3/datasets", "/api/v3/datasets/{pid}", "/api/v3/datasets/{pid}/origdatablocks", "/api/v3/origdatablocks", "/api/v3/origdatablocks/{id}"]) {
    paths[p] = {};
  }
  if (v4) for (const p of ["/api/v4/datasets", "/api/v4/datasets/{pid}", "/api/v4/origdatablocks", "/api/v4/origdatablocks/{id}"]) paths[p] = {};
  return { openapi: "3.0.0", info: { title: "SciCat backend (beamsync fake)", version: "4.x" }, paths };
}

interface Request {
  method: string;
  /** The path as sent, `%2F` and all: route-miss messages quote it (other/01 "unversioned"). */
  rawPath: string;
  segments: string[];
  query: URLSearchParams;
  body: unknown;
  caller: Caller | undefined;
  contentType: string;
  headers: http.IncomingHttpHeaders;
}

// auth/01, auth/04: the recorded accounts' addresses.
function emailOf(username: string): string {
  return `${username}@scicat.local`;
}

/** JSON, or a form (auth/03 "ingestor urlencoded"); an empty body is no body. */
function parseBody(text: string, contentType: string): { body: unknown } | { error: string } {
  if (text.trim() === "") return { body: undefined };
  if (contentType.includes("application/x-www-form-urlencoded")) return { body: Object.fromEntries(new URLSearchParams(text)) };
  try {
    return { body: JSON.parse(text) as unknown };
  } catch (error) {
    // The recorded server's V8 says "… at position 1"; newer ones (Node 24) add " (line 1 column 2)".
    return { error: (error as Error).message.replace(/ \(line \d+ column \d+\)$/, "") };
  }
}

/** Express's weak ETag: length in hex and a SHA-1 prefix (surprise 34). */
function weakEtag(text: string): string {
  const hash = createHash("sha1").update(text).digest("base64").slice(0, 27);
  return `W/"${Buffer.byteLength(text).toString(16)}-${hash}"`;
}
