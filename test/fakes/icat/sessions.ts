import { randomUUID } from "node:crypto";
import { IcatFakeError, badParameter } from "./errors.js";

/** Sessions as SessionManager/Session.java keep them (icat-api.md §2). */

export interface PluginConfig {
  /** Prefix of the user name: `mechanism/username`. */
  mechanism?: string;
  users: Record<string, string>;
}

export interface SessionOptions {
  plugins: Record<string, PluginConfig>;
  lifetimeMs: number;
  /** Refresh and logout accept an expired session until it is purged (the real server's quirk). */
  allowExpiredRefresh: boolean;
  purgeIntervalMs: number;
  now: () => number;
}

interface Session {
  userName: string;
  expiresAt: number;
}

const sessionError = (message: string) => new IcatFakeError("SESSION", message);

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private lastPurge: number;

  constructor(private readonly options: SessionOptions) {
    this.lastPurge = options.now();
  }

  get lifetimeMs(): number {
    return this.options.lifetimeMs;
  }

  /** `POST /icat/session` with form field `json`. */
  login(json: string | null): string {
    if (json === null) throw badParameter("json must not be null");
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw badParameter(`${(err as Error).message} in json ${json.replace(/"password"\s*:\s*"[^"]*"/g, '"password":"***"')}`);
    }
    const body = (parsed ?? {}) as { plugin?: unknown; credentials?: unknown };
    const mnemonic = typeof body.plugin === "string" ? body.plugin : String(body.plugin ?? null);
    // ICATRest.login streams the JSON: every string inside `credentials` becomes key → value.
    const credentials = new Map<string, string>();
    if (Array.isArray(body.credentials)) {
      for (const item of body.credentials) {
        if (item && typeof item === "object") {
          for (const [k, v] of Object.entries(item as Record<string, unknown>)) if (typeof v === "string") credentials.set(k, v);
        }
      }
    }
    const plugin = this.options.plugins[mnemonic];
    if (!plugin) throw sessionError(`Authenticator mnemonic ${mnemonic} not recognised`);
    const username = credentials.get("username");
    const password = credentials.get("password");
    if (!username) throw sessionError("The username cannot be null or empty.");
    if (!password) throw sessionError("The password cannot be null or empty.");
    if (plugin.users[username] !== password) throw sessionError("The username and password do not match ");
    const id = randomUUID();
    const userName = plugin.mechanism ? `${plugin.mechanism}/${username}` : username;
    this.sessions.set(id, { userName, expiresAt: this.options.now() + this.options.lifetimeMs });
    return id;
  }

  /** The user of a live session; SESSION error otherwise. */
  userName(id: string | null, allowExpired = false): string {
    this.purgeIfDue();
    if (id === null || id === "") throw sessionError("Session Id cannot be null or empty.");
    const session = this.sessions.get(id);
    if (!session) throw sessionError(`Unable to find user by sessionid: ${id}`);
    if (!allowExpired && session.expiresAt <= this.options.now()) throw sessionError(`Session id:${id} has expired`);
    return session.userName;
  }

  info(id: string): { userName: string; remainingMinutes: number } {
    const userName = this.userName(id);
    const session = this.sessions.get(id) as Session;
    return { userName, remainingMinutes: (session.expiresAt - this.options.now()) / 60_000 };
  }

  refresh(id: string): void {
    this.userName(id, this.options.allowExpiredRefresh);
    (this.sessions.get(id) as Session).expiresAt = this.options.now() + this.options.lifetimeMs;
  }

  logout(id: string): void {
    this.userName(id, this.options.allowExpiredRefresh);
    this.sessions.delete(id);
  }

  /** Make every current session expired (a long pause, a server restart with short lifetimes). */
  expireAll(): void {
    const past = this.options.now() - 1;
    for (const session of this.sessions.values()) session.expiresAt = Math.min(session.expiresAt, past);
  }

  /** Forget expired sessions, as the server's hourly job does. */
  purge(): void {
    const now = this.options.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
    this.lastPurge = now;
  }

  /** Live (unexpired) sessions. */
  liveCount(): number {
    const now = this.options.now();
    return [...this.sessions.values()].filter((s) => s.expiresAt > now).length;
  }

  private purgeIfDue(): void {
    if (this.options.now() - this.lastPurge >= this.options.purgeIntervalMs) this.purge();
  }
}
