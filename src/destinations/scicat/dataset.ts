import { TransientError } from "../../sync/errors.js";
import type { PushContext, PushResult, RemoteState } from "../contract.js";
import type { ScicatClient } from "./client.js";
import { differingFields, remoteFields } from "./compare.js";
import { classifyScicatError } from "./errors.js";
import { asV4Dataset, toV3Dataset, type DatasetApi, type DatasetRoutes } from "./routes.js";

/**
 * Raw datasets with client-chosen pids (scicat-api.md §5.3, §5.4, §12.2): create; a 409 means "exists" → read
 * it, compare, and PATCH only the fields that differ. A cold sync therefore costs one request per dataset.
 */

export interface DatasetDeps {
  client: ScicatClient;
  routes: DatasetRoutes;
}

/** Fields that identify a dataset and cannot be patched (PATCH with pid → 400). */
const IMMUTABLE = ["pid", "type"] as const;

/**
 * The mapping names the instrument by uniqueName and the sample by its record key; SciCat links them by the ids
 * the catalog holds (the instrument's server-given pid; a sample's sampleId from before a key migration).
 */
export function resolveDatasetLinks(payload: Record<string, unknown>, ctx: PushContext): Record<string, unknown> {
  const out = { ...payload };
  const link = (field: string, kind: string) => {
    const keys = payload[field];
    if (Array.isArray(keys)) out[field] = keys.map((k) => ctx.dependencyRemoteId(kind, String(k)) ?? k);
  };
  link("instrumentIds", "instrument");
  link("sampleIds", "sample");
  return out;
}

export async function pushDataset(deps: DatasetDeps, payload: Record<string, unknown>, ctx: PushContext, remoteIdHint?: string): Promise<PushResult> {
  const pid = String(payload.pid);
  try {
    const api = await deps.routes.api();
    const body = resolveDatasetLinks(payload, ctx);
    if (remoteIdHint) {
      // Synced before: it is an update, skip the doomed create.
      const existing = await readDataset(deps, api, pid);
      if (existing) return await updateDataset(deps, api, existing, body);
    }
    for (let attempt = 1; ; attempt++) {
      const response = await deps.client.call(
        { method: "POST", path: deps.routes.datasets(api), body: api === "v4" ? body : toV3Dataset(body) },
        `creating dataset ${pid}`,
        [409, 500],
      );
      if (response.status < 300) return { operation: "create", remoteId: pid, remoteUrl: datasetUrl(deps, api, pid), httpStatus: response.status };
      // 409: it is there (an earlier attempt whose answer was lost, or another writer). 500: check once.
      const existing = await readDataset(deps, api, pid);
      if (existing) return await updateDataset(deps, api, existing, body);
      if (response.status === 409) throw new TransientError(`SciCat says dataset ${pid} exists but does not show it; will look again later`, { httpStatus: 409 });
      if (attempt >= 2) {
        throw new TransientError(`SciCat answered HTTP 500 twice creating dataset ${pid} and does not hold it (a passing fault, or body too large or invalid scientificMetadata?); retried with backoff until sync.maxAttempts, then dead`, { httpStatus: 500 });
      }
    }
  } catch (err) {
    throw classifyScicatError(err, `pushing dataset ${pid}`);
  }
}

async function readDataset(deps: DatasetDeps, api: DatasetApi, pid: string): Promise<Record<string, unknown> | undefined> {
  const document = await deps.client.getOne(deps.routes.dataset(api, pid), `reading dataset ${pid}`);
  return document ? asV4Dataset(document) : undefined;
}

async function updateDataset(deps: DatasetDeps, api: DatasetApi, existing: Record<string, unknown>, desired: Record<string, unknown>): Promise<PushResult> {
  const pid = String(desired.pid);
  let current = existing;
  for (let attempt = 1; ; attempt++) {
    const changes = differingFields(current, desired, IMMUTABLE);
    if (Object.keys(changes).length === 0) return { operation: "skip", remoteId: pid, remoteUrl: datasetUrl(deps, api, pid) };
    const headers: Record<string, string> = { "content-type": "application/json" };
    const since = ifUnmodifiedSince(current.updatedAt);
    if (since) headers["if-unmodified-since"] = since;
    const response = await deps.client.call(
      { method: "PATCH", path: deps.routes.dataset(api, pid), body: api === "v4" ? changes : toV3Dataset(changes), headers },
      `updating dataset ${pid}`,
      [412],
    );
    if (response.status !== 412) return { operation: "update", remoteId: pid, remoteUrl: datasetUrl(deps, api, pid), httpStatus: response.status };
    // Someone else changed it since we read it: read again and re-diff, once.
    const again = attempt < 2 ? await readDataset(deps, api, pid) : undefined;
    if (!again) throw new TransientError(`dataset ${pid} keeps changing on the server while we update it; will try again`, { httpStatus: 412 });
    current = again;
  }
}

/** HTTP dates have whole seconds; round up so our own read does not look older than the record. */
function ifUnmodifiedSince(updatedAt: unknown): string | undefined {
  if (typeof updatedAt !== "string") return undefined;
  const ms = Date.parse(updatedAt);
  return Number.isNaN(ms) ? undefined : new Date(Math.ceil(ms / 1000) * 1000).toUTCString();
}

function datasetUrl(deps: DatasetDeps, api: DatasetApi, pid: string): string {
  return deps.routes.url(deps.routes.dataset(api, pid));
}

export async function lookupDataset(deps: DatasetDeps, payload: Record<string, unknown>, ctx: PushContext): Promise<RemoteState> {
  const pid = String(payload.pid);
  try {
    const api = await deps.routes.api();
    const existing = await readDataset(deps, api, pid);
    if (!existing) return { exists: false };
    return { exists: true, remoteId: pid, fields: remoteFields(existing, resolveDatasetLinks(payload, ctx)) };
  } catch (err) {
    throw classifyScicatError(err, `looking up dataset ${pid}`);
  }
}
