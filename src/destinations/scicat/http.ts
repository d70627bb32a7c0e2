import { createCatalogClient } from "../http-client.js";
import type { TransportName } from "../transport.js";
import { LeaseLostError } from "../../sync/lease-fence.js";

/**
 * The SciCat transport: JSON over keep-alive connections, every status handed back to the caller (SciCat's
 * statuses carry meaning: 403 for an expired token, 409 for "exists", 500 for a duplicate sample).
 * Knows nothing of tokens or retries.
 */

export interface ScicatResponse {
  status: number;
  /** Parsed JSON, a plain string when the body was not JSON, undefined when empty. */
  data: unknown;
  /** The body parsed as JSON (a JSON string is JSON too); false for HTML, plain text or an empty body. */
  json: boolean;
  headers: Record<string, string | undefined>;
  /** The absolute URL asked, for messages (never with credentials: they travel in headers and bodies). */
  url: string;
  method: string;
}

export interface ScicatRequest {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Path below the API root, e.g. `/v3/proposals/P1`; or an absolute origin path when `fromOrigin`. */
  path: string;
  query?: Record<string, string> | undefined;
  body?: unknown;
  headers?: Record<string, string> | undefined;
  /** Resolve `path` against the server origin instead of the API root (for `/explorer-json`). */
  fromOrigin?: boolean | undefined;
}

/** No answer at all: connection refused or reset, DNS, the deadline passed, or the client was closed. */
export class ScicatTransportError extends Error {
  constructor(
    message: string,
    readonly reason: "network" | "timeout" | "closed",
  ) {
    super(message);
    this.name = "ScicatTransportError";
  }
}

export interface ScicatHttp {
  send(request: ScicatRequest): Promise<ScicatResponse>;
  /** Release the sockets and end every exchange still in flight (shutdown must not wait on a slow catalog). */
  close(): void;
}

/** `http://host:3000/api` → `http://host:3000`. */
export function originOf(apiUrl: string): string {
  return apiUrl.replace(/\/+$/, "").replace(/\/api$/, "");
}

/**
 * `timeoutMs` is a deadline for the whole exchange (connect, headers and the last byte of the body): axios's own
 * `timeout` is an idle timer, which an answer trickling one byte at a time never trips.
 */
export function createScicatHttp(apiUrl: string, timeoutMs: number, transport: TransportName = "undici"): ScicatHttp {
  const apiRoot = apiUrl.replace(/\/+$/, "");
  const origin = originOf(apiUrl);
  const closing = new AbortController();
  /** Exchanges in flight, for close() to end (a listener per exchange on one signal would pile up). */
  const inFlight = new Set<AbortController>();
  const { client, close } = createCatalogClient(apiRoot, {
    // The deadline below covers the whole exchange, whichever adapter carries it; no second timer.
    timeout: 0,
    transport,
    maxBodyLength: Infinity,
    maxContentLength: Infinity,
    // Bodies go out already serialized: axios's default would parse each one again to check it.
    transformRequest: [(data: unknown) => data],
  });

  return {
    async send(request) {
      const url = `${request.fromOrigin ? origin : apiRoot}${request.path}`;
      const headers: Record<string, string> = { ...request.headers };
      if (request.body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
      if (closing.signal.aborted) throw new ScicatTransportError("the SciCat client is closed (shutting down)", "closed");
      // One controller per exchange, ended by the deadline or by close() (cheaper than AbortSignal.any).
      const exchange = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        exchange.abort();
      }, timeoutMs);
      inFlight.add(exchange);
      try {
        const response = await client.request({
          method: request.method,
          url,
          params: request.query ? new URLSearchParams(request.query) : undefined,
          data: request.body === undefined ? undefined : JSON.stringify(request.body),
          headers,
          signal: exchange.signal,
        });
        const body = parseBody(response.data);
        return { status: response.status, data: body.data, json: body.json, headers: flattenHeaders(response.headers), url, method: request.method };
      } catch (err) {
        if (timedOut) throw new ScicatTransportError(`no answer from SciCat within ${timeoutMs} ms for the whole exchange (destinations.scicat.timeoutMs)`, "timeout");
        if (closing.signal.aborted) throw new ScicatTransportError("the SciCat client was closed while waiting for an answer (shutting down)", "closed");
        // Not a network failure: the worker's lease ran out, and the record is another worker's now.
        if (err instanceof LeaseLostError) throw err;
        throw transportError(err);
      } finally {
        clearTimeout(timer);
        inFlight.delete(exchange);
      }
    },
    close() {
      closing.abort();
      for (const exchange of inFlight) exchange.abort();
      close();
    },
  };
}

/** A body as JSON when it parses, else as the text it is (an HTML page), with which of the two it was. */
export function parseBody(raw: unknown): { data: unknown; json: boolean } {
  // A test for any non-space character, not trim(): trim copies every body.
  if (typeof raw !== "string" || !/\S/.test(raw)) return { data: undefined, json: false };
  try {
    return { data: JSON.parse(raw) as unknown, json: true };
  } catch {
    return { data: raw, json: false };
  }
}

function flattenHeaders(headers: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries((headers ?? {}) as Record<string, unknown>)) {
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v === undefined || v === null ? undefined : String(v);
  }
  return out;
}

/** Axios errors carry the request config (Authorization header, password body): keep only the cause. */
function transportError(err: unknown): ScicatTransportError {
  const code = (err as { code?: unknown }).code;
  const codeText = typeof code === "string" ? code : undefined;
  if (codeText === "ECONNABORTED" || codeText === "ETIMEDOUT" || codeText === "ERR_CANCELED") {
    return new ScicatTransportError(`no answer from SciCat in time (${codeText})`, "timeout");
  }
  const message = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
  return new ScicatTransportError(`cannot reach SciCat: ${codeText ?? message}`, "network");
}
