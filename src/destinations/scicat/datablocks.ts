import type { ScicatConfig } from "../../config/schema.js";
import type { PushResult, RemoteState } from "../contract.js";
import type { ScicatClient } from "./client.js";
import { classifyScicatError } from "./errors.js";
import type { DatasetRoutes } from "./routes.js";

/**
 * OrigDatablocks (scicat-api.md §5.7, §12.5). SciCat stores every POST as a new block, even an identical one,
 * and double-counts the dataset's size, so we never post blindly: read the dataset's blocks, diff by file path,
 * patch blocks whose files changed size or time, and post only the files the catalog lacks, split so that no
 * block exceeds the configured file count or listing size. A lost answer or a crash between blocks is safe:
 * the next attempt sees what arrived.
 */

export interface DataFile {
  path: string;
  size: number;
  time: string;
}

interface StoredBlock {
  _id: string;
  size?: number;
  ownerGroup?: string | undefined;
  accessGroups?: string[] | undefined;
  dataFileList: (DataFile & Record<string, unknown>)[];
}

export interface DatablockDeps {
  client: ScicatClient;
  routes: DatasetRoutes;
  config: ScicatConfig;
}

export interface DatablockPayload {
  datasetId: string;
  ownerGroup?: string;
  accessGroups?: string[];
  files: DataFile[];
}

export function decodeDatablocks(payload: Record<string, unknown>): DatablockPayload {
  const files = Array.isArray(payload.files) ? (payload.files as DataFile[]) : [];
  return {
    datasetId: String(payload.datasetId),
    ...(typeof payload.ownerGroup === "string" ? { ownerGroup: payload.ownerGroup } : {}),
    ...(Array.isArray(payload.accessGroups) ? { accessGroups: payload.accessGroups as string[] } : {}),
    files,
  };
}

/** `knownEmpty`: the dataset was created by this process a moment ago, so it has no blocks to read. */
export async function pushDatablocks(deps: DatablockDeps, payload: DatablockPayload, options: { knownEmpty?: boolean } = {}): Promise<PushResult> {
  const pid = payload.datasetId;
  try {
    const api = await deps.routes.api();
    const blocks = options.knownEmpty ? [] : await readBlocks(deps, pid);
    const plan = planDatablocks(blocks, payload.files, deps.config);
    const regroup = blocksToRegroup(blocks, payload);
    for (const update of plan.updates) {
      const body: Record<string, unknown> = { dataFileList: update.files, size: sizeOf(update.files), ...(regroup.has(update.id) ? groupsOf(payload) : {}) };
      regroup.delete(update.id);
      await deps.client.call({ method: "PATCH", path: deps.routes.origdatablock(api, update.id), body }, `updating origdatablock ${update.id} of dataset ${pid}`);
    }
    // A changed group template or group map reaches the blocks already in the catalog, like their dataset.
    for (const id of regroup) {
      await deps.client.call({ method: "PATCH", path: deps.routes.origdatablock(api, id), body: groupsOf(payload) }, `updating the groups of origdatablock ${id} of dataset ${pid}`);
    }
    for (const files of plan.additions) {
      const body: Record<string, unknown> = { datasetId: pid, size: sizeOf(files), dataFileList: files };
      if (payload.ownerGroup) body.ownerGroup = payload.ownerGroup;
      if (payload.accessGroups) body.accessGroups = payload.accessGroups;
      await deps.client.call({ method: "POST", path: deps.routes.origdatablocks(api), body }, `adding files to dataset ${pid}`);
    }
    const wrote = plan.updates.length + plan.additions.length + regroup.size > 0;
    return {
      operation: !wrote ? "skip" : blocks.length === 0 ? "create" : "update",
      remoteId: pid,
      remoteUrl: deps.routes.url(deps.routes.datasetBlocks(pid)),
    };
  } catch (err) {
    throw classifyScicatError(err, `pushing the file list of dataset ${pid}`);
  }
}

export async function lookupDatablocks(deps: DatablockDeps, payload: DatablockPayload): Promise<RemoteState> {
  try {
    const blocks = await readBlocks(deps, payload.datasetId);
    if (blocks.length === 0) return { exists: false };
    const files = blocks.flatMap((b) => b.dataFileList.map((f) => ({ path: f.path, size: f.size, time: f.time })));
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { exists: true, remoteId: payload.datasetId, fields: { files } };
  } catch (err) {
    throw classifyScicatError(err, `looking up the file list of dataset ${payload.datasetId}`);
  }
}

