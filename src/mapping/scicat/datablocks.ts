import type { Run } from "../../model/types.js";
import { isoFromMs, relativeFilePath } from "../common.js";
import { makeRecord, recordId, type DesiredRecord } from "../record.js";

/**
 * The files of a dataset, as one record; the adapter diffs it by path against the blocks the catalog holds
 * and posts only what is missing, split into blocks. A resonance beamtime DB is listed by every run of the
 * beamtime and grows with each of them, so its size and time are left out of the hash: a new run must not
 * make every earlier run's file list look changed.
 */
export function datablockRecord(run: Run, dataset: DesiredRecord): DesiredRecord | undefined {
  if (run.files.length === 0) return undefined;
  const files = [...run.files]
    .map((f) => ({ path: relativeFilePath(run, f.path), size: f.size, time: isoFromMs(f.mtimeMs), shared: isSharedFile(run, f.path) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const payload = {
    datasetId: dataset.key,
    // The dataset's groups: a block is read with its dataset, by the same proposal.
    ownerGroup: dataset.payload.ownerGroup,
    accessGroups: dataset.payload.accessGroups,
    files: files.map(({ path, size, time }) => ({ path, size, time })),
  };
  const hashBasis = { ...payload, files: files.map((f) => (f.shared ? { path: f.path } : { path: f.path, size: f.size, time: f.time })) };
  return makeRecord(
    {
      destination: "scicat",
      kind: "origdatablocks",
      key: dataset.key,
      runUid: run.uid,
      beamtimeKey: run.beamtimeKey,
      payload,
      dependsOn: [recordId("scicat", "dataset", dataset.key)],
    },
    hashBasis,
  );
}

function isSharedFile(run: Run, filePath: string): boolean {
  return run.source === "resonance" && filePath.endsWith(".db");
}
