import type { Config } from "../../config/schema.js";
import type { Beamtime, Run, Sample, Snapshot } from "../../model/types.js";
import { indexSnapshot, isPushable, proposalIdFor, type MappingIndex } from "../common.js";
import { makeRecord, recordId, type DesiredRecord } from "../record.js";
import { attachmentRecord } from "./attachment.js";
import { datablockRecord } from "./datablocks.js";
import { datasetPayload, instrumentFor } from "./dataset.js";
import { isReferenceSample, proposalPayload, samplePayload, scicatSampleId } from "./proposal-sample.js";

/**
 * Model → SciCat records (pure). One Proposal per beamtime, the Instrument, one Sample per sample,
 * one raw Dataset per pushable run, and one `origdatablocks` record per dataset listing its files
 * (the adapter diffs it against the catalog and splits it into blocks).
 */
export function mapToScicat(snapshot: Snapshot, config: Config, index?: MappingIndex): DesiredRecord[] {
  const idx = index ?? indexSnapshot(snapshot.beamtimes, snapshot.samples);
  const out = new Map<string, DesiredRecord>();
  const add = (record: DesiredRecord) => {
    const id = recordId(record.destination, record.kind, record.key);
    // Two beamtimes may name the same proposal; the first (in key order) wins so the hash stays stable.
    if (!out.has(id)) out.set(id, record);
  };

  const beamtimes = [...snapshot.beamtimes].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const beamtime of beamtimes) add(proposalRecord(beamtime, config));
  for (const sample of snapshot.samples) add(sampleRecord(sample, idx, config));

  for (const run of snapshot.runs) {
    if (!isPushable(run, config.mapping)) continue;
    const beamtime = run.beamtimeKey ? idx.beamtimes.get(run.beamtimeKey) : undefined;
    const sample = run.sampleKey ? idx.samples.get(run.sampleKey) : undefined;
    const instrument = instrumentFor(run, config);
    add(
      makeRecord({
        destination: "scicat",
        kind: "instrument",
        key: instrument.uniqueName,
        sessionIdentifier: instrument.uniqueName,
        payload: { uniqueName: instrument.uniqueName, name: instrument.name },
        dependsOn: [],
      }),
    );
    const dataset = datasetRecord(run, beamtime, sample, instrument.uniqueName, config);
    add(dataset);
    const blocks = datablockRecord(run, dataset, config.files.checksum);
    if (blocks) add(blocks);
    const preview = attachmentRecord(run, dataset, blocks, config);
    if (preview) add(preview);
  }
  return [...out.values()];
}

function proposalRecord(beamtime: Beamtime, config: Config): DesiredRecord {
  const proposalId = proposalIdFor(beamtime, config.mapping);
  return makeRecord({
    destination: "scicat",
    kind: "proposal",
    key: proposalId,
    beamtimeKey: beamtime.key,
    sessionIdentifier: beamtime.key,
    payload: proposalPayload(beamtime, proposalId, config),
    dependsOn: [],
  });
}

function sampleRecord(sample: Sample, idx: MappingIndex, config: Config): DesiredRecord {
  // A reference sample belongs to no proposal (and so waits for none).
  const beamtime = isReferenceSample(sample, config) ? undefined : idx.beamtimes.get(sample.beamtimeKey);
  const proposalId = beamtime ? proposalIdFor(beamtime, config.mapping) : undefined;
  return makeRecord({
    destination: "scicat",
    kind: "sample",
    key: scicatSampleId(sample, config),
    beamtimeKey: sample.beamtimeKey,
    sessionIdentifier: sample.key,
    payload: samplePayload(sample, beamtime, proposalId, config),
    dependsOn: proposalId ? [recordId("scicat", "proposal", proposalId)] : [],
  });
}

function datasetRecord(run: Run, beamtime: Beamtime | undefined, sample: Sample | undefined, instrument: string, config: Config): DesiredRecord {
  const payload = datasetPayload(run, beamtime, sample, instrument, config);
  const dependsOn = [recordId("scicat", "instrument", instrument)];
  const proposalId = beamtime ? proposalIdFor(beamtime, config.mapping) : undefined;
  if (proposalId) dependsOn.push(recordId("scicat", "proposal", proposalId));
  if (sample) dependsOn.push(recordId("scicat", "sample", scicatSampleId(sample, config)));
  return makeRecord({
    destination: "scicat",
    kind: "dataset",
    key: String(payload.pid),
    runUid: run.uid,
    beamtimeKey: run.beamtimeKey,
    payload,
    dependsOn,
  });
}

export { datasetPid } from "./dataset.js";
