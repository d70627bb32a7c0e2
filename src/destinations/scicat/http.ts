import { createCatalogClient } from "../http-client.js";

/**
 * The SciCat transport: JSON over keep-alive connections, every status handed back to the caller (SciCat's
 * statuses carry meaning: 403 for an expired token, 409 for "exists", 500 for a duplicate sample).
 * Knows nothing of tokens or retries.
 */

export interface ScicatResponse {
  status: number;
  /** Parsed JSON, a plain string when the body was not JSON, undefined when empty. */
  data: unknown;
  headers: Record<string, string | undefined>;
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

/** No answer at all: connection refused or reset, DNS, timeout. */
export class ScicatTransportError extends Error {
  constructor(
    message: string,
    readonly reason: "network" | "timeout",
  ) {
    super(message);
    this.name = "ScicatTransportError";
  }
}

export interface ScicatHttp {
  send(request: ScicatRequest): Promise<ScicatResponse>;
  close(): void;
}

/** `http://host:3000/api` → `http://host:3000`. */
export function originOf(apiUrl: string): string {
  return apiUrl.replace(/\/+$/, "").replace(/\/api$/, "");
}

export function createScicatHttp(apiUrl: string, timeoutMs: number): ScicatHttp {
  const apiRoot = apiUrl.replace(/\/+$/, "");
  const origin = originOf(apiUrl);
  const { client, close } = createCatalogClient(apiRoot, {
    timeout: timeoutMs,
    maxSockets: 16,
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
      try {
        const response = await client.request({
          method: request.method,
          url,
          params: request.query ? new URLSearchParams(request.query) : undefined,
          data: request.body === undefined ? undefined : JSON.stringify(request.body),
          headers,
        });
        return { status: response.status, data: parseBody(response.data), headers: flattenHeaders(response.headers) };
      } catch (err) {
        throw transportError(err);
      }
    },
    close,
  };
}

function parseBody(raw: unknown): unknown {
  if (typeof raw !== "string" || raw.trim() === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
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
