import { randomUUID } from "node:crypto";
import http from "node:http";
import type { Socket } from "node:net";
import { coerceDates, FilterError, matchV3, matchV4, page, parseFilter, v3Limits, v4Limits } from "./filters.js";
import { TokenIssuer } from "./jwt.js";
import { clone, mergePatch, ScicatStore, type Doc } from "./store.js";
import { DATASET_V3_RAW_DTO, DATASET_V4_DTO, INSTRUMENT_DTO, ORIGDATABLOCK_DTO, PROPOSAL_DTO, SAMPLE_DTO, validate, type Dto, type ValidationError } from "./validate.js";

/**
 * An in-repo SciCat backend for tests, the demo and benchmarks, faithful to scicat-api.md including its odd
 * parts: an expired token is anonymous (403 on writes, [] on lists), a duplicate sample is a 500, origdatablocks
 * are never deduplicated, unknown properties are a 400, v3 dataset errors are a stringified array, v3 filters
 * coerce date-like strings, proposals are listed with `filters` (plural). Faults can be injected per request.
 */

export interface ScicatFakeUser {
  password: string;
  groups: string[];
  admin?: boolean;
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
  readonly requests: RequestLogEntry[];
  writeCount(): number;
  resetRequests(): void;
  failNext(count: number, status: number, options?: { match?: FaultMatch; body?: unknown; retryAfterSeconds?: number }): void;
  resetNext(count: number, match?: FaultMatch): void;
  hangNext(count: number, match?: FaultMatch): void;
  loseResponseNext(count: number, match?: FaultMatch): void;
  expireTokens(): void;
  /** From now on, every token issued so far expires after each `writes` successful write requests (0 stops it). */
  expireTokensEvery(writes: number): void;
  goDown(): Promise<void>;
  comeBack(): Promise<void>;
  clearFaults(): void;
}

interface Fault {
  kind: "fail" | "reset" | "hang" | "lose";
  remaining: number;
  match?: FaultMatch | undefined;
  status?: number;
  body?: unknown;
  retryAfterSeconds?: number | undefined;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Caller {
  username: string;
  groups: string[];
  admin: boolean;
  email: string;
}

const DEFAULT_USERS: Record<string, ScicatFakeUser> = { ingestor: { password: "ingestor-secret", groups: ["ingestor"], admin: true } };

const nest = (status: number, message: string | string[], error?: string): Answer => ({
  status,
  body: { message, ...(error ? { error } : {}), statusCode: status },
});
const INTERNAL: Answer = { status: 500, body: "Internal server error" };
const FORBIDDEN = nest(403, "Forbidden resource", "Forbidden");

const isWrite = (method: string, path: string) => method !== "GET" && method !== "HEAD" && !/\/auth\/(login|logout)$/i.test(path);

export async function startScicatFake(options: ScicatFakeOptions = {}): Promise<ScicatFake> {
  const users = options.users ?? DEFAULT_USERS;
  const ttl = options.tokenTtlSeconds ?? 3600;
  const v4 = options.v4 ?? true;
  const coercion = options.dateCoercionBug ?? true;
  const pidPrefix = (options.pidPrefix ?? "20.500.12269").replace(/\/+$/, "");
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
    return name && user ? { username: name, groups: user.groups, admin: user.admin ?? false, email: `${name}@example.org` } : undefined;
  };

  const canSee = (doc: Doc, caller: Caller | undefined): boolean => {
    if (doc.isPublished === true) return true;
    if (!caller) return false;
    if (caller.admin) return true;
    const groups = new Set(caller.groups);
    return groups.has(String(doc.ownerGroup)) || (Array.isArray(doc.accessGroups) && doc.accessGroups.some((g) => groups.has(String(g))));
  };

  // ---------------------------------------------------------------- routes

