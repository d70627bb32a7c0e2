import type { AxiosResponse } from "axios";
import { createCatalogClient } from "../http-client.js";
import type { TransportName } from "../transport.js";
import { LeaseLostError } from "../../sync/lease-fence.js";

/**
 * The ICAT REST transport (icat-api.md §1): writes as form bodies whose fields hold JSON strings, reads and
 * deletes in the query string, every error a JSON `{code, message[, offset]}`. Knows nothing of sessions.
 */

/** An error the ICAT server itself reported. Branch on `code`, never on the status alone (§6). */
export class IcatServerError extends Error {
  constructor(
    readonly code: string,
    readonly serverMessage: string,
    readonly status: number,
    readonly offset?: number,
  ) {
    super(`${code}: ${serverMessage}`);
    this.name = "IcatServerError";
  }
}

/** No ICAT answer: network trouble, a timeout, or a non-JSON reply (a proxy's 502/504, a wrong URL). */
export class IcatTransportError extends Error {
  constructor(
    message: string,
    readonly reason: "network" | "timeout" | "http",
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "IcatTransportError";
  }
}

export interface IcatHttp {
  get(path: string, query: Record<string, string>): Promise<unknown>;
  /** `timeoutMs` overrides the client's timeout for this request (updates that make the server walk many rows). */
  postForm(path: string, form: Record<string, string>, options?: { timeoutMs?: number }): Promise<unknown>;
  put(path: string): Promise<unknown>;
  delete(path: string, query?: Record<string, string>): Promise<unknown>;
  close(): void;
}

export function icatBase(url: string): string {
  return `${url.replace(/\/+$/, "")}/icat`;
}

export function createIcatHttp(url: string, timeoutMs: number, transport: TransportName = "undici"): IcatHttp {
  const { client, close } = createCatalogClient(url, { baseURL: icatBase(url), timeout: timeoutMs, transport });

  const send = async (request: () => Promise<AxiosResponse<unknown>>): Promise<unknown> => {
    let response: AxiosResponse<unknown>;
    try {
      response = await request();
    } catch (err) {
      // Not a network failure: the worker's lease ran out, and the record is another worker's now.
      if (err instanceof LeaseLostError) throw err;
      throw transportError(err);
    }
    return interpret(response);
  };

  // `timeout` is a deadline for the whole exchange under every transport (http-client.ts).
  const within = (ms = timeoutMs) => ({ timeout: ms });
  return {
    get: (path, query) => send(() => client.get(path, { params: new URLSearchParams(query), ...within() })),
    postForm: (path, form, options = {}) => send(() => client.post(path, new URLSearchParams(form), within(options.timeoutMs))),
    put: (path) => send(() => client.put(path, undefined, within())),
    delete: (path, query = {}) => send(() => client.delete(path, { params: new URLSearchParams(query), ...within() })),
    close,
  };
}

function interpret(response: AxiosResponse<unknown>): unknown {
  const { status } = response;
  const text = typeof response.data === "string" ? response.data : "";
  let json: unknown;
  let parsed = false;
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
      parsed = true;
    } catch {
      parsed = false;
    }
  }
  if (status >= 200 && status < 300) {
    if (text.trim() === "") return undefined;
    if (!parsed) throw new IcatTransportError(`ICAT answered HTTP ${status} with a body that is not JSON`, "http", status);
    return json;
  }
  if (parsed && json !== null && typeof json === "object" && typeof (json as { code?: unknown }).code === "string") {
    const body = json as { code: string; message?: unknown; offset?: unknown };
    throw new IcatServerError(body.code, String(body.message ?? ""), status, typeof body.offset === "number" ? body.offset : undefined);
  }
  const snippet = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 120);
  throw new IcatTransportError(
    `HTTP ${status} without an ICAT error body${snippet ? ` (${snippet})` : ""}`,
    "http",
    status,
    retryAfterMs(response.headers["retry-after"]),
  );
}

function retryAfterMs(header: unknown): number | undefined {
  if (typeof header !== "string" || header === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Axios errors carry the request (URL with the session id, form with the password): keep only the cause. */
function transportError(err: unknown): IcatTransportError {
  const code = (err as { code?: unknown }).code;
  const codeText = typeof code === "string" ? code : undefined;
  if (codeText === "ECONNABORTED" || codeText === "ETIMEDOUT" || codeText === "ERR_CANCELED") {
    return new IcatTransportError(`no answer from ICAT in time (${codeText})`, "timeout");
  }
  const message = err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err);
  return new IcatTransportError(`cannot reach ICAT: ${codeText ?? message}`, "network");
}
