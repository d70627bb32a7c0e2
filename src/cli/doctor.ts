import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { loadConfig } from "../config/loader.js";
import type { Config } from "../config/schema.js";
import type { CheckResult } from "../destinations/contract.js";
import { buildDestinations } from "../app/wire.js";
import { scrubSecrets } from "../ops/logger.js";
import { LATEST_VERSION } from "../state/migrations.js";
import { STATE_FILE } from "../state/database.js";
import { openStateStore, redactUrl } from "../state/open.js";
import { checkRegistrations } from "../sources/registrations/doctor.js";
import { globalOptions, commandLogger } from "./context.js";
import { createOutput, printJson, table } from "./output.js";
import { UsageError } from "../sync/errors.js";
import YAML from "yaml";

export function doctorCommand(): Command {
  return new Command("doctor")
    .description("preflight checks with severities: configuration, DATA root, state store, each catalog, credentials, permissions, reference data")
    .addHelpText("after", "\nExit status: 0 when no check reports an error, 1 otherwise, 2 when the configuration cannot be loaded.\n\nExample:\n  beamsync doctor --config /etc/beamsync/beamsync.yaml")
    .action(async (_opts, command: Command) => {
      const options = globalOptions(command);
      const out = createOutput(options.json ?? false);
      let loaded: ReturnType<typeof loadConfig>;
      try {
        loaded = loadConfig({ configPath: options.config });
      } catch (err) {
        // --json promises JSON, also when the configuration is what is wrong.
        if (!out.json || !(err instanceof UsageError)) throw err;
        printJson(out, { ok: false, checks: [{ name: "configuration", severity: "error", message: scrubSecrets(err.message) }] });
        process.exitCode = 2;
        return;
      }
      const { config, file } = loaded;
      const checks: CheckResult[] = [{ name: "configuration", severity: "ok", message: `${file ?? "built-in"} is valid` }];
      const exposed = file ? exposedSecrets(file) : undefined;
      if (exposed) checks.push(exposed);
      checks.push(...checkDataRoot(config));
      checks.push(...checkRegistrations(config));
      checks.push(await checkStateStore(config));
      const logger = commandLogger(config, options);
      const destinations = buildDestinations(config, logger);
      if (destinations.length === 0) {
        checks.push({ name: "destinations", severity: "warning", message: "no catalog is enabled", fix: "set destinations.scicat.enabled or destinations.icat.enabled to true" });
      }
      for (const destination of destinations) {
        try {
          checks.push(...(await destination.preflight()).map((c) => ({ ...c, name: `${destination.name}: ${c.name}` })));
        } catch (err) {
          checks.push({ name: `${destination.name}: preflight`, severity: "error", message: scrubSecrets((err as Error).message) });
        } finally {
          await destination.close();
        }
      }
      const errors = checks.filter((c) => c.severity === "error").length;
      if (out.json) printJson(out, { ok: errors === 0, checks });
      else {
        out.write(table(["severity", "check", "result", "fix"], checks.map((c) => [c.severity.toUpperCase(), c.name, c.message, c.fix ?? ""]), 70));
        out.write(errors === 0 ? "\nno errors" : `\n${errors} error(s)`);
      }
      process.exitCode = errors === 0 ? 0 : 1;
    });
}