  const route = (method: string, segments: string[], query: URLSearchParams, body: unknown, caller: Caller | undefined, contentType: string, headers: http.IncomingHttpHeaders): Answer => {
    const lower = segments.map((s) => s.toLowerCase());
    if (lower[0] === "explorer-json" && segments.length === 1 && method === "GET") return { status: 200, body: explorer(v4) };
    if (lower[0] !== "api") return nest(404, `Cannot ${method} /${segments.join("/")}`, "Not Found");
    const version = lower[1];
    if (version !== "v3" && version !== "v4") return nest(404, `Cannot ${method} /${segments.join("/")}`, "Not Found");
    const resource = lower[2];
    const rest = segments.slice(3);
    const notFound = nest(404, `Cannot ${method} /${segments.join("/")}`, "Not Found");
    if (version === "v4" && (!v4 || (resource !== "datasets" && resource !== "origdatablocks"))) return notFound;

    switch (resource) {
      case "auth":
        return auth(method, lower[3], body, caller);
      case "health":
        return method === "GET" ? { status: 200, body: { status: "ok", info: { mongodb: { status: "up" } }, error: {}, details: { mongodb: { status: "up" } } } } : notFound;
      case "proposals":
        return proposals(method, rest, query, body, caller);
      case "samples":
        return keyedV3(method, rest, query, body, caller, sampleSpec);
      case "instruments":
        return keyedV3(method, rest, query, body, caller, instrumentSpec);
      case "datasets":
        return datasets(version, method, rest, query, body, caller, contentType, headers);
      case "origdatablocks":
        return origdatablocks(version, method, rest, query, body, caller);
      default:
        return notFound;
    }
  };

  const auth = (method: string, action: string | undefined, body: unknown, caller: Caller | undefined): Answer => {
    if (action === "login" && method === "POST") {
      const { username, password } = (body ?? {}) as { username?: unknown; password?: unknown };
      const user = typeof username === "string" ? users[username] : undefined;
      if (!user || user.password !== password) return { status: 401, body: { message: "Unauthorized", statusCode: 401 } };
      const name = username as string;
      const { token } = tokens.issue({ username: name, email: `${name}@example.org`, authStrategy: "local", _id: name, id: name }, ttl);
      return {
        status: 201,
        body: { access_token: token, id: token, expires_in: ttl, ttl, created: new Date().toISOString(), userId: name, user: { username: name, email: `${name}@example.org`, id: name } },
      };
    }
    if (action === "whoami" && method === "GET") {
      return caller ? { status: 200, body: { _id: caller.username, username: caller.username, email: caller.email, currentGroups: caller.groups, authStrategy: "local" } } : { status: 200 };
    }
    if (action === "logout" && method === "POST") return { status: 201, body: { logout: "successful" } };
    return nest(404, `Cannot ${method} /api/v3/auth/${action ?? ""}`, "Not Found");
  };

  const badRequest = (errors: ValidationError[]): Answer =>
    nest(
      400,
      errors.flatMap((e) => Object.values(e.constraints)),
      "Bad Request",
    );

  // Proposals: GET by id, list with `filters` (plural; `filter` is ignored), create (409 on duplicate), PATCH.
  const proposals = (method: string, rest: string[], query: URLSearchParams, body: unknown, caller: Caller | undefined): Answer => {
    const id = rest[0] !== undefined ? decodeURIComponent(rest[0]) : undefined;
    if (method === "POST" && id === undefined) {
      if (!caller || !caller.admin) return FORBIDDEN;
      const errors = validate(body, PROPOSAL_DTO);
      if (errors.length) return badRequest(errors);
      const doc = clone(body as Doc);
      const proposalId = String(doc.proposalId);
      if (store.proposals.has(proposalId)) return nest(409, `Proposal with ${proposalId} already exists`, "Conflict");
      doc._id = proposalId;
      doc.numberOfDatasets = 0;
      store.proposals.set(proposalId, store.stamp(doc, caller.username));
      return { status: 201, body: clone(doc) };
    }
    if (method === "GET" && id === undefined) {
      const filter = parseFilter(query.get("filters"));
      const where = coercion ? coerceDates(filter.where) : filter.where;
      const list = [...store.proposals.values()].filter((d) => canSee(d, caller) && matchV3(d, where));
      return { status: 200, body: page(list, v3Limits(filter.limits)).map(clone) };
    }
    if (id === "count" && method === "GET") {
      const filter = parseFilter(query.get("filter"));
      return { status: 200, body: { count: [...store.proposals.values()].filter((d) => canSee(d, caller) && matchV3(d, filter.where)).length } };
    }
    if (id === undefined) return nest(404, "Not Found", "Not Found");
    const doc = store.proposals.get(id);
    if (method === "GET") {
      if (!doc) return nest(404, `Proposal: ${id} not found`, "Not Found");
      return canSee(doc, caller) ? { status: 200, body: clone(doc) } : FORBIDDEN;
    }
    if (method === "PATCH") {
      if (!caller || !caller.admin) return FORBIDDEN;
      if (!doc) return nest(404, `Proposal: ${id} not found`, "Not Found");
      const errors = validate(body, PROPOSAL_DTO, { partial: true, forbidden: ["proposalId"] });
      if (errors.length) return badRequest(errors);
      Object.assign(doc, clone(body as Doc));
      store.stamp(doc, caller.username, false);
      return { status: 200, body: clone(doc) };
    }
    return nest(404, `Cannot ${method}`, "Not Found");
  };

