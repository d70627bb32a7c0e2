import { z } from "zod";
import type { ScicatConfig } from "../../config/schema.js";
import type { PushResult, RemoteState } from "../contract.js";
import { blockDocument, createdBlock, expectAnswer } from "./answers.js";
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
  /** Checksum, with the block's `chkAlg` (files.checksum). */
  chk?: string;
}

interface StoredBlock extends BlockGroups {
  _id: string;
  size?: number | undefined;
  dataFileList: (DataFile & Record<string, unknown>)[];
}

/** The DataFile keys SciCat accepts in a write; it answers each entry with `_id` and `id` added, which a PATCH must not send back (origdatablocks/05). */
const DATAFILE_KEYS = ["path", "size", "time", "chk", "uid", "gid", "perm", "type"] as const;

export interface DatablockDeps {
  client: ScicatClient;
  routes: DatasetRoutes;
  config: ScicatConfig;
}

export interface DatablockPayload {
  datasetId: string;
  ownerGroup?: string;
  accessGroups?: string[];
  chkAlg?: string;
  files: DataFile[];
}

export function decodeDatablocks(payload: Record<string, unknown>): DatablockPayload {
  const files = Array.isArray(payload.files) ? (payload.files as DataFile[]) : [];
  return {
    datasetId: String(payload.datasetId),
    ...(typeof payload.ownerGroup === "string" ? { ownerGroup: payload.ownerGroup } : {}),
    ...(Array.isArray(payload.accessGroups) ? { accessGroups: payload.accessGroups as string[] } : {}),
    ...(typeof payload.chkAlg === "string" ? { chkAlg: payload.chkAlg } : {}),
    files,
  };
}