async function readBlocks(deps: DatablockDeps, pid: string): Promise<StoredBlock[]> {
  // 404 here means the dataset is missing or invisible: a dependency problem, retried later.
  const response = await deps.client.call({ method: "GET", path: deps.routes.datasetBlocks(pid) }, `reading the origdatablocks of dataset ${pid}`);
  if (!Array.isArray(response.data)) return [];
  return (response.data as Record<string, unknown>[]).map((b) => ({
    _id: String(b._id ?? b.id),
    size: typeof b.size === "number" ? b.size : undefined,
    dataFileList: Array.isArray(b.dataFileList) ? (b.dataFileList as StoredBlock["dataFileList"]) : [],
    ownerGroup: typeof b.ownerGroup === "string" ? b.ownerGroup : undefined,
    accessGroups: Array.isArray(b.accessGroups) ? (b.accessGroups as string[]) : undefined,
  }));
}

function groupsOf(payload: DatablockPayload): Record<string, unknown> {
  return { ...(payload.ownerGroup ? { ownerGroup: payload.ownerGroup } : {}), ...(payload.accessGroups ? { accessGroups: payload.accessGroups } : {}) };
}

/** Blocks whose owner or reader groups are not the ones the mapping gives (ids). */
function blocksToRegroup(blocks: StoredBlock[], payload: DatablockPayload): Set<string> {
  const same = (a: string[] | undefined, b: string[]) => a !== undefined && a.length === b.length && a.every((g, i) => g === b[i]);
  return new Set(
    blocks
      .filter((b) => (payload.ownerGroup !== undefined && b.ownerGroup !== payload.ownerGroup) || (payload.accessGroups !== undefined && !same(b.accessGroups, payload.accessGroups)))
      .map((b) => b._id),
  );
}

export interface DatablockPlan {
  updates: { id: string; files: DataFile[] }[];
  additions: DataFile[][];
}

/** Pure: what to patch and what to post so the catalog lists each desired file once, as it is now. */
export function planDatablocks(blocks: StoredBlock[], desired: DataFile[], limits: Pick<ScicatConfig, "maxFilesPerBlock" | "maxBytesPerBlock">): DatablockPlan {
  const wanted = new Map(desired.map((f) => [f.path, f]));
  const present = new Set<string>();
  const updates: DatablockPlan["updates"] = [];
  for (const block of blocks) {
    let changed = false;
    const files = block.dataFileList.map((stored) => {
      present.add(stored.path);
      const want = wanted.get(stored.path);
      if (!want || (stored.size === want.size && sameTime(stored.time, want.time))) return stored;
      changed = true;
      return { ...stored, size: want.size, time: want.time };
    });
    if (changed) updates.push({ id: block._id, files: files.map(({ _id: _ignored, ...rest }) => rest as unknown as DataFile) });
  }
  const missing = desired.filter((f) => !present.has(f.path));
  return { updates, additions: splitIntoBlocks(missing, limits) };
}

/** Consecutive chunks, each within both limits (a single file larger than the byte limit gets a block of its own). */
export function splitIntoBlocks(files: DataFile[], limits: Pick<ScicatConfig, "maxFilesPerBlock" | "maxBytesPerBlock">): DataFile[][] {
  const blocks: DataFile[][] = [];
  let current: DataFile[] = [];
  let bytes = 0;
  for (const file of files) {
    const cost = Buffer.byteLength(JSON.stringify(file)) + 1;
    if (current.length > 0 && (current.length >= limits.maxFilesPerBlock || bytes + cost > limits.maxBytesPerBlock)) {
      blocks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += cost;
  }
  if (current.length > 0) blocks.push(current);
  return blocks;
}

function sizeOf(files: DataFile[]): number {
  return files.reduce((sum, f) => sum + (Number.isFinite(f.size) ? f.size : 0), 0);
}

function sameTime(a: unknown, b: string): boolean {
  return a === b || (typeof a === "string" && Date.parse(a) === Date.parse(b));
}
