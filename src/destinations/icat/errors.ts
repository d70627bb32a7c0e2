import { scrubSecrets } from "../../ops/logger.js";
import { ConfigurationError, DependencyError, PermanentError, SyncError, TransientError, toSyncError } from "../../sync/errors.js";
import { IcatServerError, IcatTransportError } from "./http.js";

/** ICAT failures → typed sync errors (icat-api.md §6), keeping the server's text but never a secret. */

export function isIcatCode(err: unknown, code: string): err is IcatServerError {
  return err instanceof IcatServerError && err.code === code;
}

/** Session ids appear in ICAT's own messages ("Session id:… has expired"); registered ones are scrubbed too. */
export function cleanMessage(text: string): string {
  return scrubSecrets(text)
    .replace(/(session ?id:?\s*)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "$1[session]")
    .replace(/sessionId=[^&\s]+/g, "sessionId=[session]");
}

/** VALIDATION about ParameterTypes and other facility-curated data is a configuration problem, not the record's. */
function isReferenceProblem(message: string): boolean {
  return /Parameter of type .* is not applicable|Type of parameter is not set/.test(message);
}

/**
 * INTERNAL answers whose cause is the request, not the server's health: a JSON value of the wrong type that
 * EntityBeanManager.parseEntity cast blindly (ClassCastException, ArithmeticException from longValueExact), or a
 * value the database refused ("Unexpected DB response" wrapping ORA-12899 too large for column, ORA-01438
 * precision, MySQL's incorrect string value or data truncation). Sending the same request again cannot help.
 */
const REQUEST_CAUSED_INTERNAL =
  /ClassCastException|ArithmeticException|NumberFormatException|ORA-12899|ORA-01438|ORA-01461|Incorrect string value|Data too long|Data truncation|Out of range value|value too large/i;

export function isRequestCaused(err: IcatServerError): boolean {
  return err.code === "INTERNAL" && REQUEST_CAUSED_INTERNAL.test(err.serverMessage);
}

/**
 * A create refused as OBJECT_ALREADY_EXISTS whose object a search by the same unique key does not return: the
 * ingest user's READ rules hide it (GateKeeper filters search results). Retrying cannot show it.
 */
export function hiddenByReadRules(err: IcatServerError, entity: string, key: string): PermanentError {
  return new PermanentError(
    cleanMessage(`ICAT says ${entity} ${key} exists, but a search by its unique key does not return it: the ingest user's READ rules hide it — give it READ on ${entity}. Server: ${err.serverMessage}`),
    { httpStatus: err.status },
  );
}

export function classifyIcatError(err: unknown, operation: string): SyncError {
  if (err instanceof SyncError) return err;
  if (err instanceof IcatServerError) {
    const message = cleanMessage(`ICAT ${err.code} (HTTP ${err.status}) ${operation}: ${err.serverMessage}`);
    const options = { httpStatus: err.status };
    switch (err.code) {
      case "INTERNAL":
        return isRequestCaused(err) ? new PermanentError(`${message} — the server cannot store this request; sending it again will not help`, options) : new TransientError(message, options);
      case "VALIDATION":
        return isReferenceProblem(err.serverMessage)
          ? new ConfigurationError(`${message} — fix the ParameterType in ICAT (applicableToDataset) or destinations.icat.parameters`, options)
          : new PermanentError(message, options);
      case "INSUFFICIENT_PRIVILEGES":
        return new PermanentError(`${message} — give the ingest user the ICAT rules it needs`, options);
      case "NO_SUCH_OBJECT_FOUND":
        return new DependencyError(message, options);
      case "SESSION":
        // A refused login is turned into a ConfigurationError where it happens; a SESSION error that gets here
        // came right after a fresh login and replay, so the credentials work: the server lost the session.
        return new TransientError(`${message} — the session was refused again right after logging in`, options);
      case "BAD_PARAMETER":
      case "NOT_IMPLEMENTED":
      case "OBJECT_ALREADY_EXISTS":
        return new PermanentError(message, options);
      default:
        return err.status >= 500 ? new TransientError(message, options) : new PermanentError(message, options);
    }
  }
  if (err instanceof IcatTransportError) {
    const message = cleanMessage(`ICAT ${operation}: ${err.message}`);
    const status = err.status;
    if (err.reason !== "http" || status === undefined || status >= 500 || status === 429 || status === 408) {
      return new TransientError(message, { httpStatus: status, retryAfterMs: err.retryAfterMs });
    }
    if (status === 404 || status === 401 || status === 405) {
      return new ConfigurationError(`${message} — is destinations.icat.url the ICAT server root (paths under /icat)?`, { httpStatus: status });
    }
    return new PermanentError(message, { httpStatus: status });
  }
  const fallback = toSyncError(err);
  return fallback instanceof TransientError ? new TransientError(cleanMessage(`ICAT ${operation}: ${fallback.message}`)) : fallback;
}
