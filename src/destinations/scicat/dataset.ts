import { TransientError } from "../../sync/errors.js";
import type { PushContext, PushResult, RemoteState } from "../contract.js";
import { datasetDocument, expectAnswer, type Doc } from "./answers.js";
import type { ScicatClient } from "./client.js";
import { remoteFields } from "./compare.js";
import { blockTotals } from "./datablocks.js";
import { classifyScicatError } from "./errors.js";
import { planUpdate, type MergeRules } from "./merge.js";
import { asV4Dataset, toV3Dataset, type DatasetApi, type DatasetRoutes } from "./routes.js";

/**
 * Raw datasets with client-chosen pids (scicat-api.md §5.3, §5.4, §12.2): create; a 409 means "exists" → read
 * it, compare, and PATCH only the fields whose mapped value changed (merge.ts keeps a curator's edits).
 * A cold sync therefore costs one request per dataset.
 */

export interface DatasetDeps {
  client: ScicatClient;
  routes: DatasetRoutes;
}

export interface DatasetPush {
  payload: Doc;
  remoteIdHint?: string | undefined;
  lastWritten?: Doc | undefined;
  sourceWins: MergeRules["sourceWins"];
}

/** Fields that identify a dataset and cannot be patched (PATCH with pid, type or version → 400, datasets/07). */
const IMMUTABLE = ["pid", "type", "version"] as const;

/**
 * The mapping names the instrument by uniqueName and the sample by its record key; SciCat links them by the ids
 * the catalog holds (the instrument's server-given pid; a sample's sampleId from before a key migration).
 */
export function resolveDatasetLinks(payload: Doc, ctx: PushContext): Doc {
  const out = { ...payload };
  const link = (field: string, kind: string) => {
    const keys = payload[field];
    if (Array.isArray(keys)) out[field] = keys.map((k) => ctx.dependencyRemoteId(kind, String(k)) ?? k);
  };
  link("instrumentIds", "instrument");
  link("sampleIds", "sample");
  return out;
}

const rules = (sourceWins: MergeRules["sourceWins"]): MergeRules => ({ immutable: IMMUTABLE, objectFields: ["scientificMetadata"], setFields: ["keywords"], sourceWins });

export async function pushDataset(deps: DatasetDeps, push: DatasetPush, ctx: PushContext): Promise<PushResult> {
  const pid = String(push.payload.pid);
  try {
    const api = await deps.routes.api();
    const body = resolveDatasetLinks(push.payload, ctx);
    if (push.remoteIdHint) {
      // Synced before: it is an update, skip the doomed create.
      const existing = await readDataset(deps, api, pid);
      if (existing) return await updateDataset(deps, api, existing, body, push);
    }
    for (let attempt = 1; ; attempt++) {
      const response = await deps.client.call(
        { method: "POST", path: deps.routes.datasets(api), body: api === "v4" ? body : toV3Dataset(body) },
        `creating dataset ${pid}`,
        [409, 500],
      );
      if (response.status < 300) {
        expectAnswer(response, datasetDocument(pid), "the created dataset as JSON");
        return { operation: "create", remoteId: pid, remoteUrl: datasetUrl(deps, api, pid), httpStatus: response.status, written: body };
      }
      // 409: it is there (an earlier attempt whose answer was lost, or another writer). 500: check once.
      const existing = await readDataset(deps, api, pid);
      if (existing) return await updateDataset(deps, api, existing, body, push);
      if (response.status === 409) throw new TransientError(`SciCat says dataset ${pid} exists but does not show it; will look again later`, { httpStatus: 409 });
      if (attempt >= 2) {
        throw new TransientError(`SciCat answered HTTP 500 twice creating dataset ${pid} and does not hold it (a passing fault, or body too large or invalid scientificMetadata?); retried with backoff until sync.maxAttempts, then dead`, { httpStatus: 500 });
      }
    }
  } catch (err) {
    throw classifyScicatError(err, `pushing dataset ${pid}`);
  }
}