  interface KeyedSpec {
    noun: string;
    dto: Dto;
    map: Map<string, Doc>;
    idField: string;
    create(doc: Doc, caller: Caller): Answer | undefined;
    write(caller: Caller, doc: Doc): boolean;
  }

  const sampleSpec: KeyedSpec = {
    noun: "Sample",
    dto: SAMPLE_DTO,
    map: store.samples,
    idField: "sampleId",
    create(doc) {
      doc.sampleId ??= randomUUID();
      // E11000 is not mapped to a 409 for samples: the global filter answers 500 (scicat-api.md §5.10).
      if (store.samples.has(String(doc.sampleId))) return INTERNAL;
      doc._id = doc.sampleId;
      return undefined;
    },
    write: (caller, doc) => caller.admin || caller.groups.includes(String(doc.ownerGroup)),
  };

  const instrumentSpec: KeyedSpec = {
    noun: "Instrument",
    dto: INSTRUMENT_DTO,
    map: store.instruments,
    idField: "pid",
    create(doc) {
      for (const existing of store.instruments.values()) {
        if (existing.uniqueName === doc.uniqueName) return nest(409, "Instrument with the same unique name already exists", "Conflict");
      }
      doc.pid = `${pidPrefix}/${randomUUID()}`;
      doc._id = doc.pid;
      return undefined;
    },
    write: (caller) => caller.admin,
  };

  const keyedV3 = (method: string, rest: string[], query: URLSearchParams, body: unknown, caller: Caller | undefined, spec: KeyedSpec): Answer => {
    const id = rest[0] !== undefined ? decodeURIComponent(rest[0]) : undefined;
    const visible = (d: Doc) => spec.noun === "Instrument" || canSee(d, caller);
    if (method === "POST" && id === undefined) {
      if (!caller) return FORBIDDEN;
      const errors = validate(body, spec.dto);
      if (errors.length) return badRequest(errors);
      const doc = clone(body as Doc);
      if (!spec.write(caller, doc)) return FORBIDDEN;
      const refused = spec.create(doc, caller);
      if (refused) return refused;
      spec.map.set(String(doc[spec.idField]), store.stamp(doc, caller.username));
      return { status: 201, body: clone(doc) };
    }
    if (method === "GET" && (id === undefined || id.toLowerCase() === "findone")) {
      const filter = parseFilter(query.get("filter"));
      const where = coercion ? coerceDates(filter.where) : filter.where;
      // Anonymous callers see public records only; instruments are public.
      const list = [...spec.map.values()].filter((d) => (caller || spec.noun === "Instrument" ? visible(d) : d.isPublished === true) && matchV3(d, where));
      const limited = page(list, v3Limits(filter.limits)).map(clone);
      if (id !== undefined) return { status: 200, body: limited[0] ?? null };
      return { status: 200, body: limited };
    }
    if (id === undefined) return nest(404, "Not Found", "Not Found");
    const doc = spec.map.get(id);
    if (method === "GET") {
      if (!doc) return nest(404, `${spec.noun}: ${id} not found`, "Not Found");
      return visible(doc) ? { status: 200, body: clone(doc) } : FORBIDDEN;
    }
    if (method === "PATCH") {
      if (!caller) return FORBIDDEN;
      if (!doc) return nest(404, `${spec.noun}: ${id} not found`, "Not Found");
      if (!spec.write(caller, doc)) return FORBIDDEN;
      const errors = validate(body, spec.dto, { partial: true, forbidden: [spec.idField === "pid" ? "uniqueName" : spec.idField] });
      if (errors.length) return badRequest(errors);
      Object.assign(doc, clone(body as Doc));
      store.stamp(doc, caller.username, false);
      return { status: 200, body: clone(doc) };
    }
    return nest(404, `Cannot ${method}`, "Not Found");
  };

