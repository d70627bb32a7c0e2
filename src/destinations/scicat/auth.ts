import type { ScicatConfig } from "../../config/schema.js";
import type { Logger } from "../../ops/logger.js";
import { registerSecret } from "../../ops/logger.js";
import { ConfigurationError, UnavailableError } from "../../sync/errors.js";
import { describeBody, loginAnswer, unexpectedAnswerText } from "./answers.js";
import { classifyScicatError, httpError, serverMessage } from "./errors.js";
import { decodeJwtClaims, jwtExpiry, RotatingSecret } from "./credentials.js";
import type { ScicatHttp, ScicatResponse } from "./http.js";
import { outsideLeaseFence } from "../../sync/lease-fence.js";

/**
 * The SciCat token (scicat-api.md §2, §12.3). SciCat has no refresh endpoint, so we log in again once
 * `reloginAt` of the token's lifetime has passed; the lifetime is the server's (JWT `exp - iat`, or
 * `expires_in`), measured on our clock so that clock skew does not matter. Logins go to `/auth/login` (local
 * accounts) or `/auth/ldap` (`auth: ldap`); a password file is read again before each login. A configured
 * static token (an admin-minted JWT, `auth: token`) cannot be renewed by a login: a token file is read again
 * when it changes on disk, a token about to expire is warned about, and an expired one stops pushes with a
 * message saying what to do (the records wait) instead of failing them as 403s.
 */
export class ScicatAuth {
  private current: { token: string; renewAtMs: number } | undefined;
  private pending: Promise<string> | undefined;
  private readonly password: RotatingSecret;
  private readonly staticToken: RotatingSecret;
  readonly mode: "local" | "ldap" | "token";
  private warnedExpiryFor: string | undefined;

  constructor(
    private readonly http: ScicatHttp,
    private readonly config: ScicatConfig,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    registerSecret(config.password);
    registerSecret(config.token);
    this.password = new RotatingSecret(config.password, config.passwordFile, now);
    this.staticToken = new RotatingSecret(config.token, config.tokenFile, now);
    this.mode = config.auth ?? (config.password === undefined && config.token !== undefined ? "token" : "local");
  }

  /** Whether a 403 can be cured by a new token: a login, or a token file that was rotated. */
  get canRelogin(): boolean {
    return this.mode !== "token" || this.staticToken.fromFile;
  }

  /** A token that is fresh by our clock; logs in (once, for all concurrent callers) when needed. */
  async token(): Promise<string> {
    if (this.mode === "token") return this.usableStaticToken(false);
    if (this.current && this.now() < this.current.renewAtMs) return this.current.token;
    return this.login();
  }

  /**
   * A request with `rejected` got a 403: log in again, unless a concurrent request has already done so (then
   * its fresh token is the answer). Concurrent rejections therefore cost one login, not one each. A static
   * token is read again from its file (it may have been rotated a moment ago).
   */
  async renew(rejected: string): Promise<string> {
    if (this.mode === "token") return this.usableStaticToken(true);
    if (this.current && this.current.token !== rejected) return this.current.token;
    if (this.pending) return this.pending;
    this.current = undefined;
    return this.login();
  }

  /** When the static token expires (seconds since the epoch), for `doctor`; undefined when it does not say. */
  staticTokenExpiry(): number | undefined {
    const token = this.staticToken.get(true);
    return token ? jwtExpiry(token) : undefined;
  }

  private usableStaticToken(fresh: boolean): string {
    const token = this.staticToken.get(fresh);
    if (token === undefined) throw new ConfigurationError("no SciCat credentials — set destinations.scicat.password, passwordFile, token or tokenFile");
    const exp = jwtExpiry(token);
    if (exp === undefined) return token;
    const left = exp * 1000 - this.now();
    const when = new Date(exp * 1000).toISOString();
    const renew = this.staticToken.fromFile
      ? "write a newly minted one to destinations.scicat.tokenFile (read again without a restart)"
      : "mint a new one (POST /api/v3/users/{id}/jwt as an admin) and put it in destinations.scicat.token (or use tokenFile, read again without a restart, or a password)";
    if (left <= 0) throw new UnavailableError(`the SciCat token expired at ${when} and cannot be renewed by a login; ${renew}; pushes wait until then`);
    if (left < TOKEN_WARNING_MS && this.warnedExpiryFor !== token) {
      this.warnedExpiryFor = token;
      this.logger.warn("the SciCat token expires soon and cannot be renewed by a login", { expiresAt: when, hoursLeft: Math.floor(left / 3_600_000), fix: renew });
    }
    return token;
  }

  /** Log in now; concurrent callers share one login request. */
  login(): Promise<string> {
    this.pending ??= outsideLeaseFence(() => this.doLogin()).finally(() => {
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
        path: this.mode === "ldap" ? "/v3/auth/ldap" : "/v3/auth/login",
        body: { username: this.config.username, password: this.password.get(true) },
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
          ? `destinations.scicat.url must be the API root ending in /api (e.g. ${suggestApiRoot(this.config.url)})${this.mode === "ldap" ? ", and the backend must have its LDAP login configured (auth: ldap)" : ""}`
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

/** A static token this close to its expiry is warned about (once per token). */
const TOKEN_WARNING_MS = 7 * 86_400_000;

/** The server's token lifetime: JWT `exp - iat`, else the login answer's `expires_in`, else SciCat's default. */
export function tokenLifetimeMs(jwt: string, expiresIn: unknown): number {
  const claims = decodeJwtClaims(jwt);
  if (claims && typeof claims.exp === "number" && typeof claims.iat === "number" && claims.exp > claims.iat) {
    return (claims.exp - claims.iat) * 1000;
  }
  const seconds = Number(expiresIn);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_LIFETIME_MS;
}
