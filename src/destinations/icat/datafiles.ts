import type { IcatDatafilePayload } from "../../mapping/icat/payloads.js";
import { jpqlId } from "./api.js";
import type { SyncDeps } from "./context.js";
import { present } from "./diff.js";
import { isIcatCode } from "./errors.js";

/**
 * A dataset's Datafiles, diffed by name (unique per dataset) against what ICAT holds: missing files are
 * created and changed ones updated, in bounded chunks (one transaction each, icat-api.md §9.4). Because
 * every pass starts from the remote list, a chunk whose answer was lost is never created twice.
 */

interface RemoteDatafile {
  id: number;
  location: unknown;
  fileSize: unknown;
  datafileModTime: unknown;
  checksum: unknown;
}

export function datafileFields(df: IcatDatafilePayload): Record<string, unknown> {
  return { name: df.name, location: df.location, fileSize: df.fileSize, datafileModTime: df.datafileModTime, ...(df.checksum !== undefined ? { checksum: df.checksum } : {}) };
}

export async function listDatafiles(deps: SyncDeps, datasetId: number): Promise<Map<string, RemoteDatafile>> {
  const rows = await deps.api.allTuples(
    (after, limit) =>
      `SELECT df.id, df.name, df.location, df.fileSize, df.datafileModTime, df.checksum FROM Datafile df WHERE df.dataset.id = ${jpqlId(datasetId)} AND df.id > ${jpqlId(after)} ORDER BY df.id LIMIT 0, ${limit}`,
  );
  const out = new Map<string, RemoteDatafile>();
  for (const [id, name, location, fileSize, datafileModTime, checksum] of rows) out.set(String(name), { id: Number(id), location, fileSize, datafileModTime, checksum });
  return out;
}

/**
 * The fields of a Datafile that differ, to update only those. A location left out (too long for the server)
 * comes back as null: nothing to change, as for any field beamsync does not set.
 */
function changes(deps: SyncDeps, remote: RemoteDatafile, wanted: IcatDatafilePayload): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (wanted.location !== undefined && present(remote.location) !== wanted.location) out.location = wanted.location;
  if (remote.fileSize !== wanted.fileSize) out.fileSize = wanted.fileSize;
  if (!deps.precision.sameInstant(present(remote.datafileModTime), wanted.datafileModTime)) out.datafileModTime = wanted.datafileModTime;
  if (wanted.checksum !== undefined && present(remote.checksum) !== wanted.checksum) out.checksum = wanted.checksum;
  return out;
}

async function writeInChunks(deps: SyncDeps, entities: unknown[]): Promise<number> {
  const size = deps.config.datafileChunk;
  let writes = 0;
  for (let i = 0; i < entities.length; i += size) {
    await deps.api.write(entities.slice(i, i + size));
    writes++;
  }
  return writes;
}

/** Returns the number of write requests made (0 when ICAT already matches). */
export async function syncDatafiles(deps: SyncDeps, datasetId: number, wanted: IcatDatafilePayload[]): Promise<number> {
  let writes = 0;
  for (let round = 1; ; round++) {
    const remote = await listDatafiles(deps, datasetId);
    const creates: unknown[] = [];
    const updates: unknown[] = [];
    for (const df of wanted) {
      const have = remote.get(df.name);
      if (!have) {
        creates.push({ Datafile: { dataset: { id: datasetId }, ...datafileFields(df) } });
        continue;
      }
      const changed = changes(deps, have, df);
      if (Object.keys(changed).length > 0) updates.push({ Datafile: { id: have.id, ...changed } });
    }
    try {
      writes += await writeInChunks(deps, creates);
      writes += await writeInChunks(deps, updates);
      return writes;
    } catch (err) {
      // Another writer added some of these files meanwhile: diff again and send only what is still missing.
      if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS") || round >= 3) throw err;
      deps.logger.info("ICAT datafiles already exist; comparing again", { datasetId });
    }
  }
}