  // ---------------------------------------------------------------- datasets

  const v3Error = (errors: ValidationError[]): Answer => ({ status: 400, body: { status: 400, message: JSON.stringify(errors) } });

  const toStored = (doc: Doc): Doc => {
    const out = { ...doc };
    const renames: [string, string][] = [
      ["proposalId", "proposalIds"],
      ["sampleId", "sampleIds"],
      ["instrumentId", "instrumentIds"],
      ["principalInvestigator", "principalInvestigators"],
    ];
    for (const [one, many] of renames) {
      if (one in out) {
        out[many] = [out[one]];
        delete out[one];
      }
    }
    return out;
  };

  const createDataset = (version: string, body: unknown, caller: Caller | undefined): Answer => {
    if (!caller) return FORBIDDEN;
    const raw = (body ?? {}) as Doc;
    let doc: Doc;
    if (version === "v3") {
      if (raw.type !== "raw") return v3Error([{ property: "type", constraints: { isIn: "Invalid dataset type!" }, children: [] }]);
      const errors = validate(body, DATASET_V3_RAW_DTO);
      if (errors.length) return v3Error(errors);
      doc = toStored(clone(raw));
      if (doc.sampleIds === undefined) doc.sampleIds = [null];
      if (doc.instrumentIds === undefined) doc.instrumentIds = [null];
      if (doc.datasetName === undefined) doc.datasetName = String(doc.sourceFolder).split("/").filter(Boolean).slice(-2).join("/");
      doc.version = "3";
    } else {
      const errors = validate(body, DATASET_V4_DTO);
      if (errors.length) return badRequest(errors);
      if (raw.type !== "raw" && raw.type !== "derived") return nest(400, "Invalid dataset type!", "Bad Request");
      // The storage schema still requires owner although the v4 DTO does not (scicat-api.md §5.3).
      if (raw.owner === undefined) return { status: 500, body: { message: "Something went wrong. Please try again later.", statusCode: 500 } };
      doc = clone(raw);
      doc.version = "4";
    }
    if (doc.pid !== undefined && !caller.admin) return nest(403, "Unauthorized to create this dataset", "Forbidden");
    if (!caller.admin && !caller.groups.includes(String(doc.ownerGroup))) return nest(403, "Unauthorized to create this dataset", "Forbidden");
    doc.pid ??= `${pidPrefix}/${randomUUID()}`;
    const pid = String(doc.pid);
    if (store.datasets.has(pid)) return nest(409, `A dataset with pid ${pid} already exists!`, "Conflict");
    doc._id = pid;
    doc.size ??= 0;
    doc.numberOfFiles ??= 0;
    doc.classification ??= "IN=medium,AV=low,CO=low";
    doc.datasetlifecycle ??= { archivable: true, retrievable: false, publishable: false, isOnCentralDisk: true, archiveStatusMessage: "datasetCreated" };
    store.datasets.set(pid, store.stamp(doc, caller.username));
    for (const proposalId of Array.isArray(doc.proposalIds) ? doc.proposalIds : []) {
      const proposal = store.proposals.get(String(proposalId));
      if (proposal) proposal.numberOfDatasets = Number(proposal.numberOfDatasets ?? 0) + 1;
    }
    return { status: 201, body: clone(doc) };
  };

  const patchDataset = (version: string, pid: string, body: unknown, caller: Caller | undefined, contentType: string, headers: http.IncomingHttpHeaders): Answer => {
    if (!caller) return FORBIDDEN;
    const doc = store.datasets.get(pid);
    if (!doc) return nest(404, `dataset: ${pid} not found`, "Not Found");
    if (!canSee(doc, caller)) return FORBIDDEN;
    const since = headers["if-unmodified-since"];
    if (typeof since === "string" && Date.parse(since) < Date.parse(String(doc.updatedAt))) return nest(412, "Resource has been modified on server", "Precondition Failed");
    if (version === "v3") {
      const errors = validate(body, DATASET_V3_RAW_DTO, { partial: true, forbidden: ["pid"] });
      if (errors.length) return v3Error(errors);
      Object.assign(doc, toStored(clone(body as Doc)));
    } else {
      const errors = validate(body, DATASET_V4_DTO, { partial: true, forbidden: ["pid"] });
      if (errors.length) return badRequest(errors);
      if (contentType.includes("merge-patch")) {
        Object.assign(doc, mergePatch(doc, body) as Doc);
      } else {
        for (const [k, v] of Object.entries(body as Doc)) if (v !== null) doc[k] = clone(v);
      }
    }
    store.stamp(doc, caller.username, false);
    return { status: 200, body: clone(doc) };
  };