/** `knownEmpty`: the dataset was created by this process a moment ago, so it has no blocks to read. */
export async function pushDatablocks(deps: DatablockDeps, payload: DatablockPayload, options: { knownEmpty?: boolean } = {}): Promise<PushResult> {
  const pid = payload.datasetId;
  try {
    const api = await deps.routes.api();
    const blocks = options.knownEmpty ? [] : await readBlocks(deps, pid);
    const plan = planDatablocks(blocks, payload.files, deps.config, { ownerGroup: payload.ownerGroup, accessGroups: payload.accessGroups });
    for (const update of plan.updates) {
      const files = update.files ? { dataFileList: update.files, size: sizeOf(update.files), ...(payload.chkAlg ? { chkAlg: payload.chkAlg } : {}) } : {};
      const body = { ...files, ...update.groups };
      const response = await deps.client.call(
        { method: "PATCH", path: deps.routes.origdatablock(api, update.id), body },
        `updating origdatablock ${update.id} of dataset ${pid}`,
      );
      expectAnswer(response, blockDocument, "the updated origdatablock as JSON");
    }
    for (const files of plan.additions) {
      const body: Record<string, unknown> = { datasetId: pid, size: sizeOf(files), dataFileList: files };
      if (payload.ownerGroup) body.ownerGroup = payload.ownerGroup;
      if (payload.accessGroups) body.accessGroups = payload.accessGroups;
      if (payload.chkAlg) body.chkAlg = payload.chkAlg;
      const response = await deps.client.call({ method: "POST", path: deps.routes.origdatablocks(api), body }, `adding files to dataset ${pid}`);
      expectAnswer(response, createdBlock(pid), "the created origdatablock as JSON");
    }
    const wrote = plan.updates.length + plan.additions.length > 0;
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

/** The size and file count of a dataset's blocks together, as SciCat itself computes them after a block write. */
export async function blockTotals(deps: Pick<DatablockDeps, "client" | "routes">, pid: string): Promise<{ size: number; numberOfFiles: number }> {
  const blocks = await readBlocks(deps, pid);
  const files = blocks.flatMap((b) => b.dataFileList);
  return { size: sizeOf(files), numberOfFiles: files.length };
}

/** Only a JSON array of blocks is an answer: HTML or an empty body is not "no blocks yet" (that would post them all again). */
async function readBlocks(deps: Pick<DatablockDeps, "client" | "routes">, pid: string): Promise<StoredBlock[]> {
  // 404 here means the dataset is missing or invisible: a dependency problem, retried later.
  const response = await deps.client.call({ method: "GET", path: deps.routes.datasetBlocks(pid) }, `reading the origdatablocks of dataset ${pid}`);
  const blocks = expectAnswer(response, blockList, `a JSON list of the origdatablocks of dataset ${pid}`);
  return blocks.map((b) => ({ _id: String(b._id ?? b.id), size: b.size, dataFileList: b.dataFileList, ownerGroup: b.ownerGroup, accessGroups: b.accessGroups }));
}

/** Made once: zod compiles each object schema on its first parse. */
const blockList = z.array(blockDocument);

export interface BlockGroups {
  ownerGroup?: string | undefined;
  accessGroups?: string[] | undefined;
}



export interface DatablockPlan {
  /** PATCH bodies: clean file entries when files changed, the groups when they changed. */
  updates: { id: string; files?: DataFile[]; groups?: BlockGroups }[];
  additions: DataFile[][];
}

/**
 * Pure: what to patch and what to post so the catalog lists each desired file once, as it is now, and every
 * block carries the dataset's groups (a block is readable by its own groups, not by its dataset's). Entries the
 * source no longer lists (paths from before the file list moved to the run's own folder, a beamtime DB every
 * run used to list) are taken out; a block left with none of its files takes new files instead, since the
 * ingestor may not delete a block and SciCat refuses an empty one.
 */
export function planDatablocks(blocks: StoredBlock[], desired: DataFile[], limits: Pick<ScicatConfig, "maxFilesPerBlock" | "maxBytesPerBlock">, groups: BlockGroups = {}): DatablockPlan {
  const wanted = new Map(desired.map((f) => [f.path, f]));
  const present = new Set<string>();
  const updates: DatablockPlan["updates"] = [];
  const emptied: { id: string; regroup: boolean }[] = [];
  for (const block of blocks) {
    let changed = false;
    const files: (DataFile & Record<string, unknown>)[] = [];
    for (const stored of block.dataFileList) {
      const want = wanted.get(stored.path);
      if (!want || present.has(stored.path)) {
        changed = true;
        continue;
      }
      present.add(stored.path);
      if (stored.size === want.size && sameTime(stored.time, want.time) && (want.chk === undefined || stored.chk === want.chk)) files.push(stored);
      else {
        changed = true;
        files.push({ ...stored, size: want.size, time: want.time, ...(want.chk !== undefined ? { chk: want.chk } : {}) });
      }
    }
    const regroup = groupsDiffer(block, groups);
    if (changed && files.length === 0) emptied.push({ id: block._id, regroup });
    else if (changed || regroup) updates.push({ id: block._id, ...(changed ? { files: files.map(cleanDataFile) } : {}), ...(regroup ? { groups } : {}) });
  }
  const additions = splitIntoBlocks(desired.filter((f) => !present.has(f.path)), limits);
  for (const slot of emptied) {
    const files = additions.shift();
    // Nothing left to put in it: it keeps its old entries (an operator may delete it as admin).
    if (files) updates.push({ id: slot.id, files, ...(slot.regroup ? { groups } : {}) });
    else if (slot.regroup) updates.push({ id: slot.id, groups });
  }
  return { updates, additions };
}

function groupsDiffer(block: BlockGroups, wanted: BlockGroups): boolean {
  const owner = wanted.ownerGroup !== undefined && block.ownerGroup !== wanted.ownerGroup;
  const access = wanted.accessGroups !== undefined && JSON.stringify(block.accessGroups ?? []) !== JSON.stringify(wanted.accessGroups);
  return owner || access;
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

/** A stored entry as SciCat accepts it in a write: its own keys only. */
function cleanDataFile(entry: DataFile & Record<string, unknown>): DataFile {
  const out: Record<string, unknown> = {};
  for (const key of DATAFILE_KEYS) if (entry[key] !== undefined) out[key] = entry[key];
  return out as unknown as DataFile;
}

function sizeOf(files: DataFile[]): number {
  return files.reduce((sum, f) => sum + (Number.isFinite(f.size) ? f.size : 0), 0);
}

function sameTime(a: unknown, b: string): boolean {
  return a === b || (typeof a === "string" && Date.parse(a) === Date.parse(b));
}
