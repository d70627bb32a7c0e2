import type { Command } from "commander";
import { loadConfig } from "../config/loader.js";
import type { Config } from "../config/schema.js";
import { createLogger, type Logger } from "../ops/logger.js";
import { buildEngine } from "../app/wire.js";
import type { Engine } from "../sync/engine.js";
import type { StateStore } from "../state/contract.js";
import { openStateStore } from "../state/open.js";

/** Flags every command takes. */
export interface GlobalOptions {
  config?: string;
  json?: boolean;
  logLevel?: string;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function loadCommandConfig(options: GlobalOptions): Config {
  return loadConfig({ configPath: options.config }).config;
}

/** CLI commands log to stderr (stdout is for their output); `run` logs JSON lines to stdout for journald. */
export function commandLogger(config: Config, options: GlobalOptions & { toStdout?: boolean }): Logger {
  const level = (options.logLevel as Config["log"]["level"] | undefined) ?? (options.toStdout ? config.log.level : "warn");
  return createLogger({ level, format: options.toStdout ? config.log.format : "pretty", stderr: !options.toStdout });
}

export async function withEngine<T>(options: GlobalOptions & { toStdout?: boolean }, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const config = loadCommandConfig(options);
  const logger = commandLogger(config, options);
  const engine = await buildEngine(config, logger);
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/**
 * Commands that only read or write the state store (status, log, retry, resync) do not need the catalogs, and
 * never create a store: one that is not there means a mistyped stateDir or a beamsync that never ran.
 */
export async function withStore<T>(options: GlobalOptions, fn: (store: StateStore, config: Config) => Promise<T> | T): Promise<T> {
  const config = loadCommandConfig(options);
  const store = await openStateStore(config, { mustExist: true });
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}