async function readDataset(deps: DatasetDeps, api: DatasetApi, pid: string): Promise<Doc | undefined> {
  const document = await deps.client.getOne(deps.routes.dataset(api, pid), `reading dataset ${pid}`, datasetDocument(pid));
  return document ? asV4Dataset(document) : undefined;
}

async function updateDataset(deps: DatasetDeps, api: DatasetApi, existing: Doc, desired: Doc, push: DatasetPush): Promise<PushResult> {
  const pid = String(desired.pid);
  let current = existing;
  for (let attempt = 1; ; attempt++) {
    const plan = planUpdate(current, desired, push.lastWritten, rules(push.sourceWins));
    const changes = api === "v4" ? await withFileTotals(deps, current, plan.changes) : plan.changes;
    const result = { remoteId: pid, remoteUrl: datasetUrl(deps, api, pid), written: plan.written, conflicts: plan.conflicts };
    if (Object.keys(changes).length === 0) return { operation: "skip", ...result };
    const headers: Record<string, string> = { "content-type": "application/json" };
    const since = ifUnmodifiedSince(current.updatedAt);
    if (since) headers["if-unmodified-since"] = since;
    const response = await deps.client.call(
      { method: "PATCH", path: deps.routes.dataset(api, pid), body: api === "v4" ? changes : toV3Dataset(changes), headers },
      `updating dataset ${pid}`,
      [412],
    );
    if (response.status !== 412) {
      expectAnswer(response, datasetDocument(pid), "the updated dataset as JSON");
      return { operation: "update", httpStatus: response.status, ...result };
    }
    // Someone else changed it since we read it: read again and re-diff, once.
    const again = attempt < 2 ? await readDataset(deps, api, pid) : undefined;
    if (!again) throw new TransientError(`dataset ${pid} keeps changing on the server while we update it; will try again`, { httpStatus: 412 });
    current = again;
  }
}

/**
 * A v4 dataset PATCH without `size` and `numberOfFiles` sets both (and packedSize) to 0 although blocks exist
 * (datasets/12, surprise 9); one with them stores them as sent. So every v4 update carries the totals of the
 * dataset's blocks, and a dataset that an earlier update left at 0 is repaired on its next push.
 */
async function withFileTotals(deps: DatasetDeps, current: Doc, changes: Doc): Promise<Doc> {
  const looksReset = current.numberOfFiles === 0 || current.numberOfFiles === undefined;
  if (Object.keys(changes).length === 0 && !looksReset) return changes;
  const totals = await blockTotals(deps, String(current.pid));
  if (Object.keys(changes).length === 0 && current.numberOfFiles === totals.numberOfFiles && current.size === totals.size) return changes;
  return { ...changes, size: totals.size, numberOfFiles: totals.numberOfFiles };
}

/** HTTP dates have whole seconds; round up so our own read does not look older than the record (datasets/08). */
function ifUnmodifiedSince(updatedAt: unknown): string | undefined {
  if (typeof updatedAt !== "string") return undefined;
  const ms = Date.parse(updatedAt);
  return Number.isNaN(ms) ? undefined : new Date(Math.ceil(ms / 1000) * 1000).toUTCString();
}

function datasetUrl(deps: DatasetDeps, api: DatasetApi, pid: string): string {
  return deps.routes.url(deps.routes.dataset(api, pid));
}

export async function lookupDataset(deps: DatasetDeps, push: DatasetPush, ctx: PushContext): Promise<RemoteState> {
  const pid = String(push.payload.pid);
  try {
    const api = await deps.routes.api();
    const existing = await readDataset(deps, api, pid);
    if (!existing) return { exists: false };
    const desired = resolveDatasetLinks(push.payload, ctx);
    const plan = planUpdate(existing, desired, push.lastWritten, rules(push.sourceWins));
    return { exists: true, remoteId: pid, fields: remoteFields(existing, desired), changes: Object.keys(plan.changes), conflicts: plan.conflicts };
  } catch (err) {
    throw classifyScicatError(err, `looking up dataset ${pid}`);
  }
}
