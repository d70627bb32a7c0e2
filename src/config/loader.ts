import fs from "node:fs";
import os from "node:os";
import { readRulesFile } from "./rules-file.js";
import path from "node:path";
import YAML from "yaml";
import type { z } from "zod";
import { registerSecret } from "../ops/logger.js";
import { UsageError } from "../sync/errors.js";
import { groupTemplateProblems } from "../mapping/access.js";
import { proposalTemplateProblem } from "../mapping/common.js";
import { mergeGroupMaps, readGroupMapFile } from "./group-map.js";
import { configSchema, type Config } from "./schema.js";

/**
 * Configuration is layered: built-in defaults < YAML file < BEAMSYNC_* environment < command-line overrides.
 * Validation happens once, here, at the edge; everything inside receives a typed, complete Config.
 */

export const DEFAULT_CONFIG_FILE = "./beamsync.yaml";
const ENV_PREFIX = "BEAMSYNC_";
/** Environment variables with this prefix that are not configuration keys. */
const NON_CONFIG_ENV = new Set(["BEAMSYNC_CONFIG"]);

export interface LoadOptions {
  /** Explicit --config; otherwise BEAMSYNC_CONFIG, otherwise ./beamsync.yaml. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Dotted-path overrides from flags, applied last. */
  overrides?: Record<string, unknown>;
  /** An in-memory document instead of a file (tests, demo). */
  document?: Record<string, unknown>;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file read, if any. */
  file: string | undefined;
}

export function resolveConfigPath(options: LoadOptions): string {
  const env = options.env ?? process.env;
  return options.configPath ?? env.BEAMSYNC_CONFIG ?? DEFAULT_CONFIG_FILE;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  let document: Record<string, unknown>;
  let file: string | undefined;
  if (options.document) {
    document = structuredClone(options.document);
  } else {
    file = path.resolve(cwd, resolveConfigPath(options));
    document = readYamlFile(file);
  }
  const baseDir = file ? path.dirname(file) : cwd;

  const fromEnv = applyEnvironment(document, env);
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) setPath(document, dotted.split("."), value);

  // reportInput: so that a value of the wrong type is told apart from a missing one (never printed).
  const parsed = configSchema.safeParse(document, { reportInput: true });
  if (!parsed.success) throw new UsageError(formatIssues(parsed.error, file, fromEnv));
  const config = parsed.data;

  config.dataRoot = path.resolve(baseDir, config.dataRoot);
  config.stateDir = path.resolve(baseDir, config.stateDir);
  for (const name of ["scicat", "icat"] as const) {
    resolveSecrets(config.destinations[name], `destinations.${name}`, baseDir, env);
  }
  // A PostgreSQL URL may carry its password, or need none (peer or certificate authentication).
  resolveSecrets(config.state, "state", baseDir, env, { enabled: config.state.backend === "postgres", required: false });
  resolveGroupMap(config, baseDir);
  return { config, file };
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new UsageError(
        `configuration file ${file} not found: pass --config FILE, set BEAMSYNC_CONFIG, or copy config/beamsync.example.yaml to ./beamsync.yaml`,
      );
    }
    if (code === "EACCES" || code === "EPERM") {
      const { username, uid } = os.userInfo();
      throw new UsageError(
        `cannot read configuration file ${file}: permission denied (${code}) for ${username} (uid ${uid}); give that user read access to the ` +
          `file and its directories (e.g. chgrp beamsync on both, chmod 0640 the file, chmod 0750 the directory)`,
      );
    }
    throw new UsageError(`cannot read configuration file ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    // Warnings (an unknown tag such as a password starting with `!`) would print the value: silenced.
    value = YAML.parse(text, { logLevel: "error" });
  } catch (err) {
    throw new UsageError(`configuration file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`configuration file ${file} must hold a mapping of keys (dataRoot, stateDir, ...) at the top`);
  }
  return value as Record<string, unknown>;
}

/** Keys whose value is a secret: taken from the environment exactly as given, never parsed. */
const SECRET_KEYS = new Set(["password", "token"]);

/**
 * BEAMSYNC_DESTINATIONS__SCICAT__PASSWORD → destinations.scicat.password (keys matched case-insensitively).
 * Returns which variable set which key (lower-case dotted path), so that an error can name the variable.
 */
function applyEnvironment(document: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const topKeys = Object.keys(configSchema.shape);
  const fromEnv = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || NON_CONFIG_ENV.has(name) || raw === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split("__").filter(Boolean);
    const first = segments[0];
    if (!first || !topKeys.some((k) => k.toLowerCase() === first.toLowerCase())) continue;
    // A password like `Tr0ub4dor #3`, `'abc'`, `007` or `!x` means exactly those characters.
    const secret = SECRET_KEYS.has(segments[segments.length - 1]!.toLowerCase());
    setPath(document, segments, secret ? raw : parseScalar(raw), true);
    fromEnv.set(segments.join(".").toLowerCase(), name);
  }
  return fromEnv;
}

/** `8` → 8, `true` → true, `[a, b]` → a list; YAML's warnings are silenced (they would echo the value). */
function parseScalar(raw: string): unknown {
  try {
    const value: unknown = YAML.parse(raw, { logLevel: "silent" });
    return value === null ? raw : value;
  } catch {
    return raw;
  }
}

const knownKeyNames = collectKeyNames(configSchema);

