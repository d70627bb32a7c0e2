import type { Config } from "../../config/schema.js";
import type { Beamtime, Sample } from "../../model/types.js";
import { isoFromSeconds, splitName } from "../common.js";

/** CreateProposalDto fields (scicat-api.md §5.1); only v4.x-known properties, since unknown ones are a 400. */
export function proposalPayload(beamtime: Beamtime, proposalId: string, config: Config): Record<string, unknown> {
  const researcher = beamtime.researcher;
  const email = researcher.email ?? config.mapping.defaultEmail;
  const { first, last } = splitName(researcher.name);
  const payload: Record<string, unknown> = {
    proposalId,
    ownerGroup: config.mapping.ownerGroup,
    accessGroups: config.mapping.accessGroups,
    email,
    title: beamtime.description ?? `${researcher.name} ${beamtime.label}`,
    pi_email: email,
    pi_lastname: last,
    metadata: { beamsync: { source: beamtime.source, beamtime: beamtime.key, label: beamtime.label } },
  };
  if (first) payload.pi_firstname = first;
  if (beamtime.timeStart !== undefined) payload.startTime = isoFromSeconds(beamtime.timeStart);
  if (beamtime.timeStop !== undefined) payload.endTime = isoFromSeconds(beamtime.timeStop);
  if (beamtime.timeStart !== undefined && beamtime.timeStop !== undefined) {
    payload.MeasurementPeriodList = [
      { instrument: config.mapping.instrument, start: isoFromSeconds(beamtime.timeStart), end: isoFromSeconds(beamtime.timeStop) },
    ];
  }
  return payload;
}

/**
 * A deterministic, URL-friendly sampleId: resonance keys (`jdoe/2026-03-05.db#3`) become `jdoe_2026-03-05.db_3`;
 * bluesky sample ids are used as they are.
 */
export function scicatSampleId(sample: Sample): string {
  if (sample.key.startsWith("bluesky:")) return sample.key.slice("bluesky:".length);
  return sample.key.replace(/[^A-Za-z0-9._-]+/g, "_");
}

export function samplePayload(sample: Sample, beamtime: Beamtime | undefined, proposalId: string | undefined, config: Config): Record<string, unknown> {
  const characteristics: Record<string, unknown> = { name: sample.name, tags: sample.tags, ...sample.extra };
  if (sample.formula !== undefined) characteristics.formula = sample.formula;
  if (sample.serial !== undefined) characteristics.serial = sample.serial;
  if (sample.beamlinePos !== undefined) characteristics.beamline_pos = sample.beamlinePos;
  const payload: Record<string, unknown> = {
    sampleId: scicatSampleId(sample),
    ownerGroup: config.mapping.ownerGroup,
    accessGroups: config.mapping.accessGroups,
    description: sample.name,
    sampleCharacteristics: characteristics,
  };
  if (beamtime) payload.owner = beamtime.researcher.name;
  if (proposalId) payload.proposalId = proposalId;
  return payload;
}
