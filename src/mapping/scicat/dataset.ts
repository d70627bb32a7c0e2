import type { Config } from "../../config/schema.js";
import type { Beamtime, Researcher, Run, Sample, StreamInfo } from "../../model/types.js";
import { isRegistrationOf, proposalAccess, registeredMemberEmails } from "../access.js";
import { exitStatusFor, isoFromSeconds, personName, proposalIdFor } from "../common.js";
import { datasetText } from "../dataset-text.js";
import { runQuantities } from "../quantities.js";
import { publicPath, scicatSourceFolder } from "./folder.js";
import { principalInvestigator, scicatSampleId } from "./proposal-sample.js";

export { instrumentFor } from "../dataset-text.js";

export function datasetPid(run: Run, config: Config): string {
  return `${config.destinations.scicat.pidPrefix}${run.uid}`;
}

/**
 * The dataset's owner: a person named for the run, else the beamtime's researcher, else the proposal's PI; a
 * login id only when nobody is named; "unknown" when nothing is (never a group or a directory name).
 */
function ownerOf(run: Run, beamtime: Beamtime | undefined, pi: string | undefined): string {
  const candidates = [run.owner, beamtime?.researcher].filter((r): r is Researcher => r !== undefined && personName(r) !== undefined);
  const named = candidates.find((r) => !r.login);
  if (named) return personName(named)!;
  if (pi) return pi;
  const login = candidates[0] ? personName(candidates[0]) : run.operator;
  return login ?? "unknown";
}

function streamsMetadata(streams: StreamInfo[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const stream of streams) {
    const keys: Record<string, unknown> = {};
    for (const [field, info] of Object.entries(stream.dataKeys)) {
      keys[field] = {
        ...(info.units !== undefined && info.units !== null ? { units: info.units } : {}),
        ...(info.dtype !== undefined ? { dtype: info.dtype } : {}),
        ...(info.shape !== undefined ? { shape: info.shape } : {}),
        ...(info.source !== undefined ? { source: info.source } : {}),
      };
    }
    out[stream.name] = { data_keys: keys, ...(stream.eventCount !== undefined ? { event_count: stream.eventCount } : {}) };
  }
  return out;
}

/** v4 raw Dataset (scicat-api.md §5.3, resonance-data.md §9, bluesky-documents.md §9.1). */
export function datasetPayload(run: Run, beamtime: Beamtime | undefined, sample: Sample | undefined, instrument: string, config: Config): Record<string, unknown> {
  const mapping = config.mapping;
  const researcher = beamtime?.researcher;
  const proposalId = beamtime ? proposalIdFor(beamtime, mapping) : undefined;
  const access = proposalAccess(proposalId, mapping, beamtime);
  const pi = principalInvestigator(beamtime, proposalId, config);
  const owner = ownerOf(run, beamtime, pi.login ? undefined : pi.name);
  const email = researcher?.email ?? pi.email ?? mapping.defaultEmail;
  const status = exitStatusFor(run);
  const text = datasetText(run, beamtime, sample, config);
  const keywords = new Set<string>([...(sample?.tags ?? []), run.planName, ...mapping.keywords]);
  if (status !== "success") keywords.add(status);
  for (const k of text.ruleKeywords) keywords.add(k);

  const scientificMetadata: Record<string, unknown> = {
    run: {
      uid: run.uid,
      plan_name: run.planName,
      exit_status: status,
      ...(run.reason ? { reason: run.reason } : {}),
      num_events: run.numEvents,
      ...(run.operator ? { operator: run.operator } : {}),
      ...beamtimeDb(run, mapping),
    },
    streams: streamsMetadata(run.streams),
  };
  if (run.source === "bluesky") {
    scientificMetadata.start = run.metadata;
    if (run.extra?.stop) scientificMetadata.stop = run.extra.stop;
  } else {
    scientificMetadata.metadata = run.metadata;
  }
  if (run.missingFiles?.length) scientificMetadata.missing_files = run.missingFiles;
  addQuantities(scientificMetadata, run);

  const payload: Record<string, unknown> = {
    pid: datasetPid(run, config),
    type: "raw",
    datasetName: text.datasetName,
    owner,
    contactEmail: email,
    ownerGroup: access.ownerGroup,
    accessGroups: access.accessGroups,
    principalInvestigators: [pi.name ?? owner],
    creationTime: isoFromSeconds(run.state === "complete" && run.timeStop !== undefined ? run.timeStop : run.timeStart),
    startTime: isoFromSeconds(run.timeStart),
    sourceFolder: scicatSourceFolder(run, mapping),
    creationLocation: mapping.creationLocation ?? `/${instrument}`,
    dataFormat: run.dataFormat,
    keywords: [...keywords],
    scientificMetadata,
    instrumentIds: [instrument],
  };
  // A registered proposal's members read its datasets: SciCat shares a record with people by e-mail only here.
  // Always stated for a registered proposal (none too), so a member taken out of the file is taken off.
  if (isRegistrationOf(beamtime, proposalId)) payload.sharedWith = registeredMemberEmails(beamtime, proposalId);
  if (researcher?.email) payload.ownerEmail = researcher.email;
  if (researcher?.orcid) payload.orcidOfOwner = researcher.orcid;
  if (run.state === "complete" && run.timeStop !== undefined) payload.endTime = isoFromSeconds(run.timeStop);
  if (proposalId) payload.proposalIds = [proposalId];
  if (sample) payload.sampleIds = [scicatSampleId(sample, config)];
  if (run.scanId !== undefined) payload.runNumber = String(run.scanId);
  if (mapping.sourceFolderHost) payload.sourceFolderHost = mapping.sourceFolderHost;
  if (text.description) payload.description = text.description;
  if (text.techniques.length > 0) payload.techniques = text.techniques;
  return payload;
}

/** Where the file every run of the beamtime shares lies (the DB with the run's scalar events); counted in no file list. */
function beamtimeDb(run: Run, mapping: Config["mapping"]): Record<string, string> {
  const shared = run.files.find((f) => f.shared);
  return shared ? { beamtime_db: publicPath(shared.path, mapping.sourceFolderRewrite) } : {};
}

/**
 * Quantities as top-level `scientificMetadata` keys, where SciCat adds `valueSI`/`unitSI` and its unit-aware
 * search looks (scicat-api.md §5.9): `{value, unit}` when the source states a unit, the bare value when not.
 * A name the mapping already uses (`run`, `streams`, …) gets `_value` added.
 */
function addQuantities(scientificMetadata: Record<string, unknown>, run: Run): void {
  for (const q of runQuantities(run)) {
    const name = q.name in scientificMetadata ? `${q.name}_value` : q.name;
    if (name in scientificMetadata) continue;
    scientificMetadata[name] = q.unit !== undefined ? { value: q.value, unit: q.unit } : q.value;
  }
}
