import type { IcatConfig } from "../../config/schema.js";
import { registerSecret, type Logger } from "../../ops/logger.js";
import { ConfigurationError } from "../../sync/errors.js";
import { classifyIcatError, isIcatCode } from "./errors.js";
import type { IcatHttp } from "./http.js";
import { outsideLeaseFence } from "../../sync/lease-fence.js";

/**
 * One ICAT session shared by all pushes (icat-api.md §2): log in once, refresh before it runs out, and on a
 * SESSION error log in again and replay the call once. Logins and refreshes are single-flight, so concurrent
 * pushes never open a session each.
 */

interface Current {
  id: string;
  expiresAt: number;
  generation: number;
}

/** Used when the server has no /icat/properties (before 4.9): its documented default. */
const DEFAULT_LIFETIME_MINUTES = 120;

export class IcatSession {
  private current: Current | undefined;
  private pending: Promise<Current> | undefined;
  private generation = 0;
  private lifetime: number | undefined;
  maxEntities = 10_000;

  constructor(
    private readonly http: IcatHttp,
    private readonly config: IcatConfig,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    registerSecret(config.password);
  }

  get lifetimeMinutes(): number {
    return this.lifetime ?? DEFAULT_LIFETIME_MINUTES;
  }

  /** Refresh when fewer than this remain: the configured minutes, but at most a quarter of a short lifetime. */
  get refreshThresholdMs(): number {
    return Math.min(this.config.refreshRemainingMinutes, this.lifetimeMinutes / 4) * 60_000;
  }

  /** A usable session id, logging in or refreshing first when needed. */
  async ensure(): Promise<Current> {
    if (this.pending) return this.pending;
    const current = this.current;
    const now = this.now();
    if (current && now < current.expiresAt - this.refreshThresholdMs) return current;
    // An expired session is never refreshed on purpose (the server's tolerance for that is a quirk).
    const task = outsideLeaseFence(() => (current && now < current.expiresAt ? this.refresh(current) : this.login()));
    return this.singleFlight(task);
  }

  /** Run `call` with a session; a SESSION error means log in again and replay once. */
  async run<T>(call: (sessionId: string) => Promise<T>): Promise<T> {
    const session = await this.ensure();
    try {
      return await call(session.id);
    } catch (err) {
      if (!isIcatCode(err, "SESSION")) throw err;
      this.logger.info("ICAT session no longer valid; logging in again", { reason: "SESSION" });
      const fresh = await this.renew(session.generation);
      return call(fresh.id);
    }
  }

  /** Log out (best effort) and forget the session. */
  async logout(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (!current) return;
    try {
      await this.http.delete(`/session/${encodeURIComponent(current.id)}`);
    } catch (err) {
      this.logger.debug("ICAT logout failed (ignored)", { error: classifyIcatError(err, "logging out").message });
    }
  }

  private renew(failedGeneration: number): Promise<Current> {
    if (this.pending) return this.pending;
    if (this.current && this.current.generation !== failedGeneration) return Promise.resolve(this.current);
    this.current = undefined;
    return this.singleFlight(this.login());
  }

  private singleFlight(task: Promise<Current>): Promise<Current> {
    const pending = task.finally(() => {
      if (this.pending === pending) this.pending = undefined;
    });
    this.pending = pending;
    return pending;
  }

  private async login(): Promise<Current> {
    const { plugin, username, password } = this.config;
    if (!password) throw new ConfigurationError("destinations.icat.password (or passwordFile) is not set");
    if (this.lifetime === undefined) await this.readProperties();
    const json = JSON.stringify({ plugin, credentials: [{ username }, { password }] });
    let answer: unknown;
    try {
      answer = await this.http.postForm("/session", { json });
    } catch (err) {
      if (isIcatCode(err, "SESSION")) {
        throw new ConfigurationError(
          `ICAT login as ${plugin}/${username} refused: ${err.serverMessage.trim()} — check destinations.icat.plugin, username and password`,
          { httpStatus: err.status },
        );
      }
      throw classifyIcatError(err, "logging in");
    }
    const sessionId = (answer as { sessionId?: unknown } | undefined)?.sessionId;
    if (typeof sessionId !== "string" || sessionId === "") throw classifyIcatError(new Error("login answer has no sessionId"), "logging in");
    registerSecret(sessionId);
    const current = { id: sessionId, expiresAt: this.now() + this.lifetimeMinutes * 60_000, generation: ++this.generation };
    this.current = current;
    this.logger.debug("ICAT login", { user: `${plugin}/${username}`, lifetimeMinutes: this.lifetimeMinutes });
    return current;
  }

  private async refresh(current: Current): Promise<Current> {
    try {
      await this.http.put(`/session/${encodeURIComponent(current.id)}`);
    } catch (err) {
      if (!isIcatCode(err, "SESSION")) throw classifyIcatError(err, "refreshing the session");
      this.current = undefined;
      return this.login();
    }
    const refreshed = { ...current, expiresAt: this.now() + this.lifetimeMinutes * 60_000 };
    this.current = refreshed;
    return refreshed;
  }

  private async readProperties(): Promise<void> {
    try {
      const props = (await this.http.get("/properties", {})) as { lifetimeMinutes?: unknown; maxEntities?: unknown } | undefined;
      const lifetime = props?.lifetimeMinutes;
      this.lifetime = typeof lifetime === "number" && lifetime > 0 ? lifetime : DEFAULT_LIFETIME_MINUTES;
      if (typeof props?.maxEntities === "number" && props.maxEntities > 0) this.maxEntities = props.maxEntities;
    } catch (err) {
      if (!isIcatCode(err, "NOT_IMPLEMENTED")) throw classifyIcatError(err, "reading /icat/properties");
      this.lifetime = DEFAULT_LIFETIME_MINUTES;
    }
  }
}
