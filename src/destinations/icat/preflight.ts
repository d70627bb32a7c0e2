import type { IcatConfig } from "../../config/schema.js";
import type { CheckResult } from "../contract.js";
import type { IcatApi } from "./api.js";
import { classifyIcatError } from "./errors.js";
import type { ReferenceResolver } from "./reference.js";
import type { RuleTechnique, TechniqueResolver } from "./techniques.js";

/**
 * `beamsync doctor` for ICAT: reachable, version, login, every piece of reference data and the Techniques the
 * mapping rules name, each with its fix.
 */

export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split(".").map((p) => Number.parseInt(p, 10) || 0);
  const b = minimum.split(".").map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** Does destinations.icat.locationLength match the server's column (511 from ICAT 6.2, 255 before)? */
function locationCheck(version: string, configured: number): CheckResult {
  const stored = versionAtLeast(version, "6.2") ? 511 : 255;
  if (configured > stored) {
    return {
      name: "icat.locationLength",
      severity: "error",
      message: `ICAT ${version} stores locations of up to ${stored} characters; destinations.icat.locationLength is ${configured}, so a longer path would be refused and its dataset kept out`,
      fix: `set destinations.icat.locationLength: ${stored}`,
    };
  }
  if (configured < stored) {
    // Safe, only wasteful: say how to keep more paths, without failing the check.
    return {
      name: "icat.locationLength",
      severity: "ok",
      message: `locations of up to ${configured} characters are sent; ICAT ${version} stores ${stored} (set destinations.icat.locationLength: ${stored} to keep longer paths)`,
    };
  }
  return { name: "icat.locationLength", severity: "ok", message: `locations of up to ${stored} characters are sent` };
}

/**
 * The techniques the mapping rules name, each against ICAT's Techniques: one ICAT lacks is a warning (datasets
 * land without that link), and so is a name that differs from the Technique's (a pid that may be wrong).
 */
async function techniqueChecks(resolver: TechniqueResolver, wanted: readonly RuleTechnique[]): Promise<CheckResult[]> {
  if (wanted.length === 0) return [];
  let found: Awaited<ReturnType<TechniqueResolver["inspect"]>>;
  try {
    found = await resolver.inspect(wanted.map((t) => t.pid));
  } catch (err) {
    return [{ name: "icat.techniques", severity: "warning", message: classifyIcatError(err, "looking up Techniques").message, fix: "see the message; retry when ICAT answers" }];
  }
  if (found === "unsupported") {
    return [{ name: "icat.techniques", severity: "warning", message: `the mapping rules name ${wanted.length} technique(s); ICAT before 5.0 has no Techniques, so ICAT datasets carry none`, fix: "upgrade icat.server to 5.0 or later" }];
  }
  return wanted.map((t): CheckResult => {
    const name = `icat.technique.${t.pid}`;
    const technique = found.get(t.pid);
    if (!technique) return { name, severity: "warning", message: `Technique with pid ${t.pid} ('${t.name}', rule ${t.rule}) not found: datasets are not linked to it`, fix: "load the PaNET term into ICAT, or correct the pid in the mapping rules" };
    if (technique.name.toLowerCase() !== t.name.toLowerCase()) {
      return { name, severity: "warning", message: `Technique ${t.pid} is '${technique.name}' in ICAT, '${t.name}' in rule ${t.rule}`, fix: "check the pid in the mapping rules against the PaNET ontology" };
    }
    return { name, severity: "ok", message: `Technique '${technique.name}' (${t.pid}, id ${technique.id})` };
  });
}

export async function icatPreflight(
  api: IcatApi,
  reference: ReferenceResolver,
  config: IcatConfig,
  options: { techniques?: { resolver: TechniqueResolver; wanted: readonly RuleTechnique[] }; sampleParameters?: boolean } = {},
): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  let version: string;
  try {
    version = await api.version();
    checks.push({ name: "icat.reachable", severity: "ok", message: `ICAT at ${config.url} answers` });
  } catch (err) {
    checks.push({
      name: "icat.reachable",
      severity: "error",
      message: classifyIcatError(err, "reading /icat/version").message,
      fix: "check destinations.icat.url (the server root; paths are under /icat) and the network path to it",
    });
    return checks;
  }

  if (version !== "unknown" && !versionAtLeast(version, "4.7")) {
    checks.push({ name: "icat.version", severity: "error", message: `ICAT ${version} cannot update entities over REST (needs 4.7+)`, fix: "upgrade icat.server" });
  } else if (version !== "unknown" && !versionAtLeast(version, "4.9")) {
    checks.push({ name: "icat.version", severity: "warning", message: `ICAT ${version} has no /icat/properties; assuming 120-minute sessions`, fix: "upgrade icat.server to 4.9 or later" });
  } else {
    checks.push({ name: "icat.version", severity: "ok", message: `ICAT ${version}` });
  }
  if (version !== "unknown") checks.push(locationCheck(version, config.locationLength));

  try {
    const info = await api.sessionInfo();
    checks.push({
      name: "icat.login",
      severity: "ok",
      message: `logged in as ${info.userName} (session lifetime ${api.session.lifetimeMinutes} min, refreshed with ${Math.round(api.session.refreshThresholdMs / 60_000)} min left)`,
    });
  } catch (err) {
    checks.push({
      name: "icat.login",
      severity: "error",
      message: classifyIcatError(err, "logging in").message,
      fix: "check destinations.icat.plugin, username and password (or passwordFile)",
    });
    return checks;
  }

  try {
    const { data, checks: referenceChecks } = await reference.inspect();
    // Only registered specimens have sample parameters: their types are checked where registrations are read.
    if (data && options.sampleParameters) referenceChecks.push(...(await reference.inspectSampleParameterTypes(data.facilityId)).checks);
    for (const c of referenceChecks) checks.push({ name: c.name, severity: c.ok ? "ok" : "error", message: c.message, ...(c.ok ? {} : { fix: c.fix }) });
  } catch (err) {
    checks.push({ name: "icat.referenceData", severity: "error", message: classifyIcatError(err, "resolving reference data").message, fix: "see the message; retry when ICAT answers" });
  }
  if (options.techniques) checks.push(...(await techniqueChecks(options.techniques.resolver, options.techniques.wanted)));
  checks.push({
    name: "icat.investigations",
    severity: "ok",
    message: config.createInvestigations
      ? "beamsync creates missing investigations (destinations.icat.createInvestigations)"
      : "investigations must already exist in ICAT (destinations.icat.createInvestigations is false)",
  });
  return checks;
}