function checkDataRoot(config: Config): CheckResult[] {
  const results: CheckResult[] = [];
  try {
    fs.accessSync(config.dataRoot, fs.constants.R_OK | fs.constants.X_OK);
    if (!fs.statSync(config.dataRoot).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    results.push({ name: "DATA root readable", severity: "ok", message: config.dataRoot });
  } catch (err) {
    results.push({
      name: "DATA root readable",
      severity: "error",
      message: `${config.dataRoot}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      fix: "set dataRoot to the beamline's DATA directory and give the beamsync user read access",
    });
    return results;
  }
  try {
    fs.accessSync(config.dataRoot, fs.constants.W_OK);
    results.push({ name: "DATA root read-only", severity: "warning", message: "beamsync can write to the DATA root (it never does)", fix: "mount it read-only or use ReadOnlyPaths= in the systemd unit" });
  } catch {
    results.push({ name: "DATA root read-only", severity: "ok", message: "not writable by beamsync" });
  }
  if (config.sources.resonance.enabled) {
    const index = path.join(config.dataRoot, config.sources.resonance.indexFile);
    results.push(
      fs.existsSync(index)
        ? { name: "resonance index", severity: "ok", message: index }
        : {
            name: "resonance index",
            severity: config.sources.resonance.discover ? "warning" : "error",
            message: `${index} not found${config.sources.resonance.discover ? "; beamtime DBs are discovered by scanning" : ""}`,
            fix: "set sources.resonance.indexFile, or keep sources.resonance.discover: true",
          },
    );
  }
  return results;
}

async function checkStateStore(config: Config): Promise<CheckResult> {
  const postgres = config.state.backend === "postgres";
  // doctor looks and never creates: a store that is not there yet is checked by whether it could be.
  const file = path.join(config.stateDir, STATE_FILE);
  if (!postgres && !fs.existsSync(file)) return stateStoreToBe(config.stateDir, file);
  try {
    const store = await openStateStore(config, { mustExist: true });
    try {
      const version = await store.schemaVersion();
      await store.setMeta("doctor_checked_at", new Date().toISOString());
      return { name: "state store", severity: "ok", message: `${store.location} writable, schema ${version}/${LATEST_VERSION}${store.migration.applied.length ? ` (migrated: ${store.migration.applied.join("; ")})` : ""}` };
    } finally {
      await store.close();
    }
  } catch (err) {
    if (postgres) {
      return { name: "state store", severity: "error", message: `${redactUrl(config.state.url ?? "")}: ${(err as Error).message}`, fix: "check state.url (host, port, database, user) and the password (state.password, passwordFile or BEAMSYNC_STATE__PASSWORD), and that the server accepts this host" };
    }
    return { name: "state store", severity: "error", message: `${config.stateDir}: ${(err as Error).message}`, fix: "create stateDir and give the beamsync user write access (systemd: StateDirectory=beamsync)" };
  }
}

function stateStoreToBe(stateDir: string, file: string): CheckResult {
  let existing = stateDir;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  const fix = "create stateDir and give the beamsync user write access (systemd: StateDirectory=beamsync)";
  if (!fs.statSync(existing).isDirectory()) return { name: "state store", severity: "error", message: `stateDir ${stateDir}: ${existing} is not a directory`, fix };
  try {
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    return { name: "state store", severity: "error", message: `stateDir ${stateDir}: ${existing} is not writable (${(err as NodeJS.ErrnoException).code})`, fix };
  }
  return { name: "state store", severity: "warning", message: `no state store at ${file} yet; the first \`beamsync sync\` or \`run\` creates it (check stateDir if one should be there)` };
}

/** A password or token written into a configuration file that every local user may read. */
function exposedSecrets(file: string): CheckResult | undefined {
  let mode: number;
  let document: unknown;
  try {
    mode = fs.statSync(file).mode;
    document = YAML.parse(fs.readFileSync(file, "utf8"), { logLevel: "error" }) as unknown;
  } catch {
    return undefined;
  }
  if ((mode & 0o004) === 0) return undefined;
  const destinations = (document as { destinations?: Record<string, Record<string, unknown> | null> } | null)?.destinations ?? {};
  const keys: string[] = [];
  for (const [name, settings] of Object.entries(destinations)) {
    // Any value counts (`password: 007` is a number to YAML, and still a password).
    for (const key of ["password", "token"]) if (settings && settings[key] !== undefined && settings[key] !== null && settings[key] !== "") keys.push(`destinations.${name}.${key}`);
  }
  if (keys.length === 0) return undefined;
  return {
    name: "configuration secrets",
    severity: "warning",
    message: `${file} holds ${keys.join(", ")} and every user on this host may read it (mode ${(mode & 0o777).toString(8)})`,
    fix: `chmod 600 ${file} (or 640 with the beamsync group), or move the secret to passwordFile/tokenFile or a systemd credential`,
  };
}
