import type { ScicatConfig } from "../../config/schema.js";
import type { Logger } from "../../ops/logger.js";
import { registerSecret } from "../../ops/logger.js";
import { ConfigurationError, UnavailableError } from "../../sync/errors.js";
import { describeBody, loginAnswer, unexpectedAnswerText } from "./answers.js";
import { classifyScicatError, httpError, serverMessage } from "./errors.js";
import type { ScicatHttp, ScicatResponse } from "./http.js";

/**
 * The SciCat token (scicat-api.md §2, §12.3). SciCat has no refresh endpoint, so we log in again once
 * `reloginAt` of the token's lifetime has passed; the lifetime is the server's (JWT `exp - iat`, or
 * `expires_in`), measured on our clock so that clock skew does not matter. A configured static token
 * (an admin-minted long-lived JWT) is used as it is and cannot be renewed.
 */
export class ScicatAuth {
  private current: { token: string; renewAtMs: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly http: ScicatHttp,
    private readonly config: ScicatConfig,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    registerSecret(config.password);
    registerSecret(config.token);
  }

  /** Whether a 403 can be cured by logging in again. */
  get canRelogin(): boolean {
    return this.config.password !== undefined;
  }

  /** A token that is fresh by our clock; logs in (once, for all concurrent callers) when needed. */
  async token(): Promise<string> {
    if (this.config.password === undefined) {
      if (this.config.token === undefined) {
        throw new ConfigurationError("no SciCat credentials — set destinations.scicat.password, passwordFile, token or tokenFile");
      }
      return this.config.token;
    }
    if (this.current && this.now() < this.current.renewAtMs) return this.current.token;
    return this.login();
  }

  /**
   * A request with `rejected` got a 403: log in again, unless a concurrent request has already done so (then
   * its fresh token is the answer). Concurrent rejections therefore cost one login, not one each.
   */
  async renew(rejected: string): Promise<string> {
    if (this.current && this.current.token !== rejected) return this.current.token;
    if (this.pending) return this.pending;
    this.current = undefined;
    return this.login();
  }

  /** Log in now; concurrent callers share one login request. */
  login(): Promise<string> {
    this.pending ??= this.doLogin().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async doLogin(): Promise<string> {
    const startedAt = this.now();
    let response;
    try {
      response = await this.http.send({
        method: "POST",
        path: "/v3/auth/login",
        body: { username: this.config.username, password: this.config.password },
      });
    } catch (err) {
      throw classifyScicatError(err, "logging in");
    }
    if (response.status === 429 || response.status === 408 || response.status >= 500) {
      // A passing overload or gateway glitch: retried like any transient failure (Retry-After honoured).
      throw classifyScicatError(httpError(response, `logging in as ${this.config.username}`), "logging in");
    }
    if (response.status !== 200 && response.status !== 201) throw this.loginRefused(response);
    const parsed = loginAnswer.safeParse(response.json ? response.data : undefined);
    if (!parsed.success) {
      // A maintenance page, or the deprecated login's 201 with an empty body (auth/03): the catalog cannot serve us.
      throw new UnavailableError(`${unexpectedAnswerText(response, "a JSON answer with an access_token")} — is destinations.scicat.url the API root of a v4 backend (…/api)? Pushes wait and resume when login works`, {
        httpStatus: response.status,
      });
    }
    const token = parsed.data.access_token ?? parsed.data.id ?? "";
    registerSecret(token);
    const lifetimeMs = tokenLifetimeMs(token, parsed.data.expires_in ?? parsed.data.ttl);
    this.current = { token, renewAtMs: startedAt + lifetimeMs * this.config.reloginAt };
    this.logger.debug("logged in to SciCat", { username: this.config.username, lifetimeSeconds: Math.round(lifetimeMs / 1000) });
    return token;
  }

  /**
   * A login that fails is a catalog-wide problem, never one record's (auth/02): every record waits, the destination
   * counts as down, and pushes resume by themselves once login works again (an LDAP outage behind SciCat heals).
   */
  private loginRefused(response: ScicatResponse): UnavailableError {
    const status = response.status;
    const said = response.json ? serverMessage(response.data) : describeBody(response);
    const base = `SciCat refused the login of ${this.config.username} (HTTP ${status} from POST ${response.url}: ${said})`;
    const hint =
      status === 401
        ? "check destinations.scicat.username and password (or passwordFile); if they are right, the server's login backend (LDAP) may be down"
        : status === 404
          ? `destinations.scicat.url must be the API root ending in /api (e.g. ${suggestApiRoot(this.config.url)})`
          : "the catalog may be starting or in maintenance";
    return new UnavailableError(`${base} — ${hint}; pushes wait and resume when login works`, { httpStatus: status });
  }
}

/** `https://host/scicat` → `https://host/scicat/api`; a URL already ending in /api is left as it is. */
export function suggestApiRoot(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return /\/api$/i.test(trimmed) ? trimmed : `${trimmed}/api`;
}

const DEFAULT_LIFETIME_MS = 3600_000;

/** The server's token lifetime: JWT `exp - iat`, else the login answer's `expires_in`, else SciCat's default. */
export function tokenLifetimeMs(jwt: string, expiresIn: unknown): number {
  const claims = decodeJwtClaims(jwt);
  if (claims && typeof claims.exp === "number" && typeof claims.iat === "number" && claims.exp > claims.iat) {
    return (claims.exp - claims.iat) * 1000;
  }
  const seconds = Number(expiresIn);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_LIFETIME_MS;
}

function decodeJwtClaims(jwt: string): Record<string, unknown> | undefined {
  const part = jwt.split(".")[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    return claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
