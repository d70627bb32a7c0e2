import { createHash } from "node:crypto";
import path from "node:path";
import type { Config } from "../../config/schema.js";
import type { Beamtime, Run, Sample, Snapshot } from "../../model/types.js";
import { indexSnapshot, isoFromMs, isoFromSeconds, isPushable, proposalIdFor, relativeFilePath, type MappingIndex } from "../common.js";
import { isRegistrationOf, proposalAccess, registeredAccess } from "../access.js";
import { datasetText, type DatasetText } from "../dataset-text.js";
import { makeRecord, recordId, type DesiredRecord } from "../record.js";
import { datasetParameters, sampleParameters } from "./parameters.js";
import { fitsColumn, fitTail, fitText } from "./text.js";
import {
  ICAT_LIMITS,
  type IcatDatafilePayload,
  type IcatDatasetPayload,
  type IcatInvestigationPayload,
  type IcatKind,
  type IcatSamplePayload,
  type InvestigationRef,
} from "./payloads.js";

/**
 * Model → ICAT records (pure; resonance-data.md §9, bluesky-documents.md §9.3):
 * one Investigation per beamtime, one Sample per sample (a registered specimen's with its SampleParameters),
 * one Dataset per pushable run (with its DatasetParameters and Datafiles). Records that cannot be placed are returned in `skipped`, never guessed:
 * an ICAT Dataset must belong to an Investigation, so a run without a known beamtime is skipped.
 */

export interface IcatSkip {
  kind: IcatKind;
  key: string;
  reason: string;
}

export interface IcatMapping {
  records: DesiredRecord[];
  skipped: IcatSkip[];
}

export function mapToIcat(snapshot: Snapshot, config: Config, index?: MappingIndex): DesiredRecord[] {
  return mapToIcatWithSkips(snapshot, config, index).records;
}

export function mapToIcatWithSkips(snapshot: Snapshot, config: Config, index?: MappingIndex): IcatMapping {
  const idx = index ?? indexSnapshot(snapshot.beamtimes, snapshot.samples);
  const names = icatSampleNames(idx.samples.values());
  const records = new Map<string, DesiredRecord>();
  const skipped: IcatSkip[] = [];
  const add = (record: DesiredRecord) => {
    const id = recordId(record.destination, record.kind, record.key);
    if (!records.has(id)) records.set(id, record);
  };

  for (const beamtime of byKey(snapshot.beamtimes, (b) => b.key)) add(investigationRecord(beamtime, config));

  for (const sample of byKey(snapshot.samples, (s) => s.key)) {
    const beamtime = idx.beamtimes.get(sample.beamtimeKey);
    if (!beamtime) {
      skipped.push({ kind: "sample", key: sample.key, reason: `beamtime ${sample.beamtimeKey} is unknown, so there is no ICAT investigation to put the sample in` });
      continue;
    }
    add(sampleRecord(sample, names, beamtime, config));
  }

  for (const run of byKey(snapshot.runs, (r) => r.uid)) {
    if (!isPushable(run, config.mapping)) continue;
    const beamtime = run.beamtimeKey ? idx.beamtimes.get(run.beamtimeKey) : undefined;
    if (!beamtime) {
      const why = run.beamtimeKey ? `beamtime ${run.beamtimeKey} is unknown` : "the run names no beamtime (proposal)";
      skipped.push({ kind: "dataset", key: run.uid, reason: `${why}; an ICAT dataset needs an investigation` });
      continue;
    }
    const sample = run.sampleKey ? idx.samples.get(run.sampleKey) : undefined;
    add(datasetRecord(run, beamtime, sample && sample.beamtimeKey === beamtime.key ? sample : undefined, names, config));
  }
  return { records: [...records.values()], skipped };
}

function byKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Free text cut to what the column stores on every database (text.ts). */
function truncate(text: string, length: number): string {
  return fitText(text, length);
}

/**
 * A unique key field that must fit ICAT's column on every database (bytes, no 4-byte characters): kept whole
 * when it fits, else a short hash of the whole value followed by its end (the distinctive part of a path), so
 * distinct values stay distinct.
 */
export function fitKey(text: string, length: number): string {
  if (fitsColumn(text, length)) return text;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 12);
  return `${hash}~${fitTail(text, length - hash.length - 1)}`;
}