  const datasets = (version: string, method: string, rest: string[], query: URLSearchParams, body: unknown, caller: Caller | undefined, contentType: string, headers: http.IncomingHttpHeaders): Answer => {
    const first = rest[0] !== undefined ? decodeURIComponent(rest[0]) : undefined;
    const sub = rest[1]?.toLowerCase();
    if (first === undefined) {
      if (method === "POST") return createDataset(version, body, caller);
      if (method === "GET") return listDatasets(version, query, caller, "list");
      return nest(404, `Cannot ${method}`, "Not Found");
    }
    const lowerFirst = first.toLowerCase();
    if (method === "GET" && (lowerFirst === "findone" || lowerFirst === "count") && sub === undefined) return listDatasets(version, query, caller, lowerFirst);
    const pid = first;
    if (sub === "origdatablocks" && version === "v3") {
      const dataset = store.datasets.get(pid);
      if (!dataset || !canSee(dataset, caller)) return caller ? nest(404, `Dataset: ${pid} not found`, "Not Found") : FORBIDDEN;
      if (method === "GET") return { status: 200, body: store.blocksOf(pid).map(clone) };
      if (method === "POST") {
        const b = (body ?? {}) as Doc;
        return createBlock({ ...b, datasetId: pid }, caller, ["ownerGroup", "accessGroups", "instrumentGroup"], b);
      }
    }
    if (sub !== undefined) return nest(404, `Cannot ${method}`, "Not Found");
    if (method === "GET") {
      const doc = store.datasets.get(pid);
      if (!doc) return nest(404, `dataset: ${pid} not found`, "Not Found");
      return canSee(doc, caller) ? { status: 200, body: clone(doc) } : nest(403, "Unauthorized access", "Forbidden");
    }
    if (method === "PATCH") return patchDataset(version, pid, body, caller, contentType, headers);
    if (method === "DELETE") {
      if (!caller?.admin) return FORBIDDEN;
      if (!store.datasets.delete(pid)) return nest(404, `dataset: ${pid} not found`, "Not Found");
      return { status: 200, body: {} };
    }
    return nest(404, `Cannot ${method}`, "Not Found");
  };

  const listDatasets = (version: string, query: URLSearchParams, caller: Caller | undefined, mode: string): Answer => {
    // Anonymous v4 lists are refused outright; v3 answers with public records only.
    if (version === "v4" && !caller) return FORBIDDEN;
    const filter = parseFilter(query.get("filter"));
    const match = version === "v4" ? (d: Doc) => matchV4(d, filter.where) : (d: Doc) => matchV3(d, coercion ? coerceDates(filter.where) : filter.where);
    const all = [...store.datasets.values()].filter((d) => canSee(d, caller) && match(d));
    if (mode === "count") return { status: 200, body: { count: all.length } };
    const limits = version === "v4" ? v4Limits(filter.limits) : v3Limits(filter.limits);
    const list = page(all, limits).map(clone);
    return mode === "findone" ? { status: 200, body: list[0] ?? {} } : { status: 200, body: list };
  };

  // ---------------------------------------------------------------- origdatablocks

  const createBlock = (body: Doc, caller: Caller | undefined, forbidden: string[] = [], original: Doc = body): Answer => {
    if (!caller) return FORBIDDEN;
    const forbiddenPresent = forbidden.filter((k) => k in original);
    const errors = validate(body, ORIGDATABLOCK_DTO);
    for (const k of forbiddenPresent) errors.push({ property: k, constraints: { whitelistValidation: `property ${k} should not exist` }, children: [] });
    if (errors.length) return badRequest(errors);
    const pid = String(body.datasetId);
    const dataset = store.datasets.get(pid);
    if (!dataset || !canSee(dataset, caller)) return nest(404, `Dataset: ${pid} not found for attaching an origdatablock`, "Not Found");
    if (!caller.admin && !caller.groups.includes(String(dataset.ownerGroup))) return FORBIDDEN;
    const block = clone(body);
    block.ownerGroup ??= dataset.ownerGroup;
    block.accessGroups ??= dataset.accessGroups ?? [];
    block.dataFileList = (block.dataFileList as Doc[]).map((f) => ({ ...f, _id: randomUUID() }));
    store.addBlock(store.stamp(block, caller.username));
    return { status: 201, body: clone(block) };
  };

