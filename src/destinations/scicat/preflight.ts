import type { ScicatConfig } from "../../config/schema.js";
import type { CheckResult } from "../contract.js";
import { suggestApiRoot, type ScicatAuth } from "./auth.js";
import type { ScicatClient } from "./client.js";
import { classifyScicatError } from "./errors.js";
import type { ScicatHttp } from "./http.js";
import { toV3Dataset, type DatasetRoutes } from "./routes.js";

/** `beamsync doctor` checks for SciCat: reachable, credentials, who we are, dataset API, and the right to set pids. */
export async function scicatPreflight(parts: { http: ScicatHttp; auth: ScicatAuth; client: ScicatClient; routes: DatasetRoutes; config: ScicatConfig }): Promise<CheckResult[]> {
  const { http, auth, client, routes, config } = parts;
  const checks: CheckResult[] = [];

  try {
    const health = await http.send({ method: "GET", path: "/v3/health" });
    if (health.status !== 200) {
      checks.push({
        name: "reachable",
        severity: "error",
        message: `SciCat at ${config.url} answered /v3/health with HTTP ${health.status}`,
        fix: health.status === 404 ? `destinations.scicat.url must be the API root ending in /api (e.g. ${suggestApiRoot(config.url)})` : "check that the backend and its database are up",
      });
      return checks;
    }
    checks.push({ name: "reachable", severity: "ok", message: `SciCat at ${config.url} is up` });
  } catch (err) {
    checks.push({
      name: "reachable",
      severity: "error",
      message: classifyScicatError(err, "reading /v3/health").message,
      fix: "check destinations.scicat.url (the API root, ending in /api) and the network",
    });
    return checks;
  }

  try {
    await auth.token();
    const who = await client.call({ method: "GET", path: "/v3/auth/whoami" }, "asking who we are");
    const user = who.data as { username?: unknown; currentGroups?: unknown } | undefined;
    if (!user || typeof user.username !== "string") {
      checks.push({ name: "credentials", severity: "error", message: "SciCat does not recognise the token (whoami is empty)", fix: "renew destinations.scicat.token or use username/password" });
      return checks;
    }
    const groups = Array.isArray(user.currentGroups) ? user.currentGroups.join(", ") : "";
    checks.push({ name: "credentials", severity: "ok", message: `logged in as ${user.username}${groups ? ` (groups: ${groups})` : ""} (auth: ${auth.mode})` });
    const expiry = auth.mode === "token" ? auth.staticTokenExpiry() : undefined;
    if (expiry !== undefined && expiry * 1000 - Date.now() < 7 * 86_400_000) {
      checks.push({
        name: "token-expiry",
        severity: "warning",
        message: `the SciCat token expires at ${new Date(expiry * 1000).toISOString()} and cannot be renewed by a login`,
        fix: "mint a new one (POST /api/v3/users/{id}/jwt as an admin) and write it to destinations.scicat.tokenFile (read again without a restart)",
      });
    }
  } catch (err) {
    checks.push({
      name: "credentials",
      severity: "error",
      message: classifyScicatError(err, "logging in").message,
      fix: "check destinations.scicat.username and password/passwordFile (or token/tokenFile)",
    });
    return checks;
  }

  const api = await routes.api();
  checks.push(
    api === "v4"
      ? { name: "dataset-api", severity: "ok", message: "datasets and origdatablocks go to the v4 routes" }
      : { name: "dataset-api", severity: "warning", message: "this server has no v4 dataset routes; using v3", fix: "upgrade the backend when convenient, or set destinations.scicat.datasetApi: v3 to silence this" },
  );
  checks.push(await pidPermission(client, routes, api));
  return checks;
}

/**
 * Without writing anything: offer the server a valid dataset whose pid already exists. The permission check
 * comes before the duplicate check, so 409 means "may set pids" and 403 means it may not (scicat-api.md §3).
 */
async function pidPermission(client: ScicatClient, routes: DatasetRoutes, api: "v4" | "v3"): Promise<CheckResult> {
  const name = "pid-permission";
  try {
    const list = await client.call({ method: "GET", path: routes.datasets(api), query: { filter: JSON.stringify({ limits: { limit: 1 } }) } }, "listing one dataset");
    const sample = Array.isArray(list.data) ? (list.data[0] as Record<string, unknown> | undefined) : undefined;
    if (!sample || typeof sample.pid !== "string") {
      return { name, severity: "warning", message: "the catalog shows no dataset to probe pid permission with", fix: "the first push will tell: a 403 'Unauthorized to create this dataset' means the account may not set pids" };
    }
    const probe: Record<string, unknown> = {
      pid: sample.pid,
      type: "raw",
      datasetName: "beamsync doctor probe",
      owner: "beamsync",
      contactEmail: "beamsync-probe@example.org",
      ownerGroup: String(sample.ownerGroup ?? "beamsync"),
      sourceFolder: "/beamsync-probe",
      creationTime: new Date().toISOString(),
      creationLocation: "/beamsync-probe",
      principalInvestigators: ["beamsync"],
    };
    const response = await client.call({ method: "POST", path: routes.datasets(api), body: api === "v4" ? probe : toV3Dataset(probe) }, "probing pid permission", [400, 403, 409]);
    if (response.status === 409) return { name, severity: "ok", message: "the account may create datasets with their own pids" };
    if (response.status === 403) {
      return { name, severity: "error", message: "SciCat refuses datasets with client pids for this account (403)", fix: "give the account a role in ADMIN_GROUPS, CREATE_DATASET_PRIVILEGED_GROUPS or CREATE_DATASET_WITH_PID_GROUPS" };
    }
    return { name, severity: "warning", message: `could not probe pid permission (HTTP ${response.status})`, fix: "the first push will tell" };
  } catch (err) {
    return { name, severity: "warning", message: classifyScicatError(err, "probing pid permission").message, fix: "the first push will tell" };
  }
}
