import type { ScicatConfig } from "../../config/schema.js";
import type { Logger } from "../../ops/logger.js";
import { registerSecret } from "../../ops/logger.js";
import { ConfigurationError } from "../../sync/errors.js";
import { classifyScicatError, httpError } from "./errors.js";
import type { ScicatHttp } from "./http.js";

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
    if (response.status !== 200 && response.status !== 201) {
      throw classifyScicatError(httpError(response, `logging in as ${this.config.username}`), "logging in");
    }
    const body = (response.data ?? {}) as { access_token?: unknown; id?: unknown; expires_in?: unknown; ttl?: unknown };
    const token = typeof body.access_token === "string" ? body.access_token : typeof body.id === "string" ? body.id : undefined;
    if (!token) {
      // Old servers answer the deprecated login with 201 and an empty body (scicat-api.md §2).
      throw new ConfigurationError("SciCat login answered without a token — is destinations.scicat.url the API root of a v4 backend (…/api)?");
    }
    registerSecret(token);
    const lifetimeMs = tokenLifetimeMs(token, body.expires_in ?? body.ttl);
    this.current = { token, renewAtMs: startedAt + lifetimeMs * this.config.reloginAt };
    this.logger.debug("logged in to SciCat", { username: this.config.username, lifetimeSeconds: Math.round(lifetimeMs / 1000) });
    return token;
  }
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