  const origdatablocks = (version: string, method: string, rest: string[], query: URLSearchParams, body: unknown, caller: Caller | undefined): Answer => {
    const id = rest[0] !== undefined ? decodeURIComponent(rest[0]) : undefined;
    if (id === undefined) {
      if (method === "POST") return createBlock((body ?? {}) as Doc, caller);
      if (method === "GET") {
        if (!caller) return version === "v4" ? FORBIDDEN : { status: 200, body: [] };
        const filter = parseFilter(query.get("filter"));
        const match = version === "v4" ? (d: Doc) => matchV4(d, filter.where) : (d: Doc) => matchV3(d, coercion ? coerceDates(filter.where) : filter.where);
        const list = [...store.origdatablocks.values()].filter((b) => canSee(b, caller) && match(b));
        return { status: 200, body: page(list, version === "v4" ? v4Limits(filter.limits) : v3Limits(filter.limits)).map(clone) };
      }
      return nest(404, `Cannot ${method}`, "Not Found");
    }
    const block = store.origdatablocks.get(id);
    if (!block) return nest(404, `OrigDatablock: ${id} not found`, "Not Found");
    if (!caller) return FORBIDDEN;
    if (method === "GET") return canSee(block, caller) ? { status: 200, body: clone(block) } : FORBIDDEN;
    if (method === "PATCH") {
      const errors = validate(body, ORIGDATABLOCK_DTO, { partial: true, forbidden: ["datasetId"] });
      if (errors.length) return badRequest(errors);
      const patch = clone(body as Doc);
      if (Array.isArray(patch.dataFileList)) patch.dataFileList = (patch.dataFileList as Doc[]).map((f) => ({ ...f, _id: f._id ?? randomUUID() }));
      Object.assign(block, patch);
      store.stamp(block, caller.username, false);
      store.recount(String(block.datasetId));
      return { status: 200, body: clone(block) };
    }
    if (method === "DELETE") {
      if (!caller.admin) return FORBIDDEN;
      store.deleteBlock(id);
      return { status: 200, body: {} };
    }
    return nest(404, `Cannot ${method}`, "Not Found");
  };

  // ---------------------------------------------------------------- HTTP plumbing

  const send = (res: http.ServerResponse, answer: Answer) => {
    const text = answer.body === undefined ? "" : JSON.stringify(answer.body);
    res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...answer.headers });
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

  const server = http.createServer((req, res) => {
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
        const body = fault.body ?? (status === 500 ? "Internal server error" : { message: http.STATUS_CODES[status] ?? "Error", statusCode: status });
        log(method, path, status);
        send(res, { status, body, ...(fault.retryAfterSeconds !== undefined ? { headers: { "retry-after": String(fault.retryAfterSeconds) } } : {}) });
        return;
      }
      let answer: Answer;
      if (tooLarge) answer = INTERNAL; // the payload error is swallowed by the global filter: 500, not 413
      else {
        let body: unknown;
        const text = Buffer.concat(chunks).toString("utf8");
        options.onRequest?.({ method, url: req.url ?? "/", body: text });
        try {
          body = text.trim() === "" ? undefined : (JSON.parse(text) as unknown);
        } catch {
          body = Symbol.for("invalid");
        }
        if (body === Symbol.for("invalid")) answer = nest(400, "Unexpected token in JSON body", "Bad Request");
        else {
          try {
            answer = route(method, path.split("/").filter(Boolean), url.searchParams, body, callerOf(req), String(req.headers["content-type"] ?? ""), req.headers);
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
  });
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
    requests,
    writeCount: () => requests.filter((r) => r.write).length,
    resetRequests: () => void requests.splice(0),
    failNext: (count, status, o = {}) => addFault({ kind: "fail", remaining: count, status, match: o.match, body: o.body, retryAfterSeconds: o.retryAfterSeconds }),
    resetNext: (count, match) => addFault({ kind: "reset", remaining: count, match }),
    hangNext: (count, match) => addFault({ kind: "hang", remaining: count, match }),
    loseResponseNext: (count, match) => addFault({ kind: "lose", remaining: count, match }),
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