/**
 * ICAT names a Sample uniquely within its investigation (it is looked up by investigation and name), so two
 * samples of one beamtime that share a name would become one ICAT Sample holding both samples' datasets. The
 * first of them (by local id) keeps the name; each other one gets its local id appended. A blank name falls back
 * to the sample's key. Samples are named from all the samples the mapping sees (a beamtime DB's are read
 * together).
 */
export function icatSampleNames(samples: Iterable<Sample>): Map<string, string> {
  const groups = new Map<string, { base: string; samples: Sample[] }>();
  for (const sample of samples) {
    // A registered specimen is named by its registered id: unique in its proposal and kept when its name is edited.
    const registered = typeof sample.extra.specimenId === "string" ? sample.extra.specimenId : undefined;
    const base = registered ?? (sample.name.trim().length > 0 ? sample.name : `sample ${sample.key}`);
    const key = `${sample.beamtimeKey}\u0000${base}`;
    const group = groups.get(key) ?? { base, samples: [] };
    group.samples.push(sample);
    groups.set(key, group);
  }
  const names = new Map<string, string>();
  for (const { base, samples: group } of groups.values()) {
    group.sort((a, b) => a.key.localeCompare(b.key, "en", { numeric: true }));
    group.forEach((sample, i) => names.set(sample.key, fitKey(i === 0 ? base : `${base} [${localId(sample.key)}]`, ICAT_LIMITS.name)));
  }
  return names;
}

/**
 * A location the server can store, or none: ICAT rejects a longer one (VALIDATION "cannot have length > 255"),
 * which would keep the whole dataset out of the catalog, and a cut path would point somewhere else. Longer in
 * bytes than the column (Oracle) or holding a 4-byte character (MySQL utf8) counts as too long.
 */
function fitLocation(location: string, length: number): { location?: string } {
  return fitsColumn(location, length) ? { location } : {};
}

/** `<db_path>#<id>` → `<id>`, `bluesky:<id>` → `<id>`. */
function localId(key: string): string {
  return key.slice(Math.max(key.lastIndexOf("#"), key.indexOf(":")) + 1) || key;
}

function sampleName(sample: Sample, names: ReadonlyMap<string, string>): string {
  return names.get(sample.key) ?? icatSampleNames([sample]).get(sample.key)!;
}

export function investigationRef(beamtime: Beamtime, config: Config): InvestigationRef {
  return { name: proposalIdFor(beamtime, config.mapping), visitId: beamtime.label };
}

export function investigationPayload(beamtime: Beamtime, config: Config): IcatInvestigationPayload {
  const description = beamtime.description?.trim();
  const title = description ? description : [beamtime.researcher.name, beamtime.label].filter(Boolean).join(" ");
  const ref = investigationRef(beamtime, config);
  const access = proposalAccess(ref.name, config.mapping, beamtime);
  const payload: IcatInvestigationPayload = { ...ref, title: truncate(title, ICAT_LIMITS.title), groups: { owner: access.ownerGroup, readers: access.accessGroups } };
  // A registered proposal always states its members (none too), so one removed from the file is unlinked.
  if (isRegistrationOf(beamtime, ref.name)) payload.members = registeredAccess(beamtime, ref.name).members;
  // A description too long for a title is kept whole (up to ICAT's limit) as the summary.
  if (description && payload.title !== description) payload.summary = truncate(description, ICAT_LIMITS.summary);
  if (beamtime.timeStart !== undefined) payload.startDate = isoFromSeconds(beamtime.timeStart);
  if (beamtime.timeStop !== undefined) payload.endDate = isoFromSeconds(beamtime.timeStop);
  return payload;
}

function investigationRecord(beamtime: Beamtime, config: Config): DesiredRecord {
  return makeRecord({
    destination: "icat",
    kind: "investigation",
    key: beamtime.key,
    beamtimeKey: beamtime.key,
    sessionIdentifier: beamtime.key,
    payload: { ...investigationPayload(beamtime, config) },
    dependsOn: [],
  });
}

