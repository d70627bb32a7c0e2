import type { Config } from "../config/schema.js";
import { registerSecret } from "../ops/logger.js";
import type { StateStore } from "./contract.js";
import { SqliteStateStore } from "./sqlite-store.js";

export interface OpenStateOptions {
  /** Commands that only look (status, log) never create a state: one that is not there is an error. */
  mustExist?: boolean;
  /** SQLite: how long a write waits for another process's lock before failing. */
  busyTimeoutMs?: number;
}

/** Open the state the configuration names (state.backend), migrating it to this version's schema. */
export async function openStateStore(config: Config, options: OpenStateOptions = {}): Promise<StateStore> {
  if (config.state.backend === "sqlite") return SqliteStateStore.open(config.stateDir, options);
  const url = config.state.url;
  if (!url) throw new Error("state.url is not set");
  registerSecret(passwordInUrl(url));
  // Loaded only when configured: SQLite installations never load pg.
  const { PostgresStateStore } = await import("./postgres-store.js");
  return PostgresStateStore.open({ url, password: config.state.password, poolSize: config.state.poolSize, mustExist: options.mustExist ?? false });
}

/** The password a postgres:// URL may carry, so the logger scrubs it like the other secrets. */
function passwordInUrl(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

/** A URL fit for messages: the password left out. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable state.url)";
  }
}