function collectKeyNames(schema: z.ZodType, out = new Map<string, string>()): Map<string, string> {
  const def = (schema as unknown as { def?: { type?: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; valueType?: z.ZodType } }).def;
  if (!def) return out;
  if (def.type === "object" && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) {
      out.set(key.toLowerCase(), key);
      collectKeyNames(child, out);
    }
  } else if (def.innerType) {
    collectKeyNames(def.innerType, out);
  }
  return out;
}

function setPath(target: Record<string, unknown>, segments: string[], value: unknown, caseInsensitive = false): void {
  let node = target;
  segments.forEach((segment, i) => {
    let key = segment;
    if (caseInsensitive) {
      key = Object.keys(node).find((k) => k.toLowerCase() === segment.toLowerCase()) ?? knownKeyNames.get(segment.toLowerCase()) ?? segment.toLowerCase();
    }
    if (i === segments.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  });
}

/**
 * Group templates checked, and the group map file read into `mapping.groupMap`: the mapping then depends on the
 * file's content through the configuration alone (a changed file changes the records' hashes).
 */
function resolveGroupMap(config: Config, baseDir: string): void {
  const mapping = config.mapping;
  const problems = groupTemplateProblems(mapping);
  const proposalProblem = proposalTemplateProblem(mapping);
  if (proposalProblem) problems.push(proposalProblem);
  if (problems.length > 0) throw new UsageError(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  if (mapping.rulesFile !== undefined) {
    mapping.rulesFile = path.resolve(baseDir, mapping.rulesFile);
    mapping.rules = readRulesFile(mapping.rulesFile);
  }
  if (mapping.groupMapFile === undefined) return;
  mapping.groupMapFile = path.resolve(baseDir, mapping.groupMapFile);
  mapping.groupMap = mergeGroupMaps(mapping.groupMap, readGroupMapFile(mapping.groupMapFile), mapping.groupMapFile);
}

interface SecretHolder {
  password?: string | undefined;
  passwordFile?: string | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
  enabled?: boolean;
}

/** passwordFile / tokenFile → password / token; `${CREDENTIALS_DIRECTORY}` expands for systemd LoadCredential. */
function resolveSecrets(
  holder: SecretHolder,
  keyPath: string,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  options: { enabled?: boolean; required?: boolean } = {},
): void {
  const enabled = options.enabled ?? holder.enabled ?? false;
  for (const [fileKey, valueKey] of [
    ["passwordFile", "password"],
    ["tokenFile", "token"],
  ] as const) {
    const fileName = holder[fileKey];
    if (!fileName || holder[valueKey]) continue;
    const expanded = fileName.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => env[(a ?? b) as string] ?? whole);
    const absolute = path.resolve(baseDir, expanded);
    // Kept resolved: the catalog clients read the file again when it changes (a rotated token or password).
    holder[fileKey] = absolute;
    try {
      holder[valueKey] = fs.readFileSync(absolute, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      if (!enabled) continue;
      throw new UsageError(
        `${keyPath}.${fileKey}: cannot read ${absolute} (${(err as NodeJS.ErrnoException).code ?? "error"}); ` +
          `fix the path or the file's permissions, or set ${keyPath}.${valueKey} instead`,
      );
    }
  }
  registerSecret(holder.password);
  registerSecret(holder.token);
  if (options.required === false) return;
  if (enabled && !holder.password && !holder.token) {
    throw new UsageError(
      `${keyPath}: no credentials; set password or passwordFile (or token / tokenFile), ` +
        `e.g. BEAMSYNC_${keyPath.toUpperCase().replace(/\./g, "__")}__PASSWORD`,
    );
  }
  const auth = (holder as { auth?: string }).auth;
  if (enabled && auth === "token" && !holder.token) throw new UsageError(`${keyPath}.auth is token but no token is given; set ${keyPath}.token or tokenFile`);
  if (enabled && (auth === "local" || auth === "ldap") && !holder.password) {
    throw new UsageError(`${keyPath}.auth is ${auth} but no password is given; set ${keyPath}.password or passwordFile (or auth: token with a token)`);
  }
}

/** One line per problem: the dotted key, what is wrong, and how to fix it. */
export function formatIssues(error: z.ZodError, file: string | undefined, fromEnv: ReadonlyMap<string, string> = new Map()): string {
  const envOf = (key: string) => fromEnv.get(key.toLowerCase());
  const allFromEnv = error.issues.every((issue) => envOf(issue.path.map(String).join(".")));
  const where = allFromEnv ? " from the environment" : file ? ` in ${file}` : "";
  const lines = error.issues.map((issue) => {
    const key = issue.path.map(String).join(".") || "(top level)";
    const variable = envOf(key);
    // YAML reads `password: 007` or `password: true` as a number or a boolean: say how to keep the characters.
    const quote = issue.code === "invalid_type" && SECRET_KEYS.has(String(issue.path[issue.path.length - 1] ?? "").toLowerCase()) && issue.input !== undefined ? "; put it in quotes (password: \"007\") or use passwordFile / tokenFile" : "";
    return `  - ${key}${variable ? ` (set by ${variable})` : ""}: ${describeIssue(issue)}${quote}`;
  });
  return `invalid configuration${where}:\n${lines.join("\n")}`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}; remove them or check the spelling against config/beamsync.example.yaml`;
    case "invalid_type":
      if (issue.input === undefined) return `is required; add it (see config/beamsync.example.yaml)`;
      // The value itself is not repeated: it may be a secret.
      return `must be ${article(issue.expected)}, not ${article(describeType(issue.input))}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function article(type: string): string {
  return `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}