function sampleRecord(sample: Sample, names: ReadonlyMap<string, string>, beamtime: Beamtime, config: Config): DesiredRecord {
  const payload: IcatSamplePayload = {
    investigationKey: beamtime.key,
    investigation: investigationRef(beamtime, config),
    name: sampleName(sample, names),
  };
  const parameters = sampleParameters(sample, config.destinations.icat.sampleParameters, config.destinations.icat.sampleMetadata);
  if (parameters.length > 0) payload.parameters = parameters;
  return makeRecord({
    destination: "icat",
    kind: "sample",
    key: sample.key,
    beamtimeKey: beamtime.key,
    sessionIdentifier: sample.key,
    payload: { ...payload },
    dependsOn: [recordId("icat", "investigation", beamtime.key)],
  });
}

/**
 * Datafiles named by their path relative to the dataset location (unique per dataset, as ICAT requires);
 * a file outside the location keeps its absolute path as name.
 */
export function datafilesFor(run: Run, locationLength: number): IcatDatafilePayload[] {
  const byName = new Map<string, IcatDatafilePayload>();
  for (const file of run.files) {
    const relative = relativeFilePath(run, file.path);
    const outside = relative === "" || relative === ".." || relative.startsWith("../") || path.isAbsolute(relative);
    const name = fitKey(outside ? file.path : relative, ICAT_LIMITS.name);
    if (byName.has(name)) continue;
    byName.set(name, { name, ...fitLocation(file.path, locationLength), fileSize: file.size, datafileModTime: isoFromMs(file.mtimeMs), ...(file.checksum ? { checksum: file.checksum } : {}) });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * ICAT's Dataset has one free-text field: its name is the run uid (the key beamsync finds it by), so the
 * description carries what SciCat shows as datasetName and description — "<name> — <description>", cut to fit.
 */
export function icatDatasetDescription(text: DatasetText): string {
  return truncate(text.description ? `${text.datasetName} — ${text.description}` : text.datasetName, ICAT_LIMITS.description);
}

export function datasetPayload(run: Run, beamtime: Beamtime, sample: Sample | undefined, config: Config, names: ReadonlyMap<string, string> = new Map()): IcatDatasetPayload {
  // The same name, description and techniques as the SciCat dataset (dataset-text.ts: defaults, then the rules).
  const text = datasetText(run, beamtime, sample, config);
  const payload: IcatDatasetPayload = {
    investigationKey: beamtime.key,
    investigation: investigationRef(beamtime, config),
    name: run.uid,
    description: icatDatasetDescription(text),
    ...fitLocation(run.sourceFolder, config.destinations.icat.locationLength),
    complete: run.state === "complete",
    startDate: isoFromSeconds(run.timeStart),
    parameters: datasetParameters(run, config.destinations.icat.parameters, config.destinations.icat.quantities),
    datafiles: datafilesFor(run, config.destinations.icat.locationLength),
  };
  if (sample) {
    payload.sampleKey = sample.key;
    payload.sampleName = sampleName(sample, names);
  }
  if (run.state === "complete" && run.timeStop !== undefined) payload.endDate = isoFromSeconds(run.timeStop);
  if (text.techniques.length > 0) payload.techniques = text.techniques.map((t) => ({ pid: t.pid, name: t.name }));
  return payload;
}

function datasetRecord(run: Run, beamtime: Beamtime, sample: Sample | undefined, names: ReadonlyMap<string, string>, config: Config): DesiredRecord {
  const payload = datasetPayload(run, beamtime, sample, config, names);
  const dependsOn = [recordId("icat", "investigation", beamtime.key)];
  if (payload.sampleKey) dependsOn.push(recordId("icat", "sample", payload.sampleKey));
  // A resonance beamtime DB is listed by every run and grows with each: its size and time must not make
  // earlier runs look changed (the adapter still sends the current values when it pushes).
  const hashBasis = {
    ...payload,
    datafiles: payload.datafiles.map((f) => (isSharedFile(run, f.location ?? f.name) ? { name: f.name, location: f.location } : f)),
  };
  return makeRecord(
    {
      destination: "icat",
      kind: "dataset",
      key: run.uid,
      runUid: run.uid,
      beamtimeKey: beamtime.key,
      sessionIdentifier: run.uid,
      payload: { ...payload },
      dependsOn,
    },
    hashBasis,
  );
}

function isSharedFile(run: Run, filePath: string): boolean {
  return run.source === "resonance" && filePath.endsWith(".db");
}
