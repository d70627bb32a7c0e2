import winston from "winston";

/** The small logging surface the core depends on; winston satisfies it, tests can pass a recorder. */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export type LogLevel = "error" | "warn" | "info" | "debug";

const SECRET_KEY = /pass(word)?|secret|token|authorization|sessionid|jwt|credential/i;

/** Replace values of secret-looking keys, recursively; strings keep their shape but lose their content. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== "" ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

/** Known secret strings (passwords, tokens) scrubbed from every message, wherever they appear. */
const knownSecrets = new Set<string>();

export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) knownSecrets.add(secret);
}

export function scrubSecrets(text: string): string {
  let out = text;
  for (const s of knownSecrets) out = out.split(s).join("[redacted]");
  // Bearer tokens and JWTs, even ones we were never told about.
  out = out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer [redacted]");
  out = out.replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, "[redacted-jwt]");
  return out;
}

const scrubFormat = winston.format((info) => {
  const redacted = redact(info) as winston.Logform.TransformableInfo;
  for (const key of Object.keys(redacted)) {
    const v = redacted[key];
    if (typeof v === "string") redacted[key] = scrubSecrets(v);
  }
  redacted.message = scrubSecrets(String(info.message));
  // winston keeps level/message under symbols too; carry them over.
  for (const sym of Object.getOwnPropertySymbols(info)) {
    (redacted as unknown as Record<symbol, unknown>)[sym] = (info as unknown as Record<symbol, unknown>)[sym];
  }
  return redacted;
});

export interface LoggerOptions {
  level: LogLevel;
  format?: "json" | "pretty";
  /** Write to stderr instead of stdout (CLI commands keep stdout for their output). */
  stderr?: boolean;
  silent?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const format =
    options.format === "pretty"
      ? winston.format.combine(scrubFormat(), winston.format.timestamp(), winston.format.simple())
      : winston.format.combine(scrubFormat(), winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: options.level,
    silent: options.silent ?? false,
    format,
    transports: [
      new winston.transports.Console({
        stderrLevels: options.stderr ? ["error", "warn", "info", "debug"] : ["error"],
      }),
    ],
  });
}

/** A logger that remembers lines, for tests. */
export function createMemoryLogger(): Logger & { lines: { level: string; message: string; meta?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; meta?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    lines.push({ level, message, ...(meta ? { meta } : {}) });
  };
  return { lines, error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
