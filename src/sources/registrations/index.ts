import { emptySnapshot, type SourceProblem } from "../../model/types.js";
import type { ScanResult, Source, Watermark, WatermarkReader } from "../contract.js";
import type { LoadedFile, RegistrationFolder } from "./folder.js";
import { REGISTRATION_SOURCE } from "./model.js";
import { formatRegistrationError } from "./types.js";

/**
 * The registrations source: each registration file in the folder gives its proposal and samples. Files are
 * small, so every scan reads them all and reconcile's hashes say what changed. A file with mistakes gives
 * nothing (its records in the catalogs stay as they were) and its mistakes are shown in `status`; a specimen
 * that left a file is reported, never deleted.
 */

interface FileWatermarkData {
  specimens: string[];
  /** Specimens that were in the file and are no longer: their catalog records stay, and `status` says so. */
  removed: string[];
}

export function createRegistrationSource(folder: RegistrationFolder): Source {
  return {
    kind: REGISTRATION_SOURCE,
    scan: (watermarks) => scanRegistrations(folder, watermarks),
  };
}

async function scanRegistrations(folder: RegistrationFolder, watermarks: WatermarkReader): Promise<ScanResult> {
  const result: ScanResult = { snapshot: emptySnapshot(), watermarks: [], unchanged: 0 };
  if (!folder.readable()) {
    // Path "." marks the source's root as unreadable: what was registered is not taken as gone.
    result.snapshot.problems.push({ source: REGISTRATION_SOURCE, path: ".", reason: `cannot list the registrations folder ${folder.folder}; create it or fix sources.registrations.folder` });
    return result;
  }
  const view = folder.load();
  for (const file of view.files) {
    const previous = await watermarks.get(REGISTRATION_SOURCE, file.relative);
    const { watermark, problems } = fileWatermark(file, previous);
    // Its records are handed over all the same (reconcile's hashes find them unchanged); the count is for `sync`.
    if (previous && previous.size === watermark.size && previous.mtimeMs === watermark.mtimeMs && JSON.stringify(previous.data) === JSON.stringify(watermark.data) && previous.problem === watermark.problem) result.unchanged++;
    else result.watermarks.push(watermark);
    result.snapshot.problems.push(...problems);
    const records = file.registration ? view.proposals.get(file.registration.proposal.id) : undefined;
    if (!records) continue;
    result.snapshot.beamtimes.push(records.beamtime);
    result.snapshot.samples.push(...records.samples);
  }
  return result;
}

/** The file's watermark and what to report about it: its mistakes, or the specimens that left it. */
export function fileWatermark(file: LoadedFile, previous: Watermark | undefined): { watermark: Watermark; problems: SourceProblem[] } {
  const watermark: Watermark = { source: REGISTRATION_SOURCE, path: file.relative, size: file.size, mtimeMs: file.mtimeMs };
  const before = previous?.data as Partial<FileWatermarkData> | undefined;
  if (!file.registration) {
    // Nothing of a bad file is pushed; what it registered before is kept for when it is fixed.
    if (before) watermark.data = before;
    const reasons = file.errors.map(formatRegistrationError);
    // Every mistake at once in `status`, so one edit can fix them all.
    watermark.problem = `not registered: ${reasons.join("; ")}`;
    return {
      watermark,
      problems: reasons.map((reason) => ({ source: REGISTRATION_SOURCE, path: file.relative, reason: `not registered: ${reason}` })),
    };
  }
  const specimens = file.registration.specimens.map((s) => s.id);
  const now = new Set(specimens);
  const removed = [...new Set([...(before?.removed ?? []), ...(before?.specimens ?? [])])].filter((id) => !now.has(id)).sort();
  watermark.data = { specimens, removed } satisfies FileWatermarkData;
  const problems: SourceProblem[] =
    removed.length > 0
      ? [
          {
            source: REGISTRATION_SOURCE,
            path: file.relative,
            reason: `specimen(s) ${removed.join(", ")} left proposal ${file.registration.proposal.id}'s registration; their catalog records are kept (beamsync deletes nothing)`,
          },
        ]
      : [];
  return { watermark, problems };
}
