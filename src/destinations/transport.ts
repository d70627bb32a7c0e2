import http from "node:http";
import https from "node:https";
import zlib from "node:zlib";
import { AxiosError, CanceledError, type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from "axios";
import { Agent as UndiciAgent, type Dispatcher } from "undici";
import { currentLeaseFence, isWrite, LeaseLostError } from "../sync/lease-fence.js";
import { VERSION } from "../version.js";

/**
 * axios transport adapters for the catalogs. axios stays the client (its config merging, headers, interceptors
 * and errors); an adapter only moves bytes. axios's own http adapter costs about 130 µs of CPU per request on a
 * small JSON exchange (follow-redirects, stream plumbing, per-request socket options), which is most of
 * beamsync's CPU per pushed record. These two do what the catalogs need and nothing else:
 *
 * - `undici`: the Node.js project's HTTP/1.1 client (the default: the cheaper of the two, see README Benchmarks);
 * - `node-http`: `node:http` with a keep-alive agent.
 *
 * Both send `config.data` as it comes (axios has already serialized it), never follow redirects, hand back the
 * body as text (or a Buffer for `responseType: "arraybuffer"`), apply `validateStatus`, end the exchange when
 * `config.signal` aborts (CanceledError) and treat `config.timeout` as a deadline for the whole exchange
 * (AxiosError ECONNABORTED, as axios names its own timeouts). Proxies are not theirs: with a proxy configured,
 * `createCatalogClient` keeps axios's own http adapter.
 */

export type TransportName = "undici" | "node-http";

export const TRANSPORTS: readonly TransportName[] = ["undici", "node-http"];

export interface Transport {
  adapter: AxiosAdapter;
  /** Close every socket; exchanges in flight end with an error. */
  close(): void;
}

export interface TransportOptions {
  /** Connections per catalog origin; unlimited when left out (the worker bounds concurrency). */
  maxSockets?: number | undefined;
  /** TCP keep-alive probe delay on idle sockets. */
  keepAliveMsecs: number;
}

const USER_AGENT = `beamsync/${VERSION}`;
const ACCEPT_ENCODING = "gzip, deflate, br";

export function createTransport(name: TransportName, options: TransportOptions): Transport {
  return name === "undici" ? undiciTransport(options) : nodeHttpTransport(options);
}

function undiciTransport(options: TransportOptions): Transport {
  const agent = new UndiciAgent({
    ...(options.maxSockets ? { connections: options.maxSockets } : {}),
    connect: { keepAlive: true, keepAliveInitialDelay: options.keepAliveMsecs },
  });
  // dispatch() with a handler of our own, not request(): no stream per answer, the body is a few chunks to join.
  const adapter: AxiosAdapter = (config) =>
    exchange(
      config,
      (request, signal, beforeWrite) =>
        new Promise<WireResponse>((resolve, reject) => {
          const url = new URL(request.url);
          let status = 0;
          let headers: WireResponse["headers"] = {};
          const chunks: Buffer[] = [];
          let controller: Dispatcher.DispatchController | undefined;
          const onAbort = () => controller?.abort(new Error("aborted"));
          signal.addEventListener("abort", onAbort, { once: true });
          const settle = (error: Error | undefined) => {
            signal.removeEventListener("abort", onAbort);
            if (error) reject(error);
            else resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
          };
          agent.dispatch(
            { origin: url.origin, path: `${url.pathname}${url.search}`, method: request.method as Dispatcher.HttpMethod, headers: request.headers, body: request.body ?? null },
            {
              // Called as the request is put on a connection, just before it is written.
              onRequestStart(c) {
                controller = c;
                if (signal.aborted) c.abort(new Error("aborted"));
                else abortUnlessWritable(beforeWrite, (error) => c.abort(error));
              },
              onResponseStart(_c, statusCode, responseHeaders) {
                status = statusCode;
                headers = responseHeaders;
              },
              onResponseData(_c, chunk) {
                chunks.push(chunk);
              },
              onResponseEnd: () => settle(undefined),
              onResponseError: (_c, error) => settle(error),
            },
          );
        }),
    );
  return { adapter, close: () => void agent.destroy().catch(() => undefined) };
}

function nodeHttpTransport(options: TransportOptions): Transport {
  // noDelay: a request is headers and body in one write, so Nagle's algorithm can only delay it.
  const agentOptions = { keepAlive: true, keepAliveMsecs: options.keepAliveMsecs, noDelay: true, ...(options.maxSockets ? { maxSockets: options.maxSockets } : {}) };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const adapter: AxiosAdapter = (config) =>
    exchange(
      config,
      (request, signal, beforeWrite) =>
        new Promise((resolve, reject) => {
          const secure = request.url.startsWith("https:");
          const send = secure ? https.request : http.request;
          const req = send(request.url, { method: request.method, headers: request.headers, agent: secure ? httpsAgent : httpAgent, signal }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("error", reject);
            // Cut before its end (the deadline, a close, the peer gone): 'close' comes without 'end'.
            res.on("close", () => res.complete || reject(new Error("the connection closed before the answer was complete")));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
          });
          req.on("error", reject);
          // The request waits in the agent for a socket; it is written once it has one.
          req.once("socket", () => abortUnlessWritable(beforeWrite, (error) => req.destroy(error)));
          req.end(request.body);
        }),
    );
  return {
    adapter,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

interface WireRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
}

interface WireResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** `beforeWrite` throws when the request may no longer be sent (a push's lease ran out while it waited for a connection). */
type Send = (request: WireRequest, signal: AbortSignal, beforeWrite: (() => void) | undefined) => Promise<WireResponse>;

function abortUnlessWritable(beforeWrite: (() => void) | undefined, abort: (error: Error) => void): void {
  if (!beforeWrite) return;
  try {
    beforeWrite();
  } catch (error) {
    abort(error as Error);
  }
}


/** What both adapters share: the request from axios's config, the deadline and cancel, the response for axios. */
async function exchange(config: InternalAxiosRequestConfig, send: Send): Promise<AxiosResponse> {
  const request = wireRequest(config);
  const outer = config.signal as AbortSignal | undefined;
  if (outer?.aborted) throw new CanceledError(undefined, config);
  // With a timeout, one controller per exchange, fed by the caller's signal and the deadline (cheaper than
  // AbortSignal.any); without one (SciCat keeps its own deadline) the caller's signal goes as it is.
  const timeout = config.timeout && config.timeout > 0 ? config.timeout : 0;
  const controller = timeout || !outer ? new AbortController() : undefined;
  const abort = () => controller?.abort();
  if (controller) outer?.addEventListener?.("abort", abort);
  let timedOut = false;
  const timer = timeout
    ? setTimeout(() => {
        timedOut = true;
        abort();
      }, timeout)
    : undefined;
  let wire: WireResponse;
  try {
    // A write for a record checks the push's lease again where it leaves for the wire, not only when axios
    // took it: a process frozen (SIGSTOP) while the request waited for a connection sends it on waking otherwise.
    const fence = isWrite(request.method) ? currentLeaseFence() : undefined;
    wire = await send(request, controller?.signal ?? outer!, fence && (() => fence.check(`${request.method} ${request.url}`)));
  } catch (err) {
    if (err instanceof LeaseLostError) throw err;
    if (timedOut) throw new AxiosError(`timeout of ${config.timeout}ms exceeded`, AxiosError.ECONNABORTED, config);
    if (outer?.aborted) throw new CanceledError(undefined, config);
    throw networkError(err, config);
  } finally {
    if (timer) clearTimeout(timer);
    if (controller) outer?.removeEventListener?.("abort", abort);
  }
  const body = decode(wire.body, wire.headers["content-encoding"]);
  const limit = config.maxContentLength ?? -1;
  if (limit > -1 && body.length > limit) {
    throw new AxiosError(`maxContentLength size of ${limit} exceeded`, AxiosError.ERR_BAD_RESPONSE, config);
  }
  const response: AxiosResponse = {
    status: wire.status,
    statusText: http.STATUS_CODES[wire.status] ?? "",
    headers: wire.headers,
    config,
    data: config.responseType === "arraybuffer" ? body : body.toString("utf8"),
  };
  if (config.validateStatus && !config.validateStatus(wire.status)) {
    const code = wire.status >= 400 && wire.status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE;
    throw new AxiosError(`Request failed with status code ${wire.status}`, code, config, undefined, response);
  }
  return response;
}

function wireRequest(config: InternalAxiosRequestConfig): WireRequest {
  if (config.responseType && config.responseType !== "text" && config.responseType !== "json" && config.responseType !== "arraybuffer") {
    throw new AxiosError(`responseType ${config.responseType} is not supported by beamsync's transports`, AxiosError.ERR_BAD_OPTION, config);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.headers.toJSON())) {
    if (value !== undefined && value !== null && (value as unknown) !== false) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  headers["user-agent"] ??= USER_AGENT;
  headers["accept-encoding"] ??= ACCEPT_ENCODING;
  if (config.auth) headers.authorization = `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password}`).toString("base64")}`;
  const data: unknown = config.data;
  let body: string | Buffer | undefined;
  if (typeof data === "string" || Buffer.isBuffer(data)) body = data;
  else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) body = Buffer.from(data as ArrayBuffer);
  else if (data !== undefined && data !== null) {
    throw new AxiosError("request body must be serialized before it reaches the transport", AxiosError.ERR_BAD_REQUEST, config);
  }
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  return { url: fullUrl(config), method: (config.method ?? "get").toUpperCase(), headers, body };
}

/** axios's URL rule: an absolute `url` stands alone, a relative one goes below `baseURL`; params appended. */
function fullUrl(config: InternalAxiosRequestConfig): string {
  const url = config.url ?? "";
  let full = /^[a-z][a-z\d+\-.]*:\/\//i.test(url) || !config.baseURL ? url : `${config.baseURL.replace(/\/+$/, "")}/${url.replace(/^\/+/, "")}`;
  const params: unknown = config.params;
  if (params !== undefined && params !== null) {
    const query = (params instanceof URLSearchParams ? params : new URLSearchParams(params as Record<string, string>)).toString();
    if (query) full += `${full.includes("?") ? "&" : "?"}${query}`;
  }
  return full;
}

function decode(body: Buffer, encoding: string | string[] | undefined): Buffer {
  if (body.length === 0 || typeof encoding !== "string") return body;
  switch (encoding.trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return zlib.gunzipSync(body);
    case "deflate":
      return zlib.inflateSync(body);
    case "br":
      return zlib.brotliDecompressSync(body);
    default:
      return body;
  }
}

/** undici names a dropped connection UND_ERR_SOCKET; give it the name node:http (and our messages) use. */
const UNDICI_CODES: Record<string, string> = { UND_ERR_SOCKET: "ECONNRESET", UND_ERR_CLOSED: "ECONNRESET", UND_ERR_CONNECT_TIMEOUT: "ETIMEDOUT" };

/** No request object on our errors: it would carry the Authorization header and a login body. */
function networkError(err: unknown, config: InternalAxiosRequestConfig): AxiosError {
  const raw = (err as { code?: unknown }).code;
  const causeCode = (err as { cause?: { code?: unknown } }).cause?.code;
  const code = typeof raw === "string" ? raw : typeof causeCode === "string" ? causeCode : undefined;
  const named = code ? (UNDICI_CODES[code] ?? code) : undefined;
  const error = new AxiosError(err instanceof Error ? err.message : String(err), named, config);
  error.cause = err instanceof Error ? err : undefined;
  return error;
}
