import type { Config } from "../../config/schema.js";
import type { Run } from "../../model/types.js";
import { isoFromMs, relativeFilePath } from "../common.js";
import { makeRecord, recordId, type DesiredRecord } from "../record.js";
import { ownFiles, runFolder } from "./folder.js";

/**
 * The files of a dataset, as one record; the adapter diffs it by path against the blocks the catalog holds
 * and posts only what is missing, split into blocks. Paths are relative to the run's own folder. A file every
 * run of the beamtime shares (the resonance beamtime DB) is in no run's list: listed by each, SciCat would count
 * its size once per run; the dataset names it in `scientificMetadata.run.beamtime_db` instead.
 */
export function datablockRecord(run: Run, dataset: DesiredRecord, checksum: Config["files"]["checksum"] = "none"): DesiredRecord | undefined {
  const own = ownFiles(run);
  if (own.length === 0) return undefined;
  const folder = runFolder(run);
  const files = own
    .map((f) => ({ path: relativeFilePath(run, f.path, folder), size: f.size, time: isoFromMs(f.mtimeMs), ...(f.checksum ? { chk: f.checksum } : {}) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const payload = {
    datasetId: dataset.key,
    // The dataset's groups: a block is read with its dataset, by the same proposal.
    ownerGroup: dataset.payload.ownerGroup,
    accessGroups: dataset.payload.accessGroups,
    ...(checksum !== "none" ? { chkAlg: checksum } : {}),
    files,
  };
  return makeRecord({
    destination: "scicat",
    kind: "origdatablocks",
    key: dataset.key,
    runUid: run.uid,
    beamtimeKey: run.beamtimeKey,
    payload,
    dependsOn: [recordId("scicat", "dataset", dataset.key)],
  });
}
