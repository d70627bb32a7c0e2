import { scrubSecrets } from "../../ops/logger.js";
import { ConfigurationError, DependencyError, PermanentError, SyncError, TransientError, UnavailableError, toSyncError } from "../../sync/errors.js";
import { parseRetryAfter } from "../../sync/retry.js";
import { ScicatTransportError, type ScicatResponse } from "./http.js";

/** SciCat failures → typed sync errors (scicat-api.md §4, §12.6), keeping the server's words but never a secret. */

/** An answer SciCat gave with a status the caller did not expect. */
export class ScicatHttpError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly status: number,
    readonly serverMessage: string,
    readonly operation: string,
    retryAfter?: string,
  ) {
    super(`HTTP ${status} ${operation}: ${serverMessage}`);
    this.name = "ScicatHttpError";
    this.retryAfterMs = parseRetryAfter(retryAfter);
  }
}

export function httpError(response: ScicatResponse, operation: string): ScicatHttpError {
  return new ScicatHttpError(response.status, serverMessage(response.data), operation, response.headers["retry-after"]);
}

export function isStatus(err: unknown, ...statuses: number[]): err is ScicatHttpError {
  return err instanceof ScicatHttpError && statuses.includes(err.status);
}

/**
 * The three body shapes SciCat answers errors with: a Nest object whose `message` is a string or an array of
 * strings; the v3 dataset validator's `{status, message: "<stringified array of class-validator errors>"}`;
 * and a bare JSON string (every 500).
 */
export function serverMessage(body: unknown): string {
  if (body === undefined || body === null) return "(empty body)";
  if (typeof body === "string") return body.slice(0, 500);
  if (typeof body !== "object") return String(body);
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join("; ");
  if (typeof message === "string") {
    if (message.trim().startsWith("[")) {
      try {
        return describeValidationErrors(JSON.parse(message) as unknown);
      } catch {
        return message;
      }
    }
    return message;
  }
  return JSON.stringify(body).slice(0, 500);
}

/** class-validator errors: `[{property, constraints: {rule: text}, children: [...]}]` → "text; text". */
function describeValidationErrors(errors: unknown, prefix = ""): string {
  if (!Array.isArray(errors)) return JSON.stringify(errors);
  const parts: string[] = [];
  for (const e of errors) {
    if (e === null || typeof e !== "object") continue;
    const { property, constraints, children } = e as { property?: unknown; constraints?: unknown; children?: unknown };
    const name = `${prefix}${typeof property === "string" ? property : "?"}`;
    if (constraints && typeof constraints === "object") parts.push(...Object.values(constraints as Record<string, unknown>).map((t) => `${name}: ${String(t)}`));
    if (Array.isArray(children) && children.length > 0) parts.push(describeValidationErrors(children, `${name}.`));
  }
  return parts.join("; ") || "validation failed";
}

/** `operation` names what was being done, e.g. `creating dataset 20.500/abc`. */
export function classifyScicatError(err: unknown, operation: string): SyncError {
  if (err instanceof SyncError) return err;
  if (err instanceof ScicatTransportError) {
    // Closed for shutdown: not the record's fault, so no attempt is spent on it.
    const type = err.reason === "closed" ? UnavailableError : TransientError;
    return new type(scrubSecrets(`SciCat ${operation}: ${err.message}`));
  }
  if (err instanceof ScicatHttpError) {
    const message = scrubSecrets(`SciCat HTTP ${err.status} ${operation}: ${err.serverMessage}`);
    const options = { httpStatus: err.status, retryAfterMs: err.retryAfterMs };
    const status = err.status;
    if (status === 429 || status === 408 || status === 412 || status >= 500) return new TransientError(message, options);
    if (status === 401) return new ConfigurationError(`${message} — check destinations.scicat.username and password (or passwordFile)`, options);
    if (status === 403) {
      return new PermanentError(
        `${message} — the ingest account lacks a right (it needs a role in the server's ADMIN_GROUPS, or CREATE_DATASET_PRIVILEGED_GROUPS plus PROPOSAL_GROUPS and sample rights)`,
        options,
      );
    }
    if (status === 404) return new DependencyError(message, options);
    return new PermanentError(message, options);
  }
  const fallback = toSyncError(err);
  return fallback instanceof TransientError ? new TransientError(scrubSecrets(`SciCat ${operation}: ${fallback.message}`)) : fallback;
}
